import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// A check made of steps, as HAProxy 2.6's tcp-check engine runs them: `option tcp-check` with `tcp-check
/// connect [port N]`, `send STRING`, `send-binary HEX`, `expect [!] string|rstring|binary|rbinary PATTERN` and
/// `comment`, and the protocol checks HAProxy builds on the same engine (`option mysql-check`, `option
/// redis-check`). Value types only: `TCPCheckRun` takes the connection's events and says what to do next, with
/// HAProxy's statuses and messages; the health checker does the I/O.
public struct TCPCheck: Hashable, Sendable {
    /// Which rule set: the user's (`option tcp-check`), whose messages say the step, or a protocol check's.
    public enum Kind: Hashable, Sendable {
        case generic
        case mysql
        case redis
        case pgsql
        /// `option ssl-hello-chk`: HAProxy's SSLv3 client hello, its date filled in when sent.
        case sslHello
    }

    public enum Rule: Hashable, Sendable {
        /// `connect [port N]`; `implicit` for the one HAProxy adds when the rules do not start with a connect.
        case connect(port: Int?, implicit: Bool)
        case send([UInt8])
        case expect(Expect)
    }

    public struct Expect: Hashable, Sendable {
        public enum Pattern: Hashable, Sendable {
            case string([UInt8])
            case binary([UInt8])
            /// `rstring` (on the bytes as text) and `rbinary` (on their hexadecimal dump), compiled when read.
            case regex(PatternRegexes)
            case binaryRegex(PatternRegexes)
            /// MySQL's initial handshake packet, then (with a user) the answer to the authentication.
            case mysqlHandshake
            case mysqlOK
        }

        public var pattern: Pattern
        public var inverse = false
        public var errorStatus: CheckStatus?
        /// `ok-status` and `tout-status` (Layer7 passed and timeout unless set).
        public var okStatus: CheckStatus?
        public var timeoutStatus: CheckStatus?
        /// `on-error`: HAProxy's redis check reports the answer's first line.
        public var reportsAnswerOnError = false
        /// `on-error`: HAProxy's pgsql check reports the answer from this offset, as a C string (`res.payload`).
        public var reportsPayloadFrom: Int?
        /// `on-error` as fixed text.
        public var onError: String?
        public var onSuccess: String?
        public var comment: String?
        /// `min-recv`: the bytes to wait for before judging (a mismatch is then final).
        public var minimumReceived: Int?

        public init(_ pattern: Pattern, inverse: Bool = false) {
            self.pattern = pattern
            self.inverse = inverse
        }

        /// How HAProxy names the pattern in its messages.
        var described: String {
            switch pattern {
            case .string(let s): " '\(String(decoding: s, as: UTF8.self))'"
            case .binary: " (binary)"
            case .regex: " (regex)"
            case .binaryRegex: " (binary regex)"
            case .mysqlHandshake, .mysqlOK: " (custom function)"
            }
        }

        /// The step's description in a connection error's message.
        var stepDescription: String {
            switch pattern {
            case .string(let s): " (expect string '\(String(decoding: s, as: UTF8.self))')"
            case .binary(let b): " (expect binary '\(TCPCheck.hex(b).lowercased())')"
            case .regex: " (expect regex)"
            case .binaryRegex: " (expect binary regex)"
            case .mysqlHandshake, .mysqlOK: " (expect custom function)"
            }
        }
    }

    /// HAProxy's check statuses, with the words its logs give them.
    public enum CheckStatus: String, Hashable, Sendable {
        case l4ok = "L4OK", l4timeout = "L4TOUT", l4connection = "L4CON"
        case l6ok = "L6OK", l6timeout = "L6TOUT", l6response = "L6RSP"
        case l7ok = "L7OK", l7timeout = "L7TOUT", l7response = "L7RSP", l7status = "L7STS"

