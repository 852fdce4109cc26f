import LogCore

/// A header value written in HAProxy's log-format (`X-Real-IP %[src]`, `"%ci:%cp"`, `100%%`), compiled when the
/// file is read into literal text and the samples this build can fetch; a value naming anything else is refused
/// (`parse` returns what it does not know), never sent as the literal text.
public struct LogFormatValue: Hashable, Sendable {
    public enum Sample: Hashable, Sendable {
        /// `src`, `%ci`; `src_port`, `%cp`; `dst`, `%fi`; `dst_port`, `%fp`.
        case clientAddress, clientPort, frontendAddress, frontendPort
        /// `hdr(NAME)`, `req.hdr(NAME)`: the header's last value (its name in lower case).
        case header(String)
        /// `path`, `method`, `url`, `query`, `fe_name` (and `%f`), `ssl_fc` (1 on a TLS listener).
        case path, method, url, query, frontendName, tlsFlag
        /// A TLS listener's client: `ssl_fc_sni`, `ssl_fc_protocol`, `ssl_c_used` / `ssl_fc_has_crt` (0 or 1),
        /// `ssl_c_verify` (0: verified), `ssl_c_s_dn`, `ssl_c_i_dn`.
        case tlsSNI, tlsProtocol, clientCertificateUsed, clientCertificateVerify, clientSubject, clientIssuer
        /// `var(NAME[,DEFAULT])`: a variable's value (not set: the default as text, else no sample).
        case variable(VariableName, default: String?)
        /// `base`: the Host header's first value then the path (the path alone without one).
        case base
        /// `req.cook(NAME)`, `cook(NAME)`: the last value of the cookie in the request's `Cookie` headers;
        /// `req.cook_cnt(NAME)`, `cook_cnt(NAME)`: how many times it occurs (an integer).
        case cookie(String), cookieCount(String)
        /// `req.hdr_cnt(NAME)`, `hdr_cnt(NAME)`: how many values the header has (an integer); `req.fhdr(NAME)`: its
        /// last line, commas and all.
        case headerCount(String), fullHeader(String)
        /// `uuid`, `uuid(4)`: a random UUID (version 4) each time.
        case uuid
        /// `str(TEXT)`, `int(N)`, `bool(true|false)`: a constant.
        case constant(VariableValue)
        /// `status`: a response's status (in an `http-response` rule's value).
        case status
        /// `url_param(NAME[,DELIM])`, `urlp(…)`: the parameter's first value in the query; `urlp_val(…)`: as an
        /// integer.
        case urlParameter(String, delimiter: Character?, integer: Bool)
        /// `env(NAME)`: the process's environment variable.
        case environment(String)
        /// `unique-id`: the request's ID as `unique-id-format` makes it (made when first asked; none without one).
        case uniqueID

        /// Whether a response's rule can fetch it (what HAProxy calls needing "HTTP request headers" cannot).
        var knownOnResponse: Bool {
            switch self {
            case .path, .method, .url, .query, .base, .cookie, .cookieCount, .headerCount, .fullHeader, .urlParameter:
                false
            default: true
            }
        }
    }

    public enum Piece: Hashable, Sendable {
        case literal(String)
        case sample(Sample)
        /// A sample then its converters (`%[path,regsub(^/api/,/)]`).
        case converted(Sample, [Converter])
    }

    /// The converters a value's samples may go through: `lower`, `upper`, `regsub(REGEX,SUBST[,FLAGS])` (flags
    /// `g`: every match, `i`: without case).
    public enum Converter: Hashable, Sendable {
        case lower, upper
        case regsub(RewriteRegex, String, global: Bool)
        /// `map*(FILE[,DEFAULT])`: the value of the key the sample matches, else the default, else no sample.
        case map(MapFile, default: String?)
        /// `ipmask(MASK4[,MASK6])`: an address's network (a mask in bits or dotted); no address, no sample.
        case ipmask(v4: UInt32, v6: Int?)
        /// `field(INDEX,DELIMITERS[,COUNT])`: the INDEXth field (from 1; negative: from the end) and the COUNT-1
        /// after it (0: every one after it), as HAProxy's converter cuts them; no such field, no sample.
        case field(index: Int, delimiters: [UInt8], count: Int)

