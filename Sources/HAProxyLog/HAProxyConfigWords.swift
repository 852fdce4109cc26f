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
    /// A line that cannot be split into words (an unclosed quote, a bad escape or variable name), in HAProxy's
    /// words: the problem, its position on the line, and the line with a caret under it.
    public struct Failure: Error, Sendable {
        public var message: String
    }

    /// Where the line is, for the pseudo-variables `$.FILE`, `$.LINE` and `$.SECTION`.
    public struct Place: Sendable {
        public var file: String
        public var line: Int
        /// The name of the section being read (its keyword for `global` and `defaults`).
        public var section: String

        public init(file: String = "", line: Int = 0, section: String = "") {
            self.file = file
            self.line = line
            self.section = section
        }
    }

    /// The keywords that open a section in HAProxy 2.6 (what `$.SECTION` names and where `log-format` is read).
    public static let sectionKeywords: Set<String> = [
        "global", "defaults", "frontend", "backend", "listen", "peers", "userlist", "resolvers", "cache", "program",
        "http-errors", "ring", "mailers", "fcgi-app",
    ]

    /// Splits one line as HAProxy 2.6 does: words separated by spaces and tabs; `#` starts a comment; `\` escapes
    /// a space, `#`, a quote, `\`, and gives `\r`, `\n`, `\t`, `\xHH` (other pairs stay as written); single quotes
    /// keep everything as written; double quotes allow the escapes (and `\$`) and expand environment variables:
    /// `$NAME`, `${NAME}`, `${NAME-default}`, `${NAME[*]}` (one word per space-separated part of the value), and
    /// the pseudo-variables `$.FILE`, `$.LINE`, `$.SECTION`. An unset variable expands to nothing.
    public static func split(_ line: String, at place: Place = Place()) throws(Failure) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        var inWord = false
        let bytes = Array(line.utf8)
        var i = 0
        enum Quote { case none, single, double }
        var quote = Quote.none
        var quoteStart = 0
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
        /// HAProxy's report: the problem at a 1-based position, then the line (its indentation left out) and a
        /// caret under the place.
        func failure(_ problem: String, at index: Int) -> Failure {
            let indent = bytes.prefix { isSpace($0) }.count
            let shown = String(decoding: bytes[indent...], as: UTF8.self)
            let caret = String(repeating: " ", count: max(0, index - indent)) + "^"
            return Failure(message: "\(problem) at position \(index + 1):\n  \(shown)\n  \(caret)")
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0D { break }  // as HAProxy: a carriage return ends the line, quoted or not
            switch quote {
            case .single:
                if b == 0x27 { quote = .none } else { current.append(b) }
                i += 1
                continue
            case .double where b == 0x22:
                quote = .none
                i += 1
                continue
            case .double where b == 0x24:
                try expandVariable(bytes, &i, into: &current, words: &words, place: place, failure: failure)
                continue
            default:
                break
            }
            if quote == .none && isSpace(b) {
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
            if b == 0x5C {
                let next: UInt8 = i + 1 < bytes.count ? bytes[i + 1] : 0
                switch next {
                case 0x20, 0x23, 0x22, 0x27, 0x5C: current.append(next)
                case 0x24 where quote == .double: current.append(next)
                case 0x72: current.append(0x0D)
                case 0x6E: current.append(0x0A)
                case 0x74: current.append(0x09)
                case 0x78:
                    guard i + 3 < bytes.count, let high = hex(bytes[i + 2]), let low = hex(bytes[i + 3]) else {
                        throw failure("truncated or invalid hexadecimal sequence", at: i)
                    }
                    current.append(high << 4 | low)
                    i += 4
                    continue
                default:
                    // As HAProxy: any other pair is left as written (`\+` in a regular expression, `\1`, `\$`
                    // outside double quotes), and so is a backslash that ends the line.
                    current.append(b)
                    i += 1
                    continue
                }
                i += 2
                continue
            }
            if quote == .none && b == 0x27 {
                quote = .single
                quoteStart = i
            } else if quote == .none && b == 0x22 {
                quote = .double
                quoteStart = i
            } else {
                current.append(b)
            }
            i += 1
        }
        if quote != .none { throw failure("unmatched quote", at: quoteStart) }
        if inWord { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
    private static func isAlpha(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
    private static func isDigit(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) }

    /// Expands the variable whose `$` is at `i` (inside double quotes) and moves `i` past it.
    private static func expandVariable(
        _ bytes: [UInt8], _ i: inout Int, into current: inout [UInt8], words: inout [String], place: Place,
        failure: (String, Int) -> Failure
    ) throws(Failure) {
        i += 1
        var brace: Int?
        if i < bytes.count && bytes[i] == 0x7B {
            brace = i
            i += 1
        }
        guard i < bytes.count, isAlpha(bytes[i]) || bytes[i] == 0x5F || bytes[i] == 0x2E else {
            throw failure("forbidden first char in environment variable name", i)
        }
        let start = i
        if bytes[i] == 0x2E { i += 1 }
        while i < bytes.count, isAlpha(bytes[i]) || isDigit(bytes[i]) || bytes[i] == 0x5F { i += 1 }
        let name = String(decoding: bytes[start..<i], as: UTF8.self)
        var value: [UInt8]?
        switch name {
        case ".LINE": value = Array(String(place.line).utf8)
        case ".FILE": value = Array(place.file.utf8)
        case ".SECTION": value = Array(place.section.utf8)
        case _ where name.hasPrefix("."): throw failure("forbidden first char in environment variable name", start)
        default:
            if let found = getenv(name) { value = Array(String(cString: found).utf8) }
        }
        // `${NAME[*]}`: one word per space-separated part.
        var wordExpand = false
        if brace != nil && i < bytes.count && bytes[i] == 0x5B {
            let at = i
            guard i + 2 < bytes.count, bytes[i + 1] == 0x2A, bytes[i + 2] == 0x5D else {
                throw failure("truncated or invalid word expansion sequence", at)
            }
            i += 3
            wordExpand = true
        }
        if let open = brace {
            if i < bytes.count && bytes[i] == 0x2D {
                // `${NAME-default}`: the default, as written, up to the brace.
                guard let close = bytes[(i + 1)...].firstIndex(of: 0x7D) else {
                    throw failure("unmatched brace in environment variable name", open)
                }
                if value == nil { value = Array(bytes[(i + 1)..<close]) }
                i = close
            } else if i >= bytes.count || bytes[i] != 0x7D {
                throw failure("unmatched brace in environment variable name", open)
            }
            i += 1
        }
        guard let value else { return }
        var v = 0
        while v < value.count {
            if wordExpand && isSpace(value[v]) {
                words.append(String(decoding: current, as: UTF8.self))
                current = []
                while v < value.count && isSpace(value[v]) { v += 1 }
            } else {
                current.append(value[v])
                v += 1
            }
        }
    }
}
