import CSystemd

/// The rsyslog-compatible receiver.
///
/// rsyslog.conf (Configuration/), inputs (Inputs/), the rules (Ruleset/) and the actions (Actions/: files,
/// dynaFiles, forwarding, journald through libsystemd).
public enum SyslogSink {
    /// The product version printed by `syslog-sink --version`.
    public static let version = "0.1.0"

    /// Whether the machine runs systemd as its init (libsystemd's `sd_booted`): where journald and
    /// `sd_notify` can be expected.
    public static var bootedWithSystemd: Bool {
        sd_booted() > 0
    }
}