        /// The converted sample; nil when it has none (a map without the key nor a default).
        func apply(_ text: String) -> String? {
            switch self {
            case .lower: text.lowercased()
            case .upper: text.uppercased()
            case .regsub(let regex, let template, let global): regex.substitute(Substring(text), with: template, global: global)
            case .map(let file, let fallback): file.lookup(text) ?? fallback
            case .field(let index, let delimiters, let count): Self.cutField(text, index, delimiters, count)
            case .ipmask(let v4, let v6): Self.network(text, v4: v4, v6: v6)
            }
        }

        /// `ipmask`: the network of an IPv4 address (dotted), or of an IPv6 one when a v6 mask is given.
        static func network(_ text: String, v4: UInt32, v6: Int?) -> String? {
            guard let address = AddressSet.address(text) else { return nil }
            if address >> 32 == 0xFFFF {
                let masked = UInt32(truncatingIfNeeded: address) & v4
                return (0..<4).map { String((masked >> (24 - 8 * UInt32($0))) & 0xFF) }.joined(separator: ".")
            }
            guard let v6 else { return nil }
            let mask: UInt128 = v6 == 0 ? 0 : ~UInt128(0) << (128 - v6)
            return AddressSet.ipv6Text(address & mask)
        }

        /// HAProxy 2.6's `sample_conv_field`, byte for byte.
        static func cutField(_ text: String, _ index: Int, _ delimiters: [UInt8], _ count: Int) -> String? {
            let bytes = Array(text.utf8)
            guard index != 0 else { return nil }
            var count = count
            var field: Int
            var start: Int
            var end: Int
            var found = false
            if index < 0 {
                field = -1
                start = bytes.count
                end = bytes.count
                while start > 0 && !found {
                    if delimiters.contains(bytes[start - 1]) {
                        if field == index {
                            if count == 1 { found = true; break } else if count > 1 { count -= 1 }
                        } else {
                            end = start - 1
                            field -= 1
                        }
                    }
                    start -= 1
                }
            } else {
                field = 1
                start = 0
                end = 0
                while end < bytes.count && !found {
                    if delimiters.contains(bytes[end]) {
                        if field == index {
                            if count == 1 { found = true; break } else if count > 1 { count -= 1 }
                        } else {
                            start = end + 1
                            field += 1
                        }
                    }
                    end += 1
                }
            }
            guard found || field == index else { return nil }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        /// The converter `text` names, or why it cannot be used (nil: not one this build has). Map files are read
        /// here, when the configuration is.
        static func parse(_ text: Substring) -> Result<Converter, UnknownPart>? {
            if text == "lower" { return .success(.lower) }
            if text == "upper" { return .success(.upper) }
            if text.hasPrefix("ipmask("), text.hasSuffix(")") {
                let args = LogFormatValue.arguments(text.dropFirst(7).dropLast())
                guard args.count == 1 || args.count == 2, let v4 = AddressSet.ipv4Mask(args[0]) else { return nil }
                var v6: Int?
                if args.count == 2 {
                    guard let bits = Int(args[1]), (0...128).contains(bits) else { return nil }
                    v6 = bits
                }
                return .success(.ipmask(v4: v4, v6: v6))
            }
            if text.hasPrefix("field("), text.hasSuffix(")") {
                let args = LogFormatValue.arguments(text.dropFirst(6).dropLast())
                guard args.count == 2 || args.count == 3, let index = Int(args[0]), !args[1].isEmpty else { return nil }
                let count = args.count == 3 ? Int(args[2]) : 1
                guard let count, count >= 0 else { return nil }
                return .success(.field(index: index, delimiters: Array(args[1].utf8), count: count))
            }
            if text.hasPrefix("regsub("), text.hasSuffix(")") {
                let args = LogFormatValue.arguments(text.dropFirst(7).dropLast())
                guard args.count == 2 || args.count == 3 else { return nil }
                let flags = args.count == 3 ? args[2] : ""
                guard flags.allSatisfy({ $0 == "g" || $0 == "i" }),
                    let regex = RewriteRegex(args[0], ignoringCase: flags.contains("i"))
                else { return nil }
                return .success(.regsub(regex, args[1], global: flags.contains("g")))
            }
            guard text.hasPrefix("map"), let open = text.firstIndex(of: "("), text.hasSuffix(")") else { return nil }
            let name = text[..<open]
            let match: MapFile.Match
            switch name {
            case "map", "map_str": match = .str
            case "map_beg": match = .beg
            case "map_end": match = .end
            case "map_sub": match = .sub
            case "map_dom": match = .dom
            case "map_reg", "map_regm": match = .reg
            default: return nil
            }
            let args = LogFormatValue.arguments(text[text.index(after: open)..<text.index(before: text.endIndex)])
            guard args.count == 1 || args.count == 2, !args[0].isEmpty else { return nil }
            guard let content = TextFile.read(args[0]) else {
                return .failure(UnknownPart(text: String(text), problem: "failed to open map file <\(args[0])>"))
            }
            switch MapFile.parse(content, path: args[0], match: match) {
            case .success(let file): return .success(.map(file, default: args.count == 2 ? args[1] : nil))
            case .failure(let bad):
                return .failure(
                    UnknownPart(text: String(text), problem: "'\(bad.key)' in map file <\(args[0])> is not a regular expression"))
            }
        }
    }

