import CSystemd

/// The rsyslog-compatible receiver.
///
/// This module grows with the sink issues: rsyslog.conf, inputs, rulesets and actions. What it already has is
/// the link to libsystemd, which later issues use for the journald action and `sd_notify`.
public enum SyslogSink {
    /// The product version printed by `syslog-sink --version`.
    public static let version = "0.1.0"

    /// Whether the process was started by a service manager that listens for readiness notifications.
    public static var isUnderServiceManager: Bool {
        // sd_notify returns 0 when NOTIFY_SOCKET is unset: nothing was sent, nobody is listening.
        sd_notify(0, "") > 0
    }
}
