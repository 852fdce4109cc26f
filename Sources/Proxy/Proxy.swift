/// The HAProxy-compatible load balancer.
///
/// This module grows with the proxy issues: configuration parsing, balancing, health checks, TCP and HTTP
/// forwarding and the stats page. What it already has is the version string the command prints.
public enum Proxy {
    /// The product version printed by `proxy -v`.
    public static let version = "0.1.0"
    /// The day this version was made, as the runtime API's `show info` gives HAProxy's release date.
    public static let releaseDate = "2026/12/06"
}