        public var description: String {
            switch self {
            case .l4ok: "Layer4 check passed"
            case .l4timeout: "Layer4 timeout"
            case .l4connection: "Layer4 connection problem"
            case .l6ok: "Layer6 check passed"
            case .l6timeout: "Layer6 timeout"
            case .l6response: "Layer6 invalid response"
            case .l7ok: "Layer7 check passed"
            case .l7timeout: "Layer7 timeout"
            case .l7response: "Layer7 invalid response"
            case .l7status: "Layer7 wrong status"
            }
        }

        public var passed: Bool { self == .l4ok || self == .l6ok || self == .l7ok }
        /// HAProxy prints a code for the statuses with layer 5-7 data.
        public var hasCode: Bool { self == .l7ok || self == .l7status }
    }

    public var kind: Kind
    public var rules: [Rule]
    /// Each rule's step number in messages (HAProxy's rule index + 1; 0 for the implicit first connect).
    public var steps: [Int]
    /// `tcp-check comment` before each rule, if any.
    public var comments: [String?]

    /// The user's rules; a connect is put first when they do not start with one.
    public init(kind: Kind, rules: [Rule], comments: [String?]? = nil) {
        self.kind = kind
        var rules = rules
        var comments = comments ?? Array(repeating: nil, count: rules.count)
        var steps = rules.indices.map { $0 + 1 }
        let startsWithConnect: Bool
        if case .connect = rules.first { startsWithConnect = true } else { startsWithConnect = false }
        if !startsWithConnect {
            rules.insert(.connect(port: nil, implicit: true), at: 0)
            comments.insert(nil, at: 0)
            steps.insert(0, at: 0)
        }
        self.rules = rules
        self.steps = steps
        self.comments = comments
    }

    /// `option redis-check`: PING, then `+PONG`.
    public static let redis: TCPCheck = {
        var expect = Expect(.string(Array("+PONG\r\n".utf8)))
        expect.errorStatus = .l7status
        expect.reportsAnswerOnError = true
        expect.onSuccess = "Redis server is ok"
        return TCPCheck(kind: .redis, rules: [.send(Array("*1\r\n$4\r\nPING\r\n".utf8)), .expect(expect)])
    }()

    /// `option pgsql-check user NAME`: HAProxy's startup packet (protocol 3.0, the user), then an answer that is
    /// not an error (`E`: its first field reported) and is an authentication request HAProxy knows (ok, Kerberos,
    /// clear text, crypt, MD5, SCM).
    public static func pgsql(user: String) -> TCPCheck {
        let name = Array(user.utf8)
        let length = 15 + name.count
        var packet: [UInt8] = [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
            UInt8(length & 0xFF)]
        packet += [0x00, 0x03, 0x00, 0x00] + Array("user".utf8) + [0] + name + [0, 0]
        var notError = Expect(.regex(PatternRegexes.constant("^E")), inverse: true)
        notError.minimumReceived = 5
        notError.errorStatus = .l7response
        notError.reportsPayloadFrom = 6
        var request = Expect(.binaryRegex(PatternRegexes.constant("^52000000(08|0A|0C)000000(00|02|03|04|05|06)")))
        request.minimumReceived = 9
        request.errorStatus = .l7status
        request.onSuccess = "PostgreSQL server is ok"
        request.onError = "PostgreSQL unknown error"
        return TCPCheck(
            kind: .pgsql, rules: [.connect(port: nil, implicit: false), .send(packet), .expect(notError), .expect(request)])
    }

