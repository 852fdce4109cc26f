import CSystemd

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The service manager's notification protocol (sd_notify) for a `Type=notify` unit: `READY=1` once listening,
/// `RELOADING=1` … `READY=1` around a reload, `STOPPING=1`, `STATUS=` lines for `systemctl status`, and
/// `WATCHDOG=1` when the unit sets `WatchdogSec=`. Does nothing when `NOTIFY_SOCKET` is not set (run by hand,
/// in tests, by another supervisor).
public enum ServiceNotifier {
    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    public static var isSupervised: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// Sends one notification (`KEY=value` lines); true when it was delivered.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        guard isSupervised else { return false }
        return sd_notify(0, state) > 0
    }

    public static func ready(status: String? = nil) {
        notify("READY=1" + (status.map { "\nSTATUS=" + $0 } ?? ""))
    }

    /// Before a reload (SIGHUP): the manager shows the unit as reloading until the next `ready`.
    public static func reloading() { notify("RELOADING=1") }

    public static func stopping() { notify("STOPPING=1") }

    public static func status(_ text: String) { notify("STATUS=" + text) }

    /// The watchdog interval the unit asks for (`WatchdogSec=`), in microseconds; nil when none.
    public static var watchdogInterval: UInt64? {
        var usec: UInt64 = 0
        guard isSupervised, sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return usec
    }

    /// "I am alive": to be sent at least every half `watchdogInterval` by the loop that does the work, so that a
    /// stuck loop stops the pings and the manager restarts the service.
    public static func watchdog() { notify("WATCHDOG=1") }
}
