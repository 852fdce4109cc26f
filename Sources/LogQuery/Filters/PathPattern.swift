#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--path`: a prefix (`/api/`), or an extended regular expression when it has regex characters
/// (`^/api/v[0-9]+/`), matched against the URI as logged.
public final class PathPattern: @unchecked Sendable, CustomStringConvertible {
    public let description: String
    private let prefix: [UInt8]?
    // Compiled once; regexec only reads it (POSIX: MT-safe).
    private var regex = regex_t()

    public init(_ text: String) throws {
        description = text
        let special = Set("^$*+?()[]{}|\\\\")
        if text.contains(where: { special.contains($0) }) {
            prefix = nil
            let rc = regcomp(&regex, text, REG_EXTENDED | REG_NOSUB)
            guard rc == 0 else {
                var message = [CChar](repeating: 0, count: 256)
                regerror(rc, &regex, &message, message.count)
                let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
                throw InputError(path: "--path", reason: "'\(text)': \(String(decoding: bytes, as: UTF8.self))")
            }
        } else {
            prefix = Array(text.utf8)
        }
    }

    deinit { if prefix == nil { regfree(&regex) } }

    public func matches(_ uri: UnsafeBufferPointer<UInt8>) -> Bool {
        if let prefix {
            return uri.count >= prefix.count && uri.prefix(prefix.count).elementsEqual(prefix)
        }
        var text = [CChar](repeating: 0, count: uri.count + 1)
        for (i, b) in uri.enumerated() { text[i] = CChar(bitPattern: b) }
        return regexec(&regex, text, 0, nil, 0) == 0
    }
}