    /// `option ssl-hello-chk`: HAProxy 2.6's SSLv3 client hello (its date filled in when sent, its random the
    /// text `HAPROXYSSLCHK\nHAPROXYSSLCHK\n`, 39 ciphers, no compression), then an answer whose first byte is a TLS
    /// handshake or alert record (`rbinary ^1[56]`, at least 5 bytes): Layer6 passed, invalid response, timeout.
    public static let sslHello: TCPCheck = {
        var hello: [UInt8] = [0x16, 0x03, 0x00, 0x00, 0x79, 0x01, 0x00, 0x00, 0x75, 0x03, 0x00, 0, 0, 0, 0]
        hello += Array("HAPROXYSSLCHK\nHAPROXYSSLCHK\n".utf8)
        hello += [0x00, 0x00, 0x4E]
        for cipher in Array(0x01...0x1B) + Array(0x2F...0x3A) { hello += [0x00, UInt8(cipher)] }
        hello += [0x01, 0x00]
        var expect = Expect(.binaryRegex(PatternRegexes.constant("^1[56]")))
        expect.minimumReceived = 5
        expect.okStatus = .l6ok
        expect.errorStatus = .l6response
        expect.timeoutStatus = .l6timeout
        return TCPCheck(kind: .sslHello, rules: [.connect(port: nil, implicit: false), .send(hello), .expect(expect)])
    }()

    /// Where the hello's date goes (its gmt_unix_time, big-endian).
    static let sslHelloDateOffset = 11

    /// `option mysql-check [user NAME [post-41|pre-41]]`: the server's handshake; with a user, HAProxy's
    /// authentication packet (no password) and COM_QUIT, then the server's OK.
    public static func mysql(user: String?, post41: Bool = true) -> TCPCheck {
        guard let user else {
            return TCPCheck(kind: .mysql, rules: [.connect(port: nil, implicit: false), .expect(Expect(.mysqlHandshake))])
        }
        let name = Array(user.utf8)
        var packet: [UInt8]
        if post41 {
            let length = name.count + 7 + 27
            packet = [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), 1]
            packet += [0x00, 0x82, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01, 0x21] + Array(repeating: 0, count: 23)
        } else {
            let length = name.count + 7
            packet = [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), 1]
            packet += [0x00, 0x80, 0x00, 0x00, 0x01]
        }
        packet += name + [0x00, 0x00] + [0x01, 0x00, 0x00, 0x00, 0x01]
        return TCPCheck(
            kind: .mysql,
            rules: [
                .connect(port: nil, implicit: false), .send(packet), .expect(Expect(.mysqlHandshake)),
                .expect(Expect(.mysqlOK)),
            ])
    }

    /// Bytes as HAProxy dumps them for `rbinary` (upper-case hexadecimal).
    static func hex(_ bytes: [UInt8]) -> String { ASCII.lowerHex(bytes).uppercased() }

    /// `send-binary`/`expect binary` patterns: pairs of hexadecimal digits.
    public static func bytes(hex: String) -> [UInt8]? {
        guard !hex.isEmpty else { return nil }
        return ASCII.bytes(hex: hex)
    }
}

/// One run of a `TCPCheck` on one connection, as HAProxy's `tcpcheck_main` runs it: each event from the connection
/// advances it until it needs the network again or has a verdict.
public struct TCPCheckRun: Sendable {
    public enum Action: Equatable, Sendable {
        /// Open a connection (to the check port, or `port`), closing the one before if any.
        case connect(port: Int?)
        case send([UInt8])
        /// Wait for data, the connection's end or the timeout.
        case wait
        case done(Verdict)
    }

    public struct Verdict: Equatable, Sendable {
        public var status: TCPCheck.CheckStatus
        public var code: Int?
        public var info: String?
    }

    public let check: TCPCheck
    private var index = 0
    private var input: [UInt8] = []
    private var mustRead = true
    private var closed = false
    private var connected = false
    /// Data came since the expect that waits for a read began.
    private var readOccurred = false

    /// When the check began, seconds since 1970 (the SSL hello's date).
    private let startedAt: UInt32

    public init(_ check: TCPCheck, startedAt: UInt32 = UInt32(truncatingIfNeeded: time(nil))) {
        self.check = check
        self.startedAt = startedAt
    }

    /// The first actions: HAProxy always starts with a connect.
    public mutating func start() -> [Action] { advance() }

    public mutating func connectionOpened() -> [Action] {
        connected = true
        closed = false
        input = []
        mustRead = true
        index += 1
        return advance()
    }

