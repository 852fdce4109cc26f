#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// HAProxy 2.6's conditional blocks (`.if COND` / `.elif COND` / `.else` / `.endif`) and their expressions: terms
/// joined by `&&` (before `||`), `!` to negate, parentheses, an integer (true unless 0), and the predicates
/// `defined(VAR)`, `feature(NAME)`, `streq(A,B)`, `strneq(A,B)`, `version_atleast(V)`, `version_before(V)`,
/// `openssl_version_atleast(V)`, `openssl_version_before(V)`, `ssllib_name_startswith(S)`. A value type: the
/// parser keeps one per file and asks it whether each line is taken.
struct ConfigConditions {
    /// The HAProxy version this build answers `version_atleast`/`version_before` as.
    static let haproxyVersion = "2.6.12"
    /// The TLS library (swift-nio-ssl's BoringSSL reports OpenSSL 1.1.1's number).
    static let sslVersion = "1.1.1"
    static let sslLibrary = "BoringSSL"
    /// `feature(NAME)`: what this build carries out, under HAProxy's build feature names.
    static let features: Set<String> = ["OPENSSL", "PROMEX", "ZLIB", "THREAD", "LINUX_SPLICE", "EPOLL", "SYSTEMD", "PCRE2"]

    private enum Block {
        /// The block's lines are read; or not, and a later `.elif`/`.else` may be; or nothing of it is (a branch was
        /// taken, or an outer block is dropped); an `.else` taken or dropped.
        case take, drop, skip, elseTake, elseDrop
    }
    private var blocks: [Block] = []

    /// Whether ordinary lines are read now.
    var taking: Bool { blocks.allSatisfy { $0 == .take || $0 == .elseTake } }

    /// `.if`, `.elif`, `.else`, `.endif` with the rest of its line; the error in HAProxy's words.
    mutating func directive(_ keyword: String, _ expression: String, environment: @escaping (String) -> Bool) -> String? {
        switch keyword {
        case ".if":
            guard blocks.count < 256 else { return "too many nested '.if', max is 256." }
            if !taking {
                blocks.append(.skip)
                return nil
            }
            switch Self.evaluate(expression, environment: environment) {
            case .success(let value): blocks.append(value ? .take : .drop)
            case .failure(let error): return "\(error.message) in '.if' at position \(error.position):\n  .if \(expression)"
            }
        case ".elif":
            guard let last = blocks.last else { return "lone '.elif' with no matching '.if'." }
            switch last {
            case .elseTake, .elseDrop: return "'.elif' after '.else' is not permitted."
            case .take, .skip: blocks[blocks.count - 1] = .skip
            case .drop:
                switch Self.evaluate(expression, environment: environment) {
                case .success(let value): blocks[blocks.count - 1] = value ? .take : .drop
                case .failure(let error):
                    return "\(error.message) in '.elif' at position \(error.position):\n  .elif \(expression)"
                }
            }
        case ".else":
            guard expression.isEmpty else { return "Unexpected argument '\(expression)' for '.else'." }
            guard let last = blocks.last else { return "lone '.else' with no matching '.if'." }
            switch last {
            case .elseTake, .elseDrop: return "'.else' after '.else' is not permitted."
            case .take, .skip: blocks[blocks.count - 1] = .elseDrop
            case .drop: blocks[blocks.count - 1] = .elseTake
            }
        case ".endif":
            guard expression.isEmpty else { return "Unexpected argument '\(expression)' for '.endif'." }
            guard !blocks.isEmpty else { return "lone '.endif' with no matching '.if'." }
            blocks.removeLast()
        default:
            return nil
        }
        return nil
    }

    /// Whether a `.if` is still open at the end of the file.
    var unterminated: Bool { !blocks.isEmpty }

    struct ExpressionError: Error {
        let message: String
        let position: Int
    }

    /// The value of an expression, or where it cannot be read.
    static func evaluate(_ text: String, environment: @escaping (String) -> Bool) -> Result<Bool, ExpressionError> {
        var reader = Reader(chars: Array(text), environment: environment)
        do {
            let value = try reader.orExpression(depth: 0)
            reader.skipSpaces()
            guard reader.at == reader.chars.count else {
                throw ExpressionError(message: "unparsable conditional expression '\(text)'", position: reader.at + 1)
            }
            return .success(value)
        } catch let error as ExpressionError {
            return .failure(error)
        } catch {
            return .failure(ExpressionError(message: "unparsable conditional expression '\(text)'", position: 1))
        }
    }

    private struct Reader {
        let chars: [Character]
        let environment: (String) -> Bool
        var at = 0

        mutating func skipSpaces() { while at < chars.count, chars[at] == " " || chars[at] == "\t" { at += 1 } }

        func fail(_ message: String) -> ExpressionError { ExpressionError(message: message, position: at + 1) }

