/// The query engine over stored HAProxy logs: reading (files, stdin, both cores), filters, aggregations and
/// renderers, and a halog-compatible mode.
public enum LogQuery {
    /// The product version printed by `logquery --version`.
    public static let version = "0.1.0"
}