    /// A converter's arguments: split at commas, `\` escaping the next character, quotes kept together.
    static func arguments(_ text: Substring) -> [String] {
        var args: [String] = []
        var current = ""
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped {
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "," {
                args.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        args.append(current)
        return args
    }

    /// The `]` that ends an expression (one inside parentheses, as in `regsub([^/]+,x)`, belongs to it).
    private static func expressionEnd(_ text: Substring) -> Substring.Index? {
        var depth = 0
        var i = text.startIndex
        while i < text.endIndex {
            switch text[i] {
            case "\\":
                i = text.index(after: i)
                if i == text.endIndex { return nil }
            case "(": depth += 1
            case ")": depth -= 1
            case "]" where depth <= 0: return i
            default: break
            }
            i = text.index(after: i)
        }
        return nil
    }

    /// `fetch,conv1,conv2(…)`: the parts at commas outside parentheses.
    static func topLevelParts(_ text: String) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            switch text[i] {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                parts.append(text[start..<i])
                start = text.index(after: i)
            default: break
            }
            i = text.index(after: i)
        }
        parts.append(text[start...])
        return parts
    }

    public private(set) var pieces: [Piece] = []
    /// The value when it is text only (decided once, not per request), else nil.
    public private(set) var literal: String?

    /// Whether the value is text only (then `text` is it).
    public var isLiteral: Bool { literal != nil }
    public var text: String { literal ?? "" }

    public init(literal: String) {
        pieces = [.literal(literal)]
        self.literal = literal
    }

    private static let variables: [String: Sample] = [
        "ci": .clientAddress, "cp": .clientPort, "fi": .frontendAddress, "fp": .frontendPort, "f": .frontendName,
    ]

