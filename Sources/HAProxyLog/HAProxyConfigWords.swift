#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A haproxy.cfg line split into words, as HAProxy 2.6 splits it: what the proxy's configuration parser and
/// `logquery --config` (which reads the `log-format` lines) both read.
public enum HAProxyConfigWords {
    /// A line that cannot be split into words (an unclosed quote, an unknown escape).
    public struct Failure: Error, Sendable {
        public var message: String
    }

    /// Splits one line as HAProxy 2.6 does: words separated by spaces and tabs; `#` starts a comment; `\` escapes
    /// a space, `#`, a quote, `\`, `$`, and gives `\r`, `\n`, `\t`, `\xHH`; single quotes keep everything as
    /// written; double quotes allow the escapes and expand `${NAME}` from the environment.
    public static func split(_ line: String) throws(Failure) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        var inWord = false
        let bytes = Array(line.utf8)
        var i = 0
        enum Quote { case none, single, double }
        var quote = Quote.none
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
        while i < bytes.count {
            let b = bytes[i]
            switch quote {
            case .single:
                if b == 0x27 { quote = .none } else { current.append(b) }
                i += 1
                continue
            case .double where b == 0x22:
                quote = .none
                i += 1
                continue
            case .double where b == 0x24 && i + 1 < bytes.count && bytes[i + 1] == 0x7B:
                // ${NAME}
                guard let close = bytes[(i + 2)...].firstIndex(of: 0x7D) else {
                    throw Failure(message: "unterminated '${' in '\(line)'")
                }
                let name = String(decoding: bytes[(i + 2)..<close], as: UTF8.self)
                if let value = getenv(name) { current.append(contentsOf: Array(String(cString: value).utf8)) }
                i = close + 1
                continue
            default:
                break
            }
            if quote == .none && (b == 0x20 || b == 0x09 || b == 0x0D) {
                if inWord {
                    words.append(String(decoding: current, as: UTF8.self))
                    current = []
                    inWord = false
                }
                i += 1
                continue
            }
            if quote == .none && b == 0x23 { break }  // # comment
            inWord = true
            // A backslash escapes outside single quotes only.
            if b == 0x5C && quote != .single {
                guard i + 1 < bytes.count else { throw Failure(message: "a '\\' ends the line '\(line)'") }
                let next = bytes[i + 1]
                i += 2
                switch next {
                case 0x20, 0x23, 0x22, 0x27, 0x5C, 0x24: current.append(next)
                case 0x72: current.append(0x0D)
                case 0x6E: current.append(0x0A)
                case 0x74: current.append(0x09)
                case 0x78:
                    guard i + 1 < bytes.count, let high = hex(bytes[i]), let low = hex(bytes[i + 1]) else {
                        throw Failure(message: "truncated or invalid hexadecimal sequence in '\(line)'")
                    }
                    current.append(high << 4 | low)
                    i += 2
                default:
                    // As HAProxy: any other pair is left as written (`\+` in a regular expression, `\1`).
                    current.append(b)
                    i -= 1
                }
                continue
            }
            if quote == .none && b == 0x27 {
                quote = .single
            } else if quote == .none && b == 0x22 {
                quote = .double
            } else {
                current.append(b)
            }
            i += 1
        }
        switch quote {
        case .single: throw Failure(message: "unmatched quote in '\(line)'")
        case .double: throw Failure(message: "unmatched double quote in '\(line)'")
        case .none: break
        }
        if inWord { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }
}
