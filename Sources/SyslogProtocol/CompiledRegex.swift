#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A POSIX regular expression (regcomp/regexec, as rsyslog uses them): filters, `re_match()`, `re_extract()` and
/// the property replacer's `R,ERE,…` fields. Compiled once; regexec only reads it, so one may be shared.
public final class CompiledRegex: @unchecked Sendable {
    private var regex = regex_t()
    public let pattern: String

    public init?(_ pattern: String, extended: Bool, ignoringCase: Bool = false, capturing: Bool = false) {
        self.pattern = pattern
        let flags = (extended ? REG_EXTENDED : 0) | (capturing ? 0 : REG_NOSUB) | (ignoringCase ? REG_ICASE : 0)
        guard regcomp(&regex, pattern, flags) == 0 else { return nil }
    }

    deinit { regfree(&regex) }

    public func matches(_ text: ArraySlice<UInt8>) -> Bool {
        var c = text.map { CChar(bitPattern: $0) }
        c.append(0)
        return regexec(&regex, c, 0, nil, 0) == 0
    }

    /// The `submatch`-th group (0: the whole match) of the `match`-th match (0: the first; each search starts where
    /// the one before ended, as rsyslog's), nil when there is none. Needs `capturing`.
    /// `unsetGroupIsEmpty`: a match whose group took no part gives an empty value rather than none (what rsyslog's
    /// property replacer ends up printing).
    public func extract(
        _ text: ArraySlice<UInt8>, match: Int, submatch: Int, unsetGroupIsEmpty: Bool = false
    ) -> ArraySlice<UInt8>? {
        guard submatch >= 0, submatch < 10 else { return nil }
        var c = text.map { CChar(bitPattern: $0) }
        c.append(0)
        var groups = [regmatch_t](repeating: regmatch_t(), count: 10)
        var offset = 0
        for n in 0...max(match, 0) {
            let rc = c.withUnsafeBufferPointer { buffer -> Int32 in
                guard let base = buffer.baseAddress else { return 1 }
                return regexec(&regex, base + offset, 10, &groups, 0)
            }
            guard rc == 0, groups[0].rm_so >= 0 else { return nil }
            if n == match {
                let g = groups[submatch]
                guard g.rm_so >= 0 else { return unsetGroupIsEmpty ? text[text.startIndex..<text.startIndex] : nil }
                let start = text.startIndex + offset + Int(g.rm_so)
                return text[start..<(text.startIndex + offset + Int(g.rm_eo))]
            }
            offset += max(Int(groups[0].rm_eo), 1)
            if offset > text.count { return nil }
        }
        return nil
    }
}
