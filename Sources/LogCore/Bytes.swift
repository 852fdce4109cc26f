/// Appending text to byte buffers without going through `String`: the formatters of every hot path use these.
extension Array where Element == UInt8 {
    /// Appends the decimal digits of `value` (with a leading `-` when negative).
    @inlinable
    public mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(0x2D)
            // -Int.min overflows; print its magnitude through UInt.
            appendDecimal(UInt64(bitPattern: Int64(value)).twosComplementMagnitude)
        } else {
            appendDecimal(UInt64(value))
        }
    }

    /// Appends the decimal digits of `value`.
    @inlinable
    public mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            append(0x30 &+ UInt8(truncatingIfNeeded: value))
            return
        }
        appendDigits(value, width: 0)
    }

    /// Appends `value` zero-padded to `width` digits (wider values are printed whole).
    @inlinable
    public mutating func appendDecimal(_ value: Int, width: Int) {
        if value < 0 {
            append(0x2D)
            appendDigits(UInt64(bitPattern: Int64(value)).twosComplementMagnitude, width: width)
        } else {
            appendDigits(UInt64(value), width: width)
        }
    }

    /// The digits of `value`, zero-padded to `width`. These run a dozen times for every log line: up to four
    /// digits (timers, ports, counts, dates) are appended one by one, longer numbers are made on the stack and
    /// appended in one piece.
    @inlinable
    internal mutating func appendDigits(_ value: UInt64, width: Int) {
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && value >= limit {
            digits += 1
            limit = limit &* 10
        }
        var padding = width - digits
        while padding > 0 {
            append(0x30)
            padding -= 1
        }
        if digits <= 4 {
            let v = Int(truncatingIfNeeded: value)
            if digits >= 4 { append(0x30 &+ UInt8(truncatingIfNeeded: v / 1000)) }
            if digits >= 3 { append(0x30 &+ UInt8(truncatingIfNeeded: v / 100 % 10)) }
            if digits >= 2 { append(0x30 &+ UInt8(truncatingIfNeeded: v / 10 % 10)) }
            append(0x30 &+ UInt8(truncatingIfNeeded: v % 10))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { space in
            var i = 20
            var v = value
            repeat {
                i -= 1
                space.initializeElement(at: i, to: 0x30 &+ UInt8(truncatingIfNeeded: v % 10))
                v /= 10
            } while v > 0
            append(contentsOf: UnsafeBufferPointer(rebasing: space[i...]))
        }
    }

    /// Appends `value` right-aligned in two columns with a leading space (`printf("%2d")`).
    @inlinable
    public mutating func appendSpacePadded2(_ value: Int) {
        if value < 10 { append(0x20) }
        appendDecimal(value)
    }

    /// Appends a month's English abbreviation (month 1...12), as every syslog and HAProxy date prints it.
    @inlinable
    public mutating func appendMonthAbbreviation(_ month: Int) {
        let m = CivilTime.monthBytes(month)
        append(m.0)
        append(m.1)
        append(m.2)
    }

    /// Appends `YYYY-MM-DD HH:MM:SS` (SQL's timestamp text: rsyslog's `date-pgsql`, lnav's and logquery's `log_time`).
    @inlinable
    public mutating func appendDateTime(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        appendDecimal(year, width: 4)
        append(0x2D)
        appendDecimal(month, width: 2)
        append(0x2D)
        appendDecimal(day, width: 2)
        append(0x20)
        appendClock(hour: hour, minute: minute, second: second)
    }

    /// Appends `HH:MM:SS`, each part zero-padded to two digits.
    @inlinable
    public mutating func appendClock(hour: Int, minute: Int, second: Int) {
        appendDecimal(hour, width: 2)
        append(0x3A)
        appendDecimal(minute, width: 2)
        append(0x3A)
        appendDecimal(second, width: 2)
    }

    /// Appends the UTF-8 bytes of `string`.
    @inlinable
    public mutating func append(string: String) {
        append(contentsOf: string.utf8)
    }
}

extension UInt64 {
    /// The magnitude of this bit pattern read as a two's complement negative number.
    @inlinable
    public var twosComplementMagnitude: UInt64 { ~self &+ 1 }
}

/// Small predicates on ASCII bytes used by the parsers.
public enum ASCII {
    @inlinable public static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inlinable public static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
    @inlinable public static func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }
    /// `isprint` in the C locale: 0x20...0x7E.
    @inlinable public static func isPrint(_ b: UInt8) -> Bool { b &- 0x20 < 0x5F }
    @inlinable public static func hexValue(_ b: UInt8) -> UInt8? {
        if isDigit(b) { return b &- 0x30 }
        let l = b | 0x20
        if l >= 0x61 && l <= 0x66 { return l &- 0x61 &+ 10 }
        return nil
    }
    /// `A`–`Z` to `a`–`z`; every other byte unchanged.
    @inlinable public static func lowercased(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }
    /// `a`–`z` to `A`–`Z`; every other byte unchanged.
    @inlinable public static func uppercased(_ b: UInt8) -> UInt8 { b &- 0x61 < 26 ? b & 0xDF : b }
    /// Upper-case hex digit for a nibble 0...15.
    @inlinable public static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 &+ nibble : 0x41 &+ nibble &- 10
    }
    /// Lower-case hex digit for a nibble 0...15.
    @inlinable public static func lowerHexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 &+ nibble : 0x61 &+ nibble &- 10
    }
    /// Bytes as lower-case hex text (digests, keys).
    public static func lowerHex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for b in bytes {
            out.append(lowerHexDigit(b >> 4))
            out.append(lowerHexDigit(b & 15))
        }
        return String(decoding: out, as: UTF8.self)
    }
    /// Hex text as bytes (either case); nil when it is not an even run of hex digits.
    public static func bytes(hex text: some StringProtocol) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = hexValue(digits[i]), let lo = hexValue(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
