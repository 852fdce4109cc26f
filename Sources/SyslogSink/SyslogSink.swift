import CSystemd

/// The rsyslog-compatible receiver.
///
/// This module grows with the sink issues: rsyslog.conf, inputs, rulesets and actions. What it already has is
/// the link to libsystemd, which later issues use for the journald action and `sd_notify`.
public enum SyslogSink {
    /// The product version printed by `syslog-sink --version`.
    public static let version = "0.1.0"

    /// Whether the machine runs systemd as its init (libsystemd's `sd_booted`): where journald and
    /// `sd_notify` can be expected.
    public static var bootedWithSystemd: Bool {
        sd_booted() > 0
    }
}
