import LogCore

/// What is known about an input file while it is scanned.
public struct FileContext: Sendable {
    public var path: String
    /// The file's modification time (local), or now for a stream: the year of traditional syslog stamps.
    public var modified: CivilTime

    public init(path: String, modified: CivilTime) {
        self.path = path
        self.modified = modified
    }
}

/// The time of a stored line's syslog stamp.
public enum StoredTime {
    /// `Nov 26 08:51:03` (no year: the year of the file's last change, or the one before when that date would
    /// lie after it, as for a December line in a file rotated in January) or an RFC 3339 stamp (its own date,
    /// its wall-clock time).
    public static func wallTime(_ stamp: some Collection<UInt8>, reference: CivilTime) -> WallTime? {
        let b = Array(stamp)
        func two(_ i: Int) -> Int? {
            guard i + 1 < b.count, ASCII.isDigit(b[i]), ASCII.isDigit(b[i + 1]) else { return nil }
            return Int(b[i] - 0x30) * 10 + Int(b[i + 1] - 0x30)
        }
        if b.count == 15, let month = CivilTime.month(b[0], b[1], b[2]) {
            let dayText = b[4] == 0x20 ? [0x30, b[5]] : [b[4], b[5]]
            guard ASCII.isDigit(dayText[0]), ASCII.isDigit(dayText[1]), let h = two(7), let m = two(10),
                let s = two(13)
            else { return nil }
            let day = Int(dayText[0] - 0x30) * 10 + Int(dayText[1] - 0x30)
            var year = reference.year
            if (month, day) > (reference.month, reference.day) { year -= 1 }
            return WallTime(CivilTime(year: year, month: month, day: day, hour: h, minute: m, second: s))
        }
        // RFC 3339: 2026-11-26T08:51:03[.frac](Z|±hh:mm)
        guard b.count >= 19, let c = two(0), let y = two(2), b[4] == 0x2D, let mo = two(5), b[7] == 0x2D,
            let d = two(8), b[10] == 0x54, let h = two(11), let mi = two(14), let s = two(17)
        else { return nil }
        var ms = 0
        if b.count > 20 && b[19] == 0x2E, let frac = two(20) {
            ms = frac * 10 + (b.count > 22 && ASCII.isDigit(b[22]) ? Int(b[22] - 0x30) : 0)
        }
        return WallTime(
            CivilTime(year: c * 100 + y, month: mo, day: d, hour: h, minute: mi, second: s, microsecond: ms * 1000))
    }
}