    public mutating func received(_ bytes: [UInt8]) -> [Action] {
        input += bytes
        readOccurred = true
        return advance()
    }

    public mutating func connectionClosed() -> [Action] {
        closed = true
        readOccurred = true
        return advance()
    }

    /// The connection could not be made (`reason`: the system's words, "Connection refused").
    public func connectFailed(_ reason: String) -> Verdict {
        Verdict(status: .l4connection, code: nil, info: reason + stepSuffix(connecting: true))
    }

    /// The check's time ran out.
    public func timedOut() -> Verdict {
        guard connected else {
            let suffix = stepSuffix(connecting: true)
            return Verdict(status: .l4timeout, code: nil, info: suffix.isEmpty ? nil : suffix)
        }
        let suffix = stepSuffix(connecting: false)
        var status = TCPCheck.CheckStatus.l7timeout
        if index < check.rules.count, case .expect(let e) = check.rules[index], let own = e.timeoutStatus { status = own }
        return Verdict(status: status, code: nil, info: suffix.isEmpty ? nil : suffix)
    }

    /// What HAProxy appends to a connection error of a user's tcp-check: where it happened.
    private func stepSuffix(connecting: Bool) -> String {
        guard check.kind == .generic, index < check.rules.count else { return "" }
        let step = check.steps[index]
        if step == 0 { return " at initial connection step of tcp-check" }
        var text = " at step \(step) of tcp-check"
        switch check.rules[index] {
        case .connect(let port, _): text += port.map { " (connect port \($0))" } ?? " (connect)"
        case .expect(let e): text += e.stepDescription
        case .send: text += " (send)"
        }
        if let comment = check.comments[index] { text += " comment: '\(comment)'" }
        return text
    }

    private mutating func advance() -> [Action] {
        var actions: [Action] = []
        while index < check.rules.count {
            switch check.rules[index] {
            case .connect(let port, _):
                // `connectionOpened` moves past it once the connection is made.
                actions.append(.connect(port: port))
                connected = false
                return actions
            case .send(var bytes):
                input = []
                mustRead = true
                readOccurred = false
                if check.kind == .sslHello && bytes.count >= TCPCheck.sslHelloDateOffset + 4 {
                    // `%[date(),htonl,hex]`
                    for k in 0..<4 { bytes[TCPCheck.sslHelloDateOffset + k] = UInt8(truncatingIfNeeded: startedAt >> (24 - 8 * k)) }
                }
                actions.append(.send(bytes))
                index += 1
            case .expect(let expect):
                if mustRead {
                    guard readOccurred || closed else {
                        actions.append(.wait)
                        return actions
                    }
                    mustRead = false
                    if input.isEmpty && closed {
                        let status = expect.errorStatus ?? .l7response
                        var info = "TCPCHK got an empty response at step \(check.steps[index])"
                        if let comment = expect.comment { info += " comment: '\(comment)'" }
                        actions.append(.done(Verdict(status: status, code: nil, info: info)))
                        return actions
                    }
                }
                switch evaluate(expect) {
                case .wait:
                    actions.append(.wait)
                    return actions
                case .next:
                    index += 1
                case .stop(let verdict):
                    actions.append(.done(verdict))
                    return actions
                }
            }
        }
        actions.append(.done(success()))
        return actions
    }

    private enum Evaluation {
        case wait
        case next
        case stop(Verdict)
    }

