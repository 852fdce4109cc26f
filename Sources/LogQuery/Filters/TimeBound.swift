import LogCore

/// A wall-clock instant in the logs' own terms: HAProxy stamps lines in its local time without an offset, so
/// times are compared as local wall-clock milliseconds (days since 1970 × 86400000 + time of day).
public struct WallTime: Hashable, Comparable, Sendable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public init(_ t: CivilTime) {
        milliseconds =
            (CivilTime.days(fromCivil: t.year, t.month, t.day) * 86_400
                + Int64(t.hour * 3600 + t.minute * 60 + t.second)) * 1000 + Int64(t.microsecond / 1000)
    }

    public static func < (a: WallTime, b: WallTime) -> Bool { a.milliseconds < b.milliseconds }

    /// The local wall-clock time now.
    public static func now() -> WallTime { WallTime(CivilTime.now()) }

    /// `2026-11-26 08:51:02` (to the second, or the millisecond when it has some).
    public var text: String {
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let rest = milliseconds - days * 86_400_000
        let (y, m, d) = CivilTime.civil(fromDays: days)
        let seconds = Int(rest / 1000)
        var out: [UInt8] = []
        out.appendDecimal(y, width: 4)
        out.append(0x2D)
        out.appendDecimal(m, width: 2)
        out.append(0x2D)
        out.appendDecimal(d, width: 2)
        out.append(0x20)
        out.appendClock(hour: seconds / 3600, minute: seconds / 60 % 60, second: seconds % 60)
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads `--since`/`--until` values: `2026-11-26`, `2026-11-26T08:00[:00]`, `2026-11-26 08:00[:00]`,
    /// `08:00[:00]` (today), `today`, `yesterday`, or a time ago: `-1h`, `-30m`, `-2d`, `-90s`.
    public static func parse(_ text: String, now: WallTime = .now()) -> WallTime? {
        let day: Int64 = 86_400_000
        let today = now.milliseconds - ((now.milliseconds % day) + day) % day
        switch text {
        case "today": return WallTime(milliseconds: today)
        case "yesterday": return WallTime(milliseconds: today - day)
        case "now": return now
        default: break
        }
        if text.hasPrefix("-") {
            let units: [(Character, Int64)] = [("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", day)]
            guard let unit = text.last, let factor = units.first(where: { $0.0 == unit })?.1,
                let n = Int64(text.dropFirst().dropLast()), n >= 0
            else { return nil }
            return WallTime(milliseconds: now.milliseconds - n * factor)
        }
        let parts = text.split(whereSeparator: { $0 == "T" || $0 == " " })
        var date: (Int, Int, Int)?
        var clock: Substring?
        if parts.count == 2 {
            clock = parts[1]
            date = ymd(parts[0])
        } else if parts.count == 1 {
            if parts[0].contains(":") {
                clock = parts[0]
            } else {
                date = ymd(parts[0])
            }
        }
        guard (1...2).contains(parts.count), date != nil || clock != nil else { return nil }
        var base = today
        if let date { base = CivilTime.days(fromCivil: date.0, date.1, date.2) * day }
        guard let clock else { return WallTime(milliseconds: base) }
        let hms = clock.split(separator: ":").map { Int($0) }
        guard (2...3).contains(hms.count), hms.allSatisfy({ $0 != nil }), let h = hms[0], let m = hms[1],
            (0...23).contains(h), (0...59).contains(m)
        else { return nil }
        let s = hms.count == 3 ? (hms[2] ?? 0) : 0
        guard (0...60).contains(s) else { return nil }
        return WallTime(milliseconds: base + Int64(h * 3600 + m * 60 + s) * 1000)
    }

    private static func ymd(_ text: Substring) -> (Int, Int, Int)? {
        let p = text.split(separator: "-").map { Int($0) }
        guard p.count == 3, let y = p[0], let m = p[1], let d = p[2], (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        return (y, m, d)
    }
}
