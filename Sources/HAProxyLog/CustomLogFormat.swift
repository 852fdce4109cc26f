import LogCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `log-format` string as HAProxy 2.6 reads and renders it for traffic lines: `%ci`, `%{+Q}r`, `%[src]`,
/// `%%`, and text. Compiled once when the file is read; rendered per line from the session's record, what the
/// record leaves out (`HAProxyLogContext`), and the values of its sample expressions (fetched by the caller, who
/// knows the session).
///
/// As HAProxy reads it (facts from its `parse_logformat_string` and `sess_build_logline`, checked beside it):
/// - a space is a separator: spaces before the first item are dropped, several spaces write one, and a space
///   follows only an item that wrote something (`%hr` without captures writes nothing, and its space goes with it);
/// - every item is "mandatory" (`+M`): an empty string is written `-`, or `""` under `+Q`;
/// - `%{+Q}o` (or any flags on `%o`) changes the flags of the items after it;
/// - a `%` before a character that starts no variable is dropped; one before a digit or a space is an error;
/// - HTTP's variables (`%r`, `%TR`, `%CC`…) are refused in a TCP proxy.
public struct CustomLogFormat: Hashable, Sendable {
    /// The `%{…}` flags: `+Q` quotes strings, `+X` writes numbers and addresses in hexadecimal, `+E` escapes `"`,
    /// `\` and `]` with a backslash, `-M` writes nothing for an empty string.
    public struct Flags: OptionSet, Hashable, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let hexadecimal = Flags(rawValue: 1)
        public static let mandatory = Flags(rawValue: 2)
        public static let quote = Flags(rawValue: 4)
        public static let escape = Flags(rawValue: 8)
    }

    /// HAProxy 2.6's log-format variables.
    public enum Variable: String, CaseIterable, Hashable, Sendable {
        case bytesRead = "B", requestCookie = "CC", responseCookie = "CS", hostname = "H", uniqueID = "ID"
        case status = "ST", dateGMT = "T", activeTime = "Ta", connectTime = "Tc", handshakeTime = "Th"
        case idleTime = "Ti", dateLocal = "Tl", requestTimeWithIdle = "Tq", responseTime = "Tr"
        case requestTime = "TR", dataTime = "Td", timestamp = "Ts", totalTime = "Tt", userTime = "Tu"
        case queueTime = "Tw", bytesUploaded = "U", activeConnections = "ac", backend = "b"
        case backendConnections = "bc", backendSourceIP = "bi", backendSourcePort = "bp", backendQueue = "bq"
        case clientIP = "ci", clientPort = "cp", frontend = "f", frontendConnections = "fc", frontendIP = "fi"
        case frontendPort = "fp", frontendTransport = "ft", requestHeaders = "hr", requestHeaderList = "hrl"
        case responseHeaders = "hs", responseHeaderList = "hsl", method = "HM", path = "HP", pathOnly = "HPO"
        case query = "HQ", uri = "HU", version = "HV", logCounter = "lc", milliseconds = "ms", pid = "pid"
        case request = "r", retries = "rc", requestCounter = "rt", server = "s", serverConnections = "sc"
        case serverIP = "si", serverPort = "sp", serverQueue = "sq", tlsCipher = "sslc", tlsVersion = "sslv"
        case date = "t", requestDate = "tr", requestDateGMT = "trg", requestDateLocal = "trl"
        case termination = "ts", terminationWithCookies = "tsc"

        /// Refused outside `mode http`, as HAProxy refuses them.
        public var httpOnly: Bool {
            switch self {
            case .requestCookie, .responseCookie, .activeTime, .idleTime, .requestTimeWithIdle, .responseTime,
                .requestTime, .method, .path, .pathOnly, .query, .uri, .version, .request, .requestDate,
                .requestDateGMT, .requestDateLocal:
                return true
            default: return false
            }
        }
    }

    public enum Node: Hashable, Sendable {
        case separator
        case text([UInt8])
        case variable(Variable, Flags)
        /// The sample expression at this index of `samples`.
        case sample(Int, Flags)
    }

    public private(set) var nodes: [Node] = []
    /// The `%[…]` expressions, in order (written as in the file, without the brackets).
    public private(set) var samples: [String] = []
    /// A format whose output goes into an HTTP header (`unique-id-format`): samples are written as they are, their
    /// control characters `%XX`-encoded, without quotes or `-` (HAProxy's `LOG_OPT_HTTP`).
    public private(set) var forHeader = false

    /// Whether any item is one of `variables` (so a caller gathers what only those need).
    public func uses(_ variables: Set<Variable>) -> Bool {
        nodes.contains { if case .variable(let v, _) = $0 { return variables.contains(v) } else { return false } }
    }

    /// HAProxy's built-in formats, as log-format strings.
    public static let httplogText =
        "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
    public static let tcplogText = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
    public static let clfText =
        "%{+Q}o %{-Q}ci - - [%trg] %r %ST %B \"\" \"\" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc "
        + "%sq %bq %CC %CS %hrl %hsl"

    /// What is wrong with a format, in HAProxy's words.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
        public init(_ description: String) { self.description = description }
    }

    /// Reads `text` for a proxy in `mode http` (`http`) or `mode tcp`: a traffic line's format, or (`forHeader`)
    /// one whose output goes into a header, where items are not mandatory (HAProxy's `unique-id-format`).
    public static func parse(_ text: String, http: Bool, forHeader: Bool = false) throws(ParseError) -> CustomLogFormat {
        var format = CustomLogFormat()
        format.forHeader = forHeader
        var flags: Flags = forHeader ? [] : .mandatory
        let b = Array(text.utf8)
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty { format.nodes.append(.text(literal)) }
            literal.removeAll()
        }
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x20 {
                flush()
                format.nodes.append(.separator)
                i += 1
                continue
            }
            guard c == 0x25 else {
                literal.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < b.count else { throw ParseError(description: "truncated line after '%'") }
            var argument: [UInt8]?
            if b[i] == 0x7B {
                guard let close = b[(i + 1)...].firstIndex(of: 0x7D) else {
                    throw ParseError(description: "truncated line after '\(String(decoding: b[(i + 1)...], as: UTF8.self))'")
                }
                argument = Array(b[(i + 1)..<close])
                i = close + 1
                guard i < b.count, b[i] == 0x5B || isAlphanumeric(b[i]) else {
                    throw ParseError(
                        description: "parse argument modifier without variable name near '%{\(String(decoding: argument ?? [], as: UTF8.self))}'")
                }
            }
            let own = argument.map { applying($0, to: flags) } ?? flags
            if b[i] == 0x5B {
                let start = i + 1
                guard let close = expressionEnd(b, from: start) else {
                    throw ParseError(description: "missing ']' after '\(String(decoding: b[start...], as: UTF8.self))'")
                }
                let expression = String(decoding: b[start..<close], as: UTF8.self)
                guard !expression.isEmpty else { throw ParseError(description: "missing fetch method in sample expression") }
                flush()
                format.nodes.append(.sample(format.samples.count, own))
                format.samples.append(expression)
                i = close + 1
            } else if argument != nil || isAlpha(b[i]) {
                var end = i
                while end < b.count, isAlphanumeric(b[end]) { end += 1 }
                let name = String(decoding: b[i..<end], as: UTF8.self)
                i = end
                if name == "o" {
                    flags = own
                    continue
                }
                guard let variable = Variable(rawValue: name) else {
                    throw ParseError(
                        description: "no such format variable '\(name)'. If you wanted to emit the '%' character "
                            + "verbatim, you need to use '%%'")
                }
                guard http || !variable.httpOnly else {
                    throw ParseError(description: "format variable '\(name)' is reserved for HTTP mode")
                }
                flush()
                format.nodes.append(.variable(variable, own))
            } else if b[i] == 0x25 {
                literal.append(0x25)
                i += 1
            } else if isDigit(b[i]) || b[i] == 0x20 || b[i] == 0x09 {
                throw ParseError(
                    description: "unexpected variable name near '\(Character(Unicode.Scalar(b[i])))' at position \(i) "
                        + "line : '\(text)'. Maybe you want to write a single '%', use the syntax '%%'")
            }
            // Any other character after `%` starts text; HAProxy drops the `%`.
        }
        flush()
        return format
    }

    /// `+Q,-M`: each flag added or taken away (unknown names are ignored, as HAProxy ignores them).
    private static func applying(_ argument: [UInt8], to flags: Flags) -> Flags {
        var flags = flags
        for item in argument.split(separator: 0x2C, omittingEmptySubsequences: true) {
            guard let sign = item.first, sign == 0x2B || sign == 0x2D, item.count == 2 else { continue }
            let flag: Flags
            switch item.last {
            case 0x4D: flag = .mandatory
            case 0x51: flag = .quote
            case 0x58: flag = .hexadecimal
            case 0x45: flag = .escape
            default: continue
            }
            if sign == 0x2B { flags.insert(flag) } else { flags.remove(flag) }
        }
        return flags
    }

    /// The `]` that ends a sample expression starting at `from` (brackets inside a converter's parentheses, as in
    /// `regsub(\[,_)`, are part of it).
    private static func expressionEnd(_ b: [UInt8], from: Int) -> Int? {
        var depth = 0
        var i = from
        while i < b.count {
            switch b[i] {
            case 0x5C: i += 1
            case 0x28: depth += 1
            case 0x29: depth -= 1
            case 0x5D where depth <= 0: return i
            default: break
            }
            i += 1
        }
        return nil
    }

    private static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isAlphanumeric(_ c: UInt8) -> Bool { isAlpha(c) || isDigit(c) }
}