    /// One fetch, by HAProxy's name (with its arguments); nil when this build has no such fetch. On a response
    /// (`response`), `hdr(NAME)` and `res.hdr(NAME)` read the response's header, and `status` its status.
    static func fetch(_ expression: String, response: Bool = false) -> Sample? {
        if response {
            if expression == "status" { return .status }
            for prefix in ["hdr(", "res.hdr("] where expression.hasPrefix(prefix) && expression.hasSuffix(")") {
                let name = expression.dropFirst(prefix.count).dropLast()
                guard !name.isEmpty, !name.contains(","), !name.contains("(") else { return nil }
                return .header(name.lowercased())
            }
            if expression.hasPrefix("req.") || expression.hasPrefix("res.") { return nil }
        }
        switch expression {
        case "base": return .base
        case "uuid", "uuid()", "uuid(4)": return .uuid
        case "unique-id": return .uniqueID
        case "src": return .clientAddress
        case "src_port": return .clientPort
        case "dst": return .frontendAddress
        case "dst_port": return .frontendPort
        case "path": return .path
        case "method": return .method
        case "url": return .url
        case "query": return .query
        case "fe_name": return .frontendName
        case "ssl_fc": return .tlsFlag
        case "ssl_fc_sni": return .tlsSNI
        case "ssl_fc_protocol": return .tlsProtocol
        case "ssl_c_used", "ssl_fc_has_crt": return .clientCertificateUsed
        case "ssl_c_verify": return .clientCertificateVerify
        case "ssl_c_s_dn": return .clientSubject
        case "ssl_c_i_dn": return .clientIssuer
        default:
            if let open = expression.firstIndex(of: "("), expression.hasSuffix(")") {
                let inside = String(expression[expression.index(after: open)..<expression.index(before: expression.endIndex)])
                switch expression[..<open] {
                case "var":
                    let args = arguments(Substring(inside))
                    guard args.count <= 2, case .success(let name) = VariableName.parse(args[0]) else { return nil }
                    return .variable(name, default: args.count == 2 ? args[1] : nil)
                case "str":
                    let args = arguments(Substring(inside))
                    return args.count == 1 ? .constant(.text(args[0])) : nil
                case "int": return Int64(inside).map { .constant(.integer($0)) }
                // HAProxy's `smp_check_const_bool`: true or 1, false or 0 (a boolean is 1 or 0 as text).
                case "bool":
                    switch inside.lowercased() {
                    case "true", "1": return .constant(.integer(1))
                    case "false", "0": return .constant(.integer(0))
                    default: return nil
                    }
                case "req.cook", "cook":
                    return inside.isEmpty || inside.contains(",") ? nil : .cookie(inside)
                case "req.cook_cnt", "cook_cnt":
                    return inside.isEmpty || inside.contains(",") ? nil : .cookieCount(inside)
                case "req.hdr_cnt", "hdr_cnt":
                    return inside.isEmpty || inside.contains(",") ? nil : .headerCount(inside.lowercased())
                case "req.fhdr":
                    return inside.isEmpty || inside.contains(",") ? nil : .fullHeader(inside.lowercased())
                case "url_param", "urlp", "urlp_val":
                    let args = arguments(Substring(inside))
                    guard !args[0].isEmpty, args.count <= 2, args.count == 1 || args[1].count == 1 else { return nil }
                    return .urlParameter(
                        args[0], delimiter: args.count == 2 ? args[1].first : nil,
                        integer: expression.hasPrefix("urlp_val"))
                case "env":
                    return inside.isEmpty || inside.contains(",") ? nil : .environment(inside)
                default: break
                }
            }
            for prefix in ["hdr(", "req.hdr("] where expression.hasPrefix(prefix) && expression.hasSuffix(")") {
                let name = expression.dropFirst(prefix.count).dropLast()
                guard !name.isEmpty, !name.contains(","), !name.contains("(") else { return nil }
                return .header(name.lowercased())
            }
            return nil
        }
    }