        mutating func orExpression(depth: Int) throws -> Bool {
            try joined("|", depth: depth) { reader, depth in try reader.andExpression(depth: depth) } combine: { $0 || $1 }
        }

        mutating func andExpression(depth: Int) throws -> Bool {
            try joined("&", depth: depth) { reader, depth in try reader.term(depth: depth) } combine: { $0 && $1 }
        }

        /// Operands joined by a doubled operator (`||`, `&&`), read left to right.
        mutating func joined(
            _ op: Character, depth: Int, operand: (inout Reader, Int) throws -> Bool, combine: (Bool, Bool) -> Bool
        ) throws -> Bool {
            var value = try operand(&self, depth)
            while true {
                skipSpaces()
                guard at + 1 < chars.count, chars[at] == op, chars[at + 1] == op else { return value }
                at += 2
                let next = try operand(&self, depth)
                value = combine(value, next)
            }
        }

        mutating func term(depth: Int) throws -> Bool {
            guard depth < 32 else { throw fail("too many nested levels") }
            skipSpaces()
            var negated = false
            while at < chars.count, chars[at] == "!" {
                negated.toggle()
                at += 1
                skipSpaces()
            }
            guard at < chars.count else { throw fail("unparsable conditional expression") }
            let value: Bool
            if chars[at] == "(" {
                at += 1
                value = try orExpression(depth: depth + 1)
                skipSpaces()
                guard at < chars.count, chars[at] == ")" else { throw fail("expected ')' after conditional expression") }
                at += 1
            } else if chars[at].isNumber || chars[at] == "-" || chars[at] == "+" {
                let start = at
                at += 1
                while at < chars.count, chars[at].isHexDigit || chars[at] == "x" || chars[at] == "X" { at += 1 }
                let text = String(chars[start..<at])
                let number =
                    text.lowercased().hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
                guard let number else { throw fail("unparsable conditional expression") }
                value = number != 0
            } else {
                let start = at
                while at < chars.count, chars[at].isLetter || chars[at] == "_" { at += 1 }
                let name = String(chars[start..<at])
                guard at < chars.count, chars[at] == "(" else { throw fail("unparsable conditional expression") }
                at += 1
                var args: [String] = [""]
                var quote: Character?
                while at < chars.count {
                    let c = chars[at]
                    if let q = quote {
                        if c == q { quote = nil } else { args[args.count - 1].append(c) }
                    } else if c == "\"" || c == "'" {
                        quote = c
                    } else if c == "," {
                        args.append("")
                    } else if c == ")" {
                        break
                    } else if c == "\\", at + 1 < chars.count {
                        at += 1
                        args[args.count - 1].append(chars[at])
                    } else {
                        args[args.count - 1].append(c)
                    }
                    at += 1
                }
                guard at < chars.count else { throw fail("missing closing ')' after arguments of predicate '\(name)'") }
                at += 1
                value = try predicate(name, args.map { $0.trimmingSpaces })
            }
            return negated ? !value : value
        }

        func predicate(_ name: String, _ args: [String]) throws -> Bool {
            func one() throws -> String {
                guard args.count == 1 else { throw fail("predicate '\(name)' expects 1 argument") }
                return args[0]
            }
            func two() throws -> (String, String) {
                guard args.count == 2 else { throw fail("predicate '\(name)' expects 2 arguments") }
                return (args[0], args[1])
            }
            switch name {
            case "defined": return environment(try one())
            case "feature": return ConfigConditions.features.contains(try one())
            case "streq":
                let (a, b) = try two()
                return a == b
            case "strneq":
                let (a, b) = try two()
                return a != b
            case "version_atleast": return ConfigConditions.compare(ConfigConditions.haproxyVersion, try one()) >= 0
            case "version_before": return ConfigConditions.compare(ConfigConditions.haproxyVersion, try one()) < 0
            case "openssl_version_atleast": return ConfigConditions.compare(ConfigConditions.sslVersion, try one()) >= 0
            case "openssl_version_before": return ConfigConditions.compare(ConfigConditions.sslVersion, try one()) < 0
            case "ssllib_name_startswith": return ConfigConditions.sslLibrary.hasPrefix(try one())
            default: throw fail("unknown predicate '\(name)'")
            }
        }
    }

    /// Versions compared number by number (`2.6.12` after `2.6`, `2.6-dev1` as `2.6`).
    static func compare(_ a: String, _ b: String) -> Int {
        func parts(_ v: String) -> [Int] {
            v.split(whereSeparator: { !$0.isNumber && $0 != "." }).first.map {
                $0.split(separator: ".").compactMap { Int($0) }
            } ?? []
        }
        let (x, y) = (parts(a), parts(b))
        for i in 0..<max(x.count, y.count) {
            let (p, q) = (i < x.count ? x[i] : 0, i < y.count ? y[i] : 0)
            if p != q { return p < q ? -1 : 1 }
        }
        return 0
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