/// What a traffic line's custom format may name beyond its `HAProxyLogRecord`: addresses, the accept date, the
/// idle and handshake times, counters, the host, the TLS session, the sample values.
public struct HAProxyLogContext: Sendable {
    /// `%t`: when the session (an HTTP request's stream: the end of the previous one on a kept-alive connection)
    /// began; the record's date is the request's (`%tr`) in HTTP mode.
    public var acceptDate: CivilTime
    /// `%Th`, `%Ti` in milliseconds (0 when not measured).
    public var handshakeTime = 0
    public var idleTime = 0
    public var frontendIP: String?
    public var frontendPort: Int?
    public var serverIP: String?
    public var serverPort: Int?
    public var backendSourceIP: String?
    public var backendSourcePort: Int?
    /// `%U`: bytes from the client.
    public var bytesUploaded: Int64 = 0
    /// `%rt`: the process's stream number; `%lc`: the frontend's lines logged before this one.
    public var requestCounter = 0
    public var logCounter = 0
    public var hostname = ""
    public var pid = 0
    public var uniqueID: String?
    public var tlsVersion: String?
    public var tlsCipher: String?
    /// The values of the format's sample expressions, in order (nil: the sample has none).
    public var samples: [String?] = []

    public init(acceptDate: CivilTime) { self.acceptDate = acceptDate }
}

