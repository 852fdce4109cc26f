import LogCore

/// A syslog timestamp as rsyslog keeps it: calendar fields, a fraction with its own precision, and a UTC offset.
///
/// The precision matters: `date-rfc3339` prints exactly as many fraction digits as the sender gave (none, `.003`,
/// `.000003`), and 6 for times rsyslog stamps itself. A BSD timestamp carries no year and no zone; the parser fills
/// them from the reception time, as rsyslog does.
public struct SyslogTimestamp: Hashable, Sendable {
    /// The sign of a UTC offset, or `Z`. `-00:00` and `+00:00` are different texts, so the sign is kept as given.
    public enum OffsetSign: UInt8, Hashable, Sendable {
        case plus = 0x2B
        case minus = 0x2D
        case zulu = 0x5A
    }

    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// The fraction's digits read as a number: `.003` is 3 with precision 3.
    public var fraction: Int
    /// How many fraction digits to print; 0 prints none.
    public var fractionDigits: Int
    public var offsetSign: OffsetSign
    public var offsetHours: Int
    public var offsetMinutes: Int

    public init(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int,
        fraction: Int = 0, fractionDigits: Int = 0,
        offsetSign: OffsetSign = .plus, offsetHours: Int = 0, offsetMinutes: Int = 0
    ) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.fraction = fraction
        self.fractionDigits = fractionDigits
        self.offsetSign = offsetSign
        self.offsetHours = offsetHours
        self.offsetMinutes = offsetMinutes
    }

    /// A time stamped locally (reception time, a sender's clock): microsecond precision and a numeric offset.
    public init(_ time: CivilTime) {
        let offset = time.utcOffsetSeconds
        let magnitude = abs(offset) / 60
        self.init(
            year: time.year, month: time.month, day: time.day, hour: time.hour, minute: time.minute,
            second: time.second, fraction: time.microsecond, fractionDigits: 6,
            offsetSign: offset < 0 ? .minus : .plus, offsetHours: magnitude / 60, offsetMinutes: magnitude % 60)
    }

    /// The current local time, as rsyslog stamps a message on reception.
    public static func now() -> SyslogTimestamp { SyslogTimestamp(CivilTime.now()) }

    /// The same instant in UTC, as rsyslog's `date.inUTC` prints it: six fraction digits holding the fraction's
    /// number as it was written (`.123` prints `.000123`: rsyslog's quirk, kept).
    public var inUTC: SyslogTimestamp {
        var utc = SyslogTimestamp(civilTime.converted(toUTCOffset: 0))
        utc.fraction = fraction
        utc.fractionDigits = 6
        return utc
    }

    /// The offset east of UTC in seconds (`Z` and `-00:00` are 0).
    public var utcOffsetSeconds: Int {
        let seconds = (offsetHours * 60 + offsetMinutes) * 60
        return offsetSign == .minus ? -seconds : seconds
    }

    /// This instant as a `CivilTime` (the fraction cut or padded to microseconds).
    public var civilTime: CivilTime {
        var micros = fraction
        if fractionDigits < 6 {
            for _ in fractionDigits..<6 { micros *= 10 }
        } else {
            for _ in 6..<fractionDigits { micros /= 10 }
        }
        return CivilTime(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second,
            microsecond: micros, utcOffsetSeconds: utcOffsetSeconds)
    }

    /// Appends the RFC 3164 form `Mmm dd hh:mm:ss` (day padded with a space), rsyslog's `%TIMESTAMP%`. It is
    /// also HAProxy's legacy header stamp (`"%s %2d %02d:%02d:%02d"`).
    public func appendRFC3164(to out: inout [UInt8]) {
        appendRFC3164(to: &out, zeroPaddedDay: false)
    }

    /// Appends rsyslog's `date-rfc3164-buggyday` form: like RFC 3164 but the day is zero-padded.
    public func appendRFC3164BuggyDay(to out: inout [UInt8]) {
        appendRFC3164(to: &out, zeroPaddedDay: true)
    }

    private func appendRFC3164(to out: inout [UInt8], zeroPaddedDay: Bool) {
        out.appendMonthAbbreviation(month)
        out.append(0x20)
        if zeroPaddedDay {
            out.appendDecimal(day, width: 2)
        } else {
            out.appendSpacePadded2(day)
        }
        out.append(0x20)
        out.appendClock(hour: hour, minute: minute, second: second)
    }

    /// Appends the RFC 3339 form rsyslog's `date-rfc3339` prints: `2026-11-26T08:51:08.123+01:00` or `…Z`.
    public func appendRFC3339(to out: inout [UInt8]) {
        out.appendDecimal(year, width: 4)
        out.append(0x2D)
        out.appendDecimal(month, width: 2)
        out.append(0x2D)
        out.appendDecimal(day, width: 2)
        out.append(0x54)
        out.appendClock(hour: hour, minute: minute, second: second)
        if fractionDigits > 0 {
            out.append(0x2E)
            out.appendDecimal(fraction, width: fractionDigits)
        }
        switch offsetSign {
        case .zulu:
            out.append(0x5A)
        case .plus, .minus:
            out.append(offsetSign.rawValue)
            out.appendDecimal(offsetHours, width: 2)
            out.append(0x3A)
            out.appendDecimal(offsetMinutes, width: 2)
        }
    }

    /// The RFC 3164 text.
    public var rfc3164: String {
        var out: [UInt8] = []
        appendRFC3164(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The RFC 3339 text.
    public var rfc3339: String {
        var out: [UInt8] = []
        appendRFC3339(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