    /// A sample expression as `set-var` takes it (`req.hdr(host),lower,field(1,:)`): one fetch and its converters,
    /// a value of one piece; or the part this build cannot evaluate.
    public static func parseExpression(_ text: String, response: Bool = false) -> Result<LogFormatValue, UnknownPart> {
        var parts = topLevelParts(text)
        let name = String(parts.removeFirst())
        guard let sample = fetch(name, response: response) else { return .failure(UnknownPart(text: text)) }
        if response && !sample.knownOnResponse { return .failure(UnknownPart.requestOnly(name)) }
        var converters: [Converter] = []
        for part in parts {
            switch Converter.parse(part) {
            case .success(let converter)?: converters.append(converter)
            case .failure(let problem)?: return .failure(problem)
            case nil: return .failure(UnknownPart(text: String(part)))
            }
        }
        var value = LogFormatValue(literal: "")
        value.pieces = [converters.isEmpty ? .sample(sample) : .converted(sample, converters)]
        value.literal = nil
        return .success(value)
    }

    /// The value of `text`, or the part of it this build cannot evaluate (a converter, a flag, another fetch or
    /// variable).
    public static func parse(_ text: String, response: Bool = false) -> Result<LogFormatValue, UnknownPart> {
        var value = LogFormatValue(literal: "")
        value.pieces = []
        var literal = ""
        var rest = Substring(text)
        while let percent = rest.firstIndex(of: "%") {
            literal += rest[..<percent]
            rest = rest[rest.index(after: percent)...]
            if rest.first == "%" {
                literal += "%"
                rest = rest.dropFirst()
                continue
            }
            // `%{+Q}`: HAProxy 2.6 adds no quotes in a header value with it (checked beside it); other flags are
            // refused.
            if rest.first == "{" {
                guard let close = rest.firstIndex(of: "}") else { return .failure(UnknownPart(text: "%" + rest)) }
                let flags = rest[rest.index(after: rest.startIndex)..<close]
                guard flags == "+Q" else { return .failure(UnknownPart(text: "%{\(flags)}")) }
                rest = rest[rest.index(after: close)...]
            }
            let sample: Sample
            var converters: [Converter] = []
            if rest.first == "[" {
                guard let close = expressionEnd(rest.dropFirst()) else { return .failure(UnknownPart(text: "%" + rest)) }
                let expression = String(rest[rest.index(after: rest.startIndex)..<close])
                var parts = topLevelParts(expression)
                let name = String(parts.removeFirst())
                guard let known = fetch(name, response: response) else {
                    return .failure(UnknownPart(text: "%[\(expression)]"))
                }
                if response && !known.knownOnResponse { return .failure(UnknownPart.requestOnly(name)) }
                for part in parts {
                    switch Converter.parse(part) {
                    case .success(let converter)?: converters.append(converter)
                    case .failure(let problem)?: return .failure(problem)
                    case nil: return .failure(UnknownPart(text: "%[\(expression)]"))
                    }
                }
                sample = known
                rest = rest[rest.index(after: close)...]
            } else {
                let name = String(rest.prefix { $0.isLetter })
                guard let known = variables[name] else { return .failure(UnknownPart(text: "%" + rest.prefix(8))) }
                sample = known
                rest = rest.dropFirst(name.count)
            }
            if !literal.isEmpty { value.pieces.append(.literal(literal)) }
            literal = ""
            value.pieces.append(converters.isEmpty ? .sample(sample) : .converted(sample, converters))
        }
        literal += rest
        if !literal.isEmpty || value.pieces.isEmpty { value.pieces.append(.literal(literal)) }
        if value.pieces.count == 1, case .literal(let text) = value.pieces[0] {
            value.literal = text
        } else {
            value.literal = nil
        }
        return .success(value)
    }

    public struct UnknownPart: Error, Equatable {
        public let text: String
        /// What is wrong when the part is known but cannot be used (a map file that cannot be read).
        public var problem: String?

        /// A request's fetch in a response's value, in HAProxy's words.
        static func requestOnly(_ fetch: String) -> UnknownPart {
            UnknownPart(
                text: fetch,
                problem: "sample fetch <\(fetch)> may not be reliably used here because it needs 'HTTP request "
                    + "headers' which is not available here")
        }

        public init(text: String, problem: String? = nil) {
            self.text = text
            self.problem = problem
        }
    }
}