extension CustomLogFormat {
    /// Appends the line for `r` (without syslog header and newline), as HAProxy 2.6 builds it.
    public func format(_ r: HAProxyLogRecord, _ c: HAProxyLogContext, into out: inout [UInt8]) {
        var lastWasSpace = true
        for node in nodes {
            switch node {
            case .separator:
                if !lastWasSpace {
                    out.append(0x20)
                    lastWasSpace = true
                }
            case .text(let bytes):
                out.append(contentsOf: bytes)
                lastWasSpace = false
            case .sample(let index, let flags):
                let value = index < c.samples.count ? c.samples[index] : nil
                if forHeader {
                    for b in (value ?? "").utf8 {
                        if b < 0x20 && b != 0x09 || b == 0x7F {
                            out.append(0x25)
                            out.append(ASCII.hexDigit(b >> 4))
                            out.append(ASCII.hexDigit(b & 0x0F))
                        } else {
                            out.append(b)
                        }
                    }
                } else {
                    Self.appendText(value, flags, into: &out)
                }
                lastWasSpace = false
            case .variable(let v, let flags):
                if Self.append(v, flags, r, c, into: &out) { lastWasSpace = false }
            }
        }
    }

    public func format(_ r: HAProxyLogRecord, _ c: HAProxyLogContext) -> [UInt8] {
        var out: [UInt8] = []
        format(r, c, into: &out)
        return out
    }

