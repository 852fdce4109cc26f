import SyslogProtocol

/// A traditional selector (`local0.*`, `*.info;mail.none`, `mail,news.=info`, `*.*;auth,authpriv.none`) with
/// rsyslog's exact semantics: one 8-bit mask per facility, selectors applied left to right, later ones
/// overwriting; `.pri` is that severity and everything more severe, `.=pri` only it, `.!pri` and `.!=pri` clear
/// those bits, `*` and `none` set or clear all. As in rsyslog 8.2302, a negation on an empty mask leaves it empty
/// (a standalone `local4.!=debug` matches nothing), and the priority is read after the *first* dot, so
/// `mail.crit,*.err` is `mail.crit` plus `*.err`.
public struct PriorityFilter: Hashable, Sendable, CustomStringConvertible {
    /// Indexed by facility 0...24 (24: messages whose PRI was invalid, matched only by `*`).
    public private(set) var masks: [UInt8]
    public let description: String

    /// Why a selector could not be read (rsyslog's own words).
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(_ text: String) throws {
        description = text
        masks = [UInt8](repeating: 0, count: 25)
        let b = Array(text.utf8)
        func isAny(_ c: UInt8, _ set: String) -> Bool { set.utf8.contains(c) }
        var p = 0
        while p < b.count && !isAny(b[p], "\t ") {
            // The facility list runs to the first '.'; the priority follows it.
            var q = p
            while q < b.count && b[q] != 0x09 {
                let c = b[q]
                q += 1
                if c == 0x2E { break }
            }
            var name: [UInt8] = []
            while q < b.count && !isAny(b[q], "\t ,;") {
                name.append(b[q])
                q += 1
            }
            while q < b.count && isAny(b[q], ",;") { q += 1 }
            var negate = false
            var single = false
            if name.first == 0x21 {
                negate = true
                name.removeFirst()
            }
            if name.first == 0x3D {
                single = true
                name.removeFirst()
            }
            let priorityName = String(decoding: name, as: UTF8.self)
            let priority: Priority
            switch priorityName.lowercased() {
            case "*": priority = .all
            case "none": priority = .none
            default:
                if let n = Int(priorityName), (0...7).contains(n) {
                    priority = .level(n)
                } else if let s = Severity(name: priorityName) {
                    priority = .level(Int(s.rawValue))
                } else {
                    throw Error(description: "unknown priority name \"\(priorityName)\"")
                }
            }
            // The facilities: names separated by ',' up to the '.'.
            while p < b.count && !isAny(b[p], "\t .;") {
                var facility: [UInt8] = []
                while p < b.count && !isAny(b[p], "\t ,;.") {
                    facility.append(b[p])
                    p += 1
                }
                let facilityName = String(decoding: facility, as: UTF8.self)
                let indices: [Int]
                if facilityName == "*" {
                    indices = Array(0...24)
                } else if let f = Facility(selectorName: facilityName) {
                    indices = [Int(f.rawValue)]
                } else {
                    throw Error(description: "unknown facility name \"\(facilityName)\"")
                }
                for i in indices { apply(priority, single: single, negate: negate, to: &masks[i]) }
                while p < b.count && (b[p] == 0x2C || b[p] == 0x20) { p += 1 }
            }
            p = q
        }
    }

    private enum Priority {
        case all, none
        case level(Int)
    }

    private func apply(_ priority: Priority, single: Bool, negate: Bool, to mask: inout UInt8) {
        switch priority {
        case .none:
            mask = negate ? 0xFF : 0
        case .all where !single:
            mask = negate ? 0 : 0xFF
        case .all:
            // `.=*` is not something rsyslog users write; treat it as `*`.
            mask = negate ? 0 : 0xFF
        case .level(let n):
            let bits: UInt8 = single ? 1 << UInt8(n) : UInt8(truncatingIfNeeded: (1 << (n + 1)) - 1)
            if negate { mask &= ~bits } else { mask |= bits }
        }
    }

    /// Whether a message of this priority passes the selector.
    public func matches(_ priority: SyslogProtocol.Priority) -> Bool {
        masks[Int(priority.facility.rawValue)] & (1 << priority.severity.rawValue) != 0
    }
}
