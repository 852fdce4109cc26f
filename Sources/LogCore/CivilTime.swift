import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A wall-clock time as logs print it: calendar fields in some zone, a sub-second part and that zone's offset.
///
/// Syslog headers, rsyslog's file templates and HAProxy's `[%t]` all print broken-down local time; this one type
/// carries it so that the month table, the calendar arithmetic and the local-zone lookup exist once.
public struct CivilTime: Hashable, Sendable {
    public var year: Int
    /// 1...12
    public var month: Int
    /// 1...31
    public var day: Int
    public var hour: Int
    public var minute: Int
    /// 0...60 (a leap second is representable, as RFC 3339 allows).
    public var second: Int
    /// Microseconds within the second, 0...999_999.
    public var microsecond: Int
    /// The zone's offset from UTC in seconds, east positive.
    public var utcOffsetSeconds: Int

    public init(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int,
        microsecond: Int = 0, utcOffsetSeconds: Int = 0
    ) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.microsecond = microsecond
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// The same second of the same day in the same zone (the fraction aside).
    @inlinable
    public func isSameSecond(as other: CivilTime) -> Bool {
        second == other.second && minute == other.minute && hour == other.hour && day == other.day
            && month == other.month && year == other.year && utcOffsetSeconds == other.utcOffsetSeconds
    }

    /// The time at `epochMicroseconds` in a zone `utcOffsetSeconds` east of UTC.
    public init(epochMicroseconds: Int64, utcOffsetSeconds: Int) {
        let local = epochMicroseconds + Int64(utcOffsetSeconds) * 1_000_000
        var seconds = local / 1_000_000
        var micros = local % 1_000_000
        if micros < 0 {
            micros += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (y, m, d) = CivilTime.civil(fromDays: days)
        self.init(
            year: y, month: m, day: d,
            hour: Int(secondOfDay / 3600), minute: Int(secondOfDay % 3600 / 60), second: Int(secondOfDay % 60),
            microsecond: Int(micros), utcOffsetSeconds: utcOffsetSeconds)
    }

    /// Microseconds since the Unix epoch of this instant (its fields read in its own zone).
    public var epochMicroseconds: Int64 {
        let days = CivilTime.days(fromCivil: year, month, day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(utcOffsetSeconds)
        return seconds * 1_000_000 + Int64(microsecond)
    }

    /// The same instant, shown in another zone.
    public func converted(toUTCOffset offset: Int) -> CivilTime {
        CivilTime(epochMicroseconds: epochMicroseconds, utcOffsetSeconds: offset)
    }

    /// The current time in the process's local zone (TZ, /etc/localtime), to the microsecond.
    public static func now() -> CivilTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let micros = Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec / 1000)
        return CivilTime(epochMicroseconds: micros, utcOffsetSeconds: localUTCOffset(atEpochSeconds: Int(spec.tv_sec)))
    }

    /// The local zone's offset from UTC at an instant, as the C library computes it for `localtime_r`. The last
    /// second asked for is remembered with its offset (the proxy and the sink ask for the current second many
    /// times a second; `localtime_r` takes a lock and walks the zone's rules each time).
    public static func localUTCOffset(atEpochSeconds seconds: Int) -> Int {
        let remembered = lastOffset.load(ordering: .relaxed)
        if seconds >= 0, remembered != 0, Int(remembered >> 18) == seconds {
            return Int(remembered & 0x3_FFFF) - 131_072
        }
        var t = time_t(seconds)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return 0 }
        let offset = Int(parts.tm_gmtoff)
        // Seconds in the upper bits, the offset (within ±36 h) shifted to be positive in the lower 18.
        if seconds >= 0, seconds < 1 << 45, abs(offset) < 131_072 {
            lastOffset.store(UInt64(seconds) << 18 | UInt64(offset + 131_072), ordering: .relaxed)
        }
        return offset
    }

    private static let lastOffset = Atomic<UInt64>(0)

    /// The three ASCII bytes of a month's abbreviation (month 1...12).
    @inlinable
    public static func monthBytes(_ month: Int) -> (UInt8, UInt8, UInt8) {
        switch month {
        case 1: return (0x4A, 0x61, 0x6E)  // Jan
        case 2: return (0x46, 0x65, 0x62)  // Feb
        case 3: return (0x4D, 0x61, 0x72)  // Mar
        case 4: return (0x41, 0x70, 0x72)  // Apr
        case 5: return (0x4D, 0x61, 0x79)  // May
        case 6: return (0x4A, 0x75, 0x6E)  // Jun
        case 7: return (0x4A, 0x75, 0x6C)  // Jul
        case 8: return (0x41, 0x75, 0x67)  // Aug
        case 9: return (0x53, 0x65, 0x70)  // Sep
        case 10: return (0x4F, 0x63, 0x74)  // Oct
        case 11: return (0x4E, 0x6F, 0x76)  // Nov
        default: return (0x44, 0x65, 0x63)  // Dec
        }
    }

    /// The month (1...12) named by three bytes, compared without regard to ASCII case; nil if none.
    @inlinable
    public static func month(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        // Folding to lower case with | 0x20 is exact for letters and maps no non-letter onto a letter we test.
        switch (a | 0x20, b | 0x20, c | 0x20) {
        case (0x6A, 0x61, 0x6E): return 1
        case (0x66, 0x65, 0x62): return 2
        case (0x6D, 0x61, 0x72): return 3
        case (0x61, 0x70, 0x72): return 4
        case (0x6D, 0x61, 0x79): return 5
        case (0x6A, 0x75, 0x6E): return 6
        case (0x6A, 0x75, 0x6C): return 7
        case (0x61, 0x75, 0x67): return 8
        case (0x73, 0x65, 0x70): return 9
        case (0x6F, 0x63, 0x74): return 10
        case (0x6E, 0x6F, 0x76): return 11
        case (0x64, 0x65, 0x63): return 12
        default: return nil
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    @inlinable
    public static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01.
    @inlinable
    public static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }
}