    /// One variable; false when it wrote nothing (its separator then goes with it).
    private static func append(
        _ v: Variable, _ flags: Flags, _ r: HAProxyLogRecord, _ c: HAProxyLogContext, into out: inout [UInt8]
    ) -> Bool {
        let http = r.mode == .http
        // HAProxy's timers counted from the accept: the request's, the queue's end, the connection's, the
        // response's (-1: not reached).
        let th = c.handshakeTime
        let ti = http ? c.idleTime : 0
        let tq = http ? (r.requestTime >= 0 ? th + ti + r.requestTime : -1) : -1
        let total = http ? r.totalTime + th + ti : r.totalTime
        func plus() { if r.logASAP { out.append(0x2B) } }
        switch v {
        case .bytesRead:
            plus()
            out.appendDecimal(Int(r.bytesRead))
        case .bytesUploaded: out.appendDecimal(Int(c.bytesUploaded))
        case .requestCookie: appendText(r.requestCookie, flags, into: &out)
        case .responseCookie: appendText(r.responseCookie, flags, into: &out)
        case .hostname: appendText(c.hostname, flags, into: &out)
        case .uniqueID: appendText(c.uniqueID, flags, into: &out)
        case .status: out.appendDecimal(http ? r.status : 0)
        case .dateGMT: appendGMT(c.acceptDate, into: &out)
        case .dateLocal: appendLocal(c.acceptDate, into: &out)
        case .timestamp:
            let seconds = Int(c.acceptDate.epochMicroseconds / 1_000_000)
            flags.contains(.hexadecimal) ? appendHex(UInt64(UInt32(truncatingIfNeeded: seconds)), digits: 4, into: &out)
                : out.appendDecimal(seconds)
        case .milliseconds:
            let ms = c.acceptDate.microsecond / 1000
            flags.contains(.hexadecimal) ? appendHex(UInt64(ms), digits: 2, into: &out) : out.appendDecimal(ms, width: 3)
        case .date: HAProxyLogFormat.appendDate(c.acceptDate, milliseconds: true, into: &out)
        case .requestDate: HAProxyLogFormat.appendDate(r.date, milliseconds: true, into: &out)
        case .requestDateGMT: appendGMT(r.date, into: &out)
        case .requestDateLocal: appendLocal(r.date, into: &out)
        case .handshakeTime: out.appendDecimal(th)
        case .idleTime: out.appendDecimal(ti)
        case .requestTime: out.appendDecimal(r.requestTime)
        case .requestTimeWithIdle: out.appendDecimal(tq)
        case .queueTime: out.appendDecimal(r.queueTime)
        case .connectTime: out.appendDecimal(r.connectTime)
        case .responseTime: out.appendDecimal(r.responseTime)
        case .dataTime:
            if http {
                out.appendDecimal(r.responseTime >= 0 ? total - (tq + r.queueTime + r.connectTime + r.responseTime) : -1)
            } else {
                out.appendDecimal(r.connectTime >= 0 ? total - (th + r.queueTime + r.connectTime) : -1)
            }
        case .activeTime:
            plus()
            out.appendDecimal(r.totalTime)
        case .totalTime:
            plus()
            out.appendDecimal(total)
        case .userTime:
            plus()
            out.appendDecimal(total - ti)
        case .activeConnections: out.appendDecimal(r.activeConnections)
        case .frontendConnections: out.appendDecimal(r.frontendConnections)
        case .backendConnections: out.appendDecimal(r.backendConnections)
        case .serverConnections: out.appendDecimal(r.serverConnections)
        case .retries:
            if r.redispatched { out.append(0x2B) }
            out.appendDecimal(r.retries)
        case .serverQueue: out.appendDecimal(r.serverQueue)
        case .backendQueue: out.appendDecimal(r.backendQueue)
        case .requestCounter:
            flags.contains(.hexadecimal) ? appendHex(UInt64(c.requestCounter), digits: 4, into: &out)
                : out.appendDecimal(c.requestCounter)
        case .logCounter:
            flags.contains(.hexadecimal) ? appendHex(UInt64(c.logCounter), digits: 4, into: &out)
                : out.appendDecimal(c.logCounter)
        case .pid:
            flags.contains(.hexadecimal) ? appendHex(UInt64(c.pid), digits: 4, into: &out) : out.appendDecimal(c.pid)
        case .clientIP: appendIP(r.clientIP == "-" ? nil : r.clientIP, flags, into: &out)
        case .clientPort: appendPort(r.clientIP == "-" ? nil : r.clientPort, flags, into: &out)
        case .frontendIP: appendIP(c.frontendIP, flags, into: &out)
        case .frontendPort: appendPort(c.frontendPort, flags, into: &out)
        case .serverIP: appendIP(c.serverIP, flags, into: &out)
        case .serverPort: appendPort(c.serverPort, flags, into: &out)
        case .backendSourceIP: appendIP(c.backendSourceIP, flags, into: &out)
        case .backendSourcePort: appendPort(c.backendSourcePort, flags, into: &out)
        case .frontend: appendText(r.frontend, flags, into: &out)
        case .frontendTransport:
            if flags.contains(.quote) { out.append(0x22) }
            out.append(string: r.frontend)
            if r.frontendTLS { out.append(0x7E) }
            if flags.contains(.quote) { out.append(0x22) }
        case .backend: appendText(r.backend, flags, into: &out)
        case .server: appendText(r.server, flags, into: &out)
        case .tlsCipher: appendText(c.tlsCipher, flags, into: &out)
        case .tlsVersion: appendText(c.tlsVersion, flags, into: &out)
        case .termination:
            out.append(r.terminationState.cause)
            out.append(r.terminationState.phase)
        case .terminationWithCookies:
            let t = r.terminationState
            out.append(contentsOf: [t.cause, t.phase, t.clientCookie, t.serverCookie])
        case .requestHeaders, .responseHeaders:
            // nil: no captures declared (an item that writes nothing).
            guard let captures = v == .requestHeaders ? r.requestHeaders : r.responseHeaders else { return false }
            if flags.contains(.quote) { out.append(0x22) }
            out.append(0x7B)
            for (i, value) in captures.enumerated() {
                if i > 0 { out.append(0x7C) }
                appendEncoded(value.utf8, captures: true, flags, into: &out)
            }
            out.append(0x7D)
            if flags.contains(.quote) { out.append(0x22) }
        case .requestHeaderList, .responseHeaderList:
            guard let captures = v == .requestHeaderList ? r.requestHeaders : r.responseHeaders, !captures.isEmpty
            else { return false }
            for (i, value) in captures.enumerated() {
                if i > 0 { out.append(0x20) }
                if flags.contains(.quote) {
                    out.append(0x22)
                    appendEncoded(value.utf8, captures: true, flags, into: &out)
                    out.append(0x22)
                } else if value.isEmpty {
                    out.append(0x2D)
                } else {
                    appendEncoded(value.utf8, captures: true, flags, into: &out)
                }
            }
        case .request:
            if flags.contains(.quote) { out.append(0x22) }
            appendEncoded(r.requestLine.utf8, captures: false, flags, into: &out)
            if flags.contains(.quote) { out.append(0x22) }
        case .method, .path, .pathOnly, .query, .uri, .version:
            if flags.contains(.quote) { out.append(0x22) }
            appendEncoded(RequestLineParts(r.requestLine).part(v).utf8, captures: false, flags, into: &out)
            if flags.contains(.quote) { out.append(0x22) }
        }
        return true
    }

