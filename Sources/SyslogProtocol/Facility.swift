/// A syslog facility: the `facility` of `PRI = facility * 8 + severity`.
///
/// Numbers 0...23 are the wire values. 24 (`invld`) is rsyslog's internal facility for a message whose PRI could
/// not be read; it never appears on the wire.
public struct Facility: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt8

    public init?(rawValue: UInt8) {
        guard rawValue <= 24 else { return nil }
        self.rawValue = rawValue
    }

    @usableFromInline
    init(unchecked rawValue: UInt8) { self.rawValue = rawValue }

    public static let kern = Facility(unchecked: 0)
    public static let user = Facility(unchecked: 1)
    public static let mail = Facility(unchecked: 2)
    public static let daemon = Facility(unchecked: 3)
    public static let auth = Facility(unchecked: 4)
    public static let syslog = Facility(unchecked: 5)
    public static let lpr = Facility(unchecked: 6)
    public static let news = Facility(unchecked: 7)
    public static let uucp = Facility(unchecked: 8)
    public static let cron = Facility(unchecked: 9)
    public static let authpriv = Facility(unchecked: 10)
    public static let ftp = Facility(unchecked: 11)
    public static let ntp = Facility(unchecked: 12)
    public static let audit = Facility(unchecked: 13)
    public static let alert = Facility(unchecked: 14)
    public static let clock = Facility(unchecked: 15)
    public static let local0 = Facility(unchecked: 16)
    public static let local1 = Facility(unchecked: 17)
    public static let local2 = Facility(unchecked: 18)
    public static let local3 = Facility(unchecked: 19)
    public static let local4 = Facility(unchecked: 20)
    public static let local5 = Facility(unchecked: 21)
    public static let local6 = Facility(unchecked: 22)
    public static let local7 = Facility(unchecked: 23)
    /// rsyslog's facility for a message whose PRI was present but invalid.
    public static let invalid = Facility(unchecked: 24)

    /// The wire facilities 0...23.
    public static let allOnWire: [Facility] = (0...23).map { Facility(unchecked: $0) }

    /// The name rsyslog prints for `%syslogfacility-text%`.
    public var rsyslogName: String {
        Facility.rsyslogNames[Int(rawValue)]
    }

    /// The name HAProxy uses in its `log` directive (`auth2` for 10, `cron2` for 15).
    public var haproxyName: String? {
        rawValue < 24 ? Facility.haproxyNames[Int(rawValue)] : nil
    }

    public var description: String { rsyslogName }

    public static func < (a: Facility, b: Facility) -> Bool { a.rawValue < b.rawValue }

    private static let rsyslogNames = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
        "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        "invld",
    ]

    private static let haproxyNames = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
        "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]

    /// The facility an rsyslog selector names, case-insensitively, as rsyslog on Linux accepts it.
    ///
    /// `security` is the deprecated alias of `auth`, `console` is 14. `audit` is refused (glibc has no LOG_AUDIT,
    /// so rsyslog reports an unknown facility), and numbers are refused (they do not lex in rsyslog 8).
    public init?(selectorName name: some StringProtocol) {
        switch name.lowercased() {
        case "kern": self = .kern
        case "user": self = .user
        case "mail": self = .mail
        case "daemon": self = .daemon
        case "auth", "security": self = .auth
        case "syslog": self = .syslog
        case "lpr": self = .lpr
        case "news": self = .news
        case "uucp": self = .uucp
        case "cron": self = .cron
        case "authpriv": self = .authpriv
        case "ftp": self = .ftp
        case "ntp": self = .ntp
        case "console": self = .alert
        case let n where n.count == 6 && n.hasPrefix("local"):
            guard let digit = n.last?.wholeNumberValue, digit <= 7 else { return nil }
            self = Facility(unchecked: 16 + UInt8(digit))
        default: return nil
        }
    }

    /// The facility HAProxy's `log` directive names (its own table, in its order).
    public init?(haproxyName name: some StringProtocol) {
        guard let index = Facility.haproxyNames.firstIndex(of: String(name)) else { return nil }
        self = Facility(unchecked: UInt8(index))
    }
}
