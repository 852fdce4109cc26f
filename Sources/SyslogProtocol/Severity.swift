/// A syslog severity (level): the low three bits of PRI. Lower numbers are more severe.
public enum Severity: UInt8, CaseIterable, Hashable, Sendable, Comparable, CustomStringConvertible {
    case emergency = 0
    case alert = 1
    case critical = 2
    case error = 3
    case warning = 4
    case notice = 5
    case informational = 6
    case debug = 7

    /// The name rsyslog prints for `%syslogseverity-text%` and HAProxy uses in `log` (`emerg` … `debug`).
    public var name: String {
        switch self {
        case .emergency: "emerg"
        case .alert: "alert"
        case .critical: "crit"
        case .error: "err"
        case .warning: "warning"
        case .notice: "notice"
        case .informational: "info"
        case .debug: "debug"
        }
    }

    public var description: String { name }

    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

    /// The severity a name denotes, case-insensitively, with rsyslog's deprecated aliases
    /// (`panic` = emerg, `error` = err, `warn` = warning).
    public init?(name: some StringProtocol) {
        switch name.lowercased() {
        case "emerg", "panic": self = .emergency
        case "alert": self = .alert
        case "crit": self = .critical
        case "err", "error": self = .error
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info": self = .informational
        case "debug": self = .debug
        default: return nil
        }
    }
}