    /// A string item (HAProxy's `lf_text`): copied as it is (`+E`: `"`, `\` and `]` after a backslash); empty or
    /// absent, `-` (`""` under `+Q`, nothing under `-M`).
    static func appendText(_ text: String?, _ flags: Flags, into out: inout [UInt8]) {
        let quoted = flags.contains(.quote)
        if quoted { out.append(0x22) }
        if let text, !text.isEmpty {
            if flags.contains(.escape) {
                for b in text.utf8 {
                    if b == 0x22 || b == 0x5C || b == 0x5D { out.append(0x5C) }
                    out.append(b)
                }
            } else {
                out.append(string: text)
            }
        } else if !quoted && flags.contains(.mandatory) {
            out.append(0x2D)
        }
        if quoted { out.append(0x22) }
    }

    /// A request's or a capture's bytes, `#XX`-encoded as HAProxy encodes them (`+E`: `\` and `]` after a
    /// backslash too).
    private static func appendEncoded(
        _ bytes: some Sequence<UInt8>, captures: Bool, _ flags: Flags, into out: inout [UInt8]
    ) {
        guard flags.contains(.escape) else {
            HAProxyLogFormat.appendEscaped(bytes, captures: captures, into: &out)
            return
        }
        for b in bytes {
            if HAProxyLogFormat.needsEscape(b, captures: captures) {
                out.append(0x23)
                out.append(ASCII.hexDigit(b >> 4))
                out.append(ASCII.hexDigit(b & 0x0F))
            } else {
                if b == 0x5C || b == 0x5D { out.append(0x5C) }
                out.append(b)
            }
        }
    }