    private func evaluate(_ expect: TCPCheck.Expect) -> Evaluation {
        let lastRead = closed
        if !lastRead, let minimum = expect.minimumReceived, input.count < minimum { return .wait }
        let match: Bool
        switch expect.pattern {
        case .mysqlHandshake: return mysqlPacket(at: 0, expect)
        case .mysqlOK:
            // After the handshake packet.
            guard input.count >= 4 else { return closed ? .stop(Verdict(status: .l7response, code: nil, info: nil)) : .wait }
            return mysqlPacket(at: 4 + Int(input[0]) + Int(input[1]) << 8 + Int(input[2]) << 16, expect)
        case .string(let p), .binary(let p):
            if !lastRead && input.count < p.count { return .wait }
            match = TCPCheckRun.contains(input, p)
        case .regex(let r):
            match = r.matches(String(decoding: input, as: UTF8.self))
        case .binaryRegex(let r):
            match = r.matches(TCPCheck.hex(input))
        }
        // Without `min-recv`, a mismatch waits for more; with it, the answer so far decides.
        if !match && !lastRead && expect.minimumReceived == nil { return .wait }
        if match != expect.inverse { return .next }
        let status = expect.errorStatus ?? .l7response
        var info: String
        if expect.reportsAnswerOnError {
            // `%[res.payload(0,0),cut_crlf]`: the answer up to its first CR or LF.
            info = String(decoding: input.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        } else if let offset = expect.reportsPayloadFrom {
            // `%[res.payload(N,0)]`, printed as a C string: up to the first NUL.
            info = String(decoding: input.dropFirst(offset).prefix { $0 != 0 }, as: UTF8.self)
        } else if let text = expect.onError {
            info = text
        } else if check.kind == .generic {
            info = (match ? "TCPCHK matched unwanted content" : "TCPCHK did not match content") + expect.described
            info += " at step \(check.steps[index])"
        } else {
            info = ""
        }
        if let comment = expect.comment { info += " comment: " + comment }
        return .stop(Verdict(status: status, code: nil, info: info.isEmpty ? nil : info))
    }

    /// HAProxy's MySQL packet check at `offset`: a whole packet, not an error packet (0xff: its code and text
    /// reported); the last rule's success reports the server's version.
    private func mysqlPacket(at offset: Int, _ expect: TCPCheck.Expect) -> Evaluation {
        guard input.count >= offset + 4 else {
            return closed ? .stop(Verdict(status: .l7response, code: nil, info: nil)) : .wait
        }
        let length = Int(input[offset]) + Int(input[offset + 1]) << 8 + Int(input[offset + 2]) << 16
        guard input.count >= offset + length + 4 else {
            return closed ? .stop(Verdict(status: .l7response, code: nil, info: nil)) : .wait
        }
        if input.count > offset + 4 && input[offset + 4] == 0xFF {
            let code = input.count > offset + 6 ? Int(input[offset + 5]) + Int(input[offset + 6]) << 8 : 0
            let text = input.count > offset + 7 ? Array(input[(offset + 7)...]) : []
            return .stop(Verdict(status: .l7status, code: code, info: String(decoding: text, as: UTF8.self)))
        }
        return .next
    }

    private func success() -> Verdict {
        guard let last = check.rules.last else { return Verdict(status: .l7ok, code: 0, info: "(tcp-check)") }
        switch last {
        case .expect(let expect):
            if case .mysqlHandshake = expect.pattern { return mysqlVersion() }
            if case .mysqlOK = expect.pattern { return mysqlVersion() }
            if let own = expect.okStatus {
                // A protocol check's success says nothing more (HAProxy's "(tcp-check)" is for user rules).
                return Verdict(status: own, code: nil, info: expect.onSuccess ?? (check.kind == .generic ? "(tcp-check)" : nil))
            }
            return Verdict(status: .l7ok, code: 0, info: expect.onSuccess ?? "(tcp-check)")
        case .connect(_, let implicit):
            return Verdict(status: .l4ok, code: nil, info: implicit ? nil : "(tcp-check)")
        case .send:
            return Verdict(status: .l7ok, code: 0, info: "(tcp-check)")
        }
    }

    /// The server's version from its handshake (after the packet header and the protocol byte, up to its NUL).
    private func mysqlVersion() -> Verdict {
        let version = input.count > 5 ? input[5...].prefix { $0 != 0 } : []
        return Verdict(status: .l7ok, code: 0, info: String(decoding: version, as: UTF8.self))
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
