/// The PRI of a syslog message: a facility and a severity, `<facility * 8 + severity>` on the wire.
public struct Priority: Hashable, Sendable, CustomStringConvertible {
    public var facility: Facility
    public var severity: Severity

    public init(facility: Facility, severity: Severity) {
        self.facility = facility
        self.severity = severity
    }

    /// The priority of a PRI value 0...191; nil for anything larger.
    public init?(value: Int) {
        guard (0...191).contains(value), let facility = Facility(rawValue: UInt8(value >> 3)),
            let severity = Severity(rawValue: UInt8(value & 7))
        else { return nil }
        self.init(facility: facility, severity: severity)
    }

    /// `facility * 8 + severity` (rsyslog's invalid-PRI marker gives 199, as its `%PRI%` prints it).
    public var value: Int { Int(facility.rawValue) * 8 + Int(severity.rawValue) }

    /// rsyslog's `%pri-text%`: `local0.info`.
    public var text: String { "\(facility.rsyslogName).\(severity.name)" }

    public var description: String { text }

    /// What rsyslog assigns to a message that has no PRI at all.
    public static let missing = Priority(facility: .user, severity: .notice)
    /// What rsyslog assigns to a message whose PRI is present but invalid.
    public static let invalid = Priority(facility: .invalid, severity: .debug)
}