    private static func appendIP(_ ip: String?, _ flags: Flags, into out: inout [UInt8]) {
        guard let ip, flags.contains(.hexadecimal), let bytes = addressBytes(ip) else {
            return appendText(ip, flags, into: &out)
        }
        for b in bytes {
            out.append(ASCII.hexDigit(b >> 4))
            out.append(ASCII.hexDigit(b & 0x0F))
        }
    }

    private static func appendPort(_ port: Int?, _ flags: Flags, into out: inout [UInt8]) {
        guard let port else { return appendText(nil, flags, into: &out) }
        flags.contains(.hexadecimal) ? appendHex(UInt64(port), digits: 4, into: &out) : out.appendDecimal(port)
    }

    /// Upper-case hexadecimal, at least `digits` wide (C's `%0NX`).
    private static func appendHex(_ value: UInt64, digits: Int, into out: inout [UInt8]) {
        var hex: [UInt8] = []
        var v = value
        repeat {
            hex.append(ASCII.hexDigit(UInt8(v & 0x0F)))
            v >>= 4
        } while v > 0
        if hex.count < digits { hex.append(contentsOf: repeatElement(0x30, count: digits - hex.count)) }
        out.append(contentsOf: hex.reversed())
    }

    /// `dd/Mon/yyyy:HH:MM:SS +0000`.
    private static func appendGMT(_ date: CivilTime, into out: inout [UInt8]) {
        HAProxyLogFormat.appendDate(date.converted(toUTCOffset: 0), milliseconds: false, into: &out)
        out.append(contentsOf: " +0000".utf8)
    }

    /// `dd/Mon/yyyy:HH:MM:SS +hhmm` in the date's own zone.
    private static func appendLocal(_ date: CivilTime, into out: inout [UInt8]) {
        HAProxyLogFormat.appendDate(date, milliseconds: false, into: &out)
        let offset = date.utcOffsetSeconds
        out.append(0x20)
        out.append(offset < 0 ? 0x2D : 0x2B)
        out.appendDecimal(abs(offset) / 3600, width: 2)
        out.appendDecimal(abs(offset) % 3600 / 60, width: 2)
    }

    /// An address's network bytes (4 or 16), nil when `text` is none.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: v6) { Array($0) }
        }
        return nil
    }
}

/// `%HM`, `%HU`, `%HP`, `%HPO`, `%HQ`, `%HV` cut from a request line as HAProxy 2.6 cuts them (`<BADREQ>` for a
/// line without a space; `HTTP/0.9` for one without a version).
struct RequestLineParts {
    let line: Substring
    init(_ line: String) { self.line = Substring(line) }

    private static func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" }

    /// The part (a slice of the line, or one of HAProxy's fixed words: no string is made for it).
    func part(_ v: CustomLogFormat.Variable) -> Substring {
        let bad = Substring(HAProxyLogRecord.badRequest)
        guard line != bad else { return bad }
        let methodEnd = line.firstIndex(where: Self.isSpace) ?? line.endIndex
        if v == .method { return methodEnd == line.endIndex ? bad : line[..<methodEnd] }
        if v == .query {
            guard let mark = line.firstIndex(of: "?") else { return "" }
            let end = line[mark...].firstIndex(where: Self.isSpace) ?? line.endIndex
            return line[mark..<end]
        }
        let uriStart = line[methodEnd...].firstIndex(where: { !Self.isSpace($0) }) ?? line.endIndex
        guard uriStart > methodEnd else { return bad }
        let uriEnd = line[uriStart...].firstIndex(where: Self.isSpace) ?? line.endIndex
        let uri = line[uriStart..<uriEnd]
        switch v {
        case .uri: return uri
        case .path: return uri.prefix { $0 != "?" }
        case .pathOnly:
            // An absolute URI's path: after the scheme and authority.
            var rest = uri
            if let scheme = rest.range(of: "://"), !rest[..<scheme.lowerBound].contains("/") {
                rest = rest[scheme.upperBound...]
                rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? ""
            }
            return rest.prefix { $0 != "?" }
        default:
            let versionStart = line[uriEnd...].firstIndex(where: { !Self.isSpace($0) }) ?? line.endIndex
            return versionStart == line.endIndex ? "HTTP/0.9" : line[versionStart...]
        }
    }
}
