import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A header's value as HAProxy's `hdr()` sample and `hdr_val` read it: the last comma-separated value of its last
/// line, without the blanks around it.
enum HeaderValue {
    static func last(ofLine line: String) -> Substring {
        var value = line.split(separator: ",", omittingEmptySubsequences: false).last ?? ""
        while let c = value.first, c == " " || c == "\t" { value.removeFirst() }
        while let c = value.last, c == " " || c == "\t" { value.removeLast() }
        return value
    }
}

/// `env(NAME)`: the process's environment variable (nil: not set).
enum ProcessEnvironment {
    static func value(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
}

/// A request's cookies as HAProxy's `req.cook()` and `req.cook_cnt()` read them: every `Cookie` line, split at `;`,
/// each `NAME=VALUE` with the spaces around the name and the value left out; names compared with their case.
enum RequestCookies {
    /// The values of the cookie `name`, in the order they came (a cookie without `=` has none).
    static func values(of name: String, in headers: HTTPHeaders) -> [String] {
        var found: [String] = []
        for (field, line) in headers where field.utf8.count == 6 && field.lowercased() == "cookie" {
            for pair in line.split(separator: ";", omittingEmptySubsequences: true) {
                guard let equals = pair.firstIndex(of: "=") else { continue }
                guard trimmed(pair[..<equals]) == name else { continue }
                found.append(String(trimmed(pair[pair.index(after: equals)...])))
            }
        }
        return found
    }

    private static func trimmed(_ text: Substring) -> Substring {
        var text = text
        while let c = text.first, c == " " || c == "\t" { text.removeFirst() }
        while let c = text.last, c == " " || c == "\t" { text.removeLast() }
        return text
    }
}

/// `uuid`: a random version-4 UUID in HAProxy's form (lower-case hexadecimal, `8-4-4-4-12`).
enum UUIDv4 {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return format(high: generator.next(), low: generator.next())
    }

    /// The UUID made of 128 random bits, its version (4) and variant (`10`) bits set.
    static func format(high: UInt64, low: UInt64) -> String {
        let high = (high & ~0xF000) | 0x4000
        let low = (low & ~(UInt64(0xC) << 60)) | (UInt64(0x8) << 60)
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: max(0, digits - text.count)) + text
        }
        return hex(high >> 32, 8) + "-" + hex((high >> 16) & 0xFFFF, 4) + "-" + hex(high & 0xFFFF, 4) + "-"
            + hex(low >> 48, 4) + "-" + hex(low & 0xFFFF_FFFF_FFFF, 12)
    }
}

/// A request's URL parameters as HAProxy's `url_param()`/`urlp()` find them: the query begins after the first `?`
/// (or the given delimiter), parameters are separated by `&` (or the delimiter), a value ends before `;`; names
/// compared with their case, values as sent (no URL decoding).
enum URLParameters {
    /// The values of `name` (every parameter's when nil), in order.
    static func values(of name: String?, in uri: Substring, delimiter: Character? = nil) -> [Substring] {
        guard let start = uri.firstIndex(where: { $0 == "?" || $0 == delimiter }) else { return [] }
        var found: [Substring] = []
        for parameter in uri[uri.index(after: start)...].split(
            omittingEmptySubsequences: true, whereSeparator: { $0 == "&" || $0 == delimiter })
        {
            let key = parameter.prefix { $0 != "=" }
            guard name.map({ key == $0 }) ?? true else { continue }
            guard key.endIndex < parameter.endIndex else {
                if name == nil { found.append(parameter[parameter.endIndex...]) }
                continue
            }
            found.append(parameter[parameter.index(after: key.endIndex)...].prefix { $0 != ";" })
        }
        return found
    }
}
