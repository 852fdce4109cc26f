import LogCore

/// One traffic log record: a TCP session (`option tcplog`) or an HTTP request (`option httplog`), with every
/// field of HAProxy's default formats.
///
/// The proxy fills one in when a session or request ends and formats it with ``HAProxyLogFormat``; logquery gets
/// one back from ``HAProxyLogParser``. Text fields hold the values unescaped (the formatter escapes them as
/// HAProxy does); `-` and empty are the same thing in a log, so an absent cookie is `""`.
public struct HAProxyLogRecord: Hashable, Sendable {
    public enum Mode: String, Hashable, Sendable {
        case tcp
        case http
    }

    public var mode: Mode
    /// `%ci`: the client address, IPv6 bare (`::1`), or `unix` for a UNIX socket listener.
    public var clientIP: String
    /// `%cp`: the client port (the listener id for a UNIX socket).
    public var clientPort: Int
    /// `%t` (TCP: accept date) or `%tr` (HTTP 1.7+: the request's date), in the proxy's local time, to the
    /// millisecond (`microsecond` is a multiple of 1000). Its `utcOffsetSeconds` matters only for CLF, which
    /// prints GMT.
    public var date: CivilTime
    /// `%f`: the frontend name (without the `~` that `%ft` adds for TLS listeners).
    public var frontend: String
    /// Whether the listener was TLS (`%ft` prints `frontend~`).
    public var frontendTLS: Bool
    /// `%b`: the backend (the frontend's name for requests HAProxy answered itself, e.g. denied).
    public var backend: String
    /// `%s`: the server, or `<NOSRV>`, `<STATS>`, an applet name.
    public var server: String
    /// `%TR`: time to receive the full request headers (HTTP), -1 if never.
    public var requestTime: Int
    /// `%Tw`: time waiting in queues, -1 if never queued.
    public var queueTime: Int
    /// `%Tc`: time to connect to the server, retries included, -1 if never connected.
    public var connectTime: Int
    /// `%Tr`: server time to the full response headers (HTTP), -1 if none arrived.
    public var responseTime: Int
    /// `%Ta` for HTTP (request start to end of response) or `%Tt` for TCP (accept to close).
    public var totalTime: Int
    /// `option logasap`: the line went out before the end, so `%Ta`/`%Tt` and `%B` carry a `+`.
    public var logASAP: Bool
    /// `%ST`: the HTTP status, -1 when none was sent. Unused in TCP mode.
    public var status: Int
    /// `%B`: bytes sent to the client (headers included for HTTP).
    public var bytesRead: Int64
    /// `%CC` / `%CS`: captured request and response cookies, `""` when none. They never contain a space
    /// (HAProxy's cookie parser stops at one), which is what keeps the log's fields apart.
    public var requestCookie: String
    public var responseCookie: String
    /// `%tsc` (HTTP) or `%ts` (TCP, where the cookie characters are `--`).
    public var terminationState: TerminationState
    /// `%ac/%fc/%bc/%sc`: process, frontend, backend and server connections when the line was logged.
    public var activeConnections: Int
    public var frontendConnections: Int
    public var backendConnections: Int
    public var serverConnections: Int
    /// `%rc`: connection retries.
    public var retries: Int
    /// Whether the session was redispatched to another server (`%rc` prints `+N`).
    public var redispatched: Bool
    /// `%sq/%bq`: positions in the server and backend queues.
    public var serverQueue: Int
    public var backendQueue: Int
    /// `%hr`: captured request headers (`capture request header`), nil when none are configured. A log line
    /// with a single `{…}` block is read as request captures: the line itself cannot say which it was.
    public var requestHeaders: [String]?
    /// `%hs`: captured response headers, nil when none are configured.
    public var responseHeaders: [String]?
    /// `%r`: the request line, `<BADREQ>` when it could not be parsed. HTTP only.
    public var requestLine: String

    /// The request line HAProxy logs for a request it could not parse.
    public static let badRequest = "<BADREQ>"
    /// The server name logged when no server was reached.
    public static let noServer = "<NOSRV>"
    /// The server name logged for the stats page.
    public static let statsServer = "<STATS>"

    public init(
        mode: Mode, clientIP: String, clientPort: Int, date: CivilTime, frontend: String,
        frontendTLS: Bool = false, backend: String, server: String, requestTime: Int = -1, queueTime: Int,
        connectTime: Int, responseTime: Int = -1, totalTime: Int, logASAP: Bool = false, status: Int = -1,
        bytesRead: Int64, requestCookie: String = "", responseCookie: String = "",
        terminationState: TerminationState, activeConnections: Int, frontendConnections: Int,
        backendConnections: Int, serverConnections: Int, retries: Int, redispatched: Bool = false,
        serverQueue: Int, backendQueue: Int, requestHeaders: [String]? = nil, responseHeaders: [String]? = nil,
        requestLine: String = ""
    ) {
        self.mode = mode
        self.clientIP = clientIP
        self.clientPort = clientPort
        self.date = date
        self.frontend = frontend
        self.frontendTLS = frontendTLS
        self.backend = backend
        self.server = server
        self.requestTime = requestTime
        self.queueTime = queueTime
        self.connectTime = connectTime
        self.responseTime = responseTime
        self.totalTime = totalTime
        self.logASAP = logASAP
        self.status = status
        self.bytesRead = bytesRead
        self.requestCookie = requestCookie
        self.responseCookie = responseCookie
        self.terminationState = terminationState
        self.activeConnections = activeConnections
        self.frontendConnections = frontendConnections
        self.backendConnections = backendConnections
        self.serverConnections = serverConnections
        self.retries = retries
        self.redispatched = redispatched
        self.serverQueue = serverQueue
        self.backendQueue = backendQueue
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
        self.requestLine = requestLine
    }

    /// Whether HAProxy counts this line as an error: it is then suppressed by nothing under
    /// `option dontlog-normal` and sent at `err` instead of `info` under `option log-separate-errors`.
    ///
    /// An error is a redispatch, a termination cause other than `-` and `L`, retries, or an HTTP status ≥ 500.
    public var isError: Bool {
        if redispatched || retries > 0 { return true }
        let cause = terminationState.cause
        if cause != UInt8(ascii: "-") && cause != UInt8(ascii: "L") { return true }
        return mode == .http && status >= 500
    }
}

/// The termination state: why and when a session ended, and what happened to the persistence cookies.
public struct TerminationState: Hashable, Sendable, CustomStringConvertible {
    /// 1st character: the first event that ended the session (`C`, `S`, `P`, `L`, `R`, `I`, `D`, `K`, `U`,
    /// `c`, `s`, or `-` for a normal end).
    public var cause: UInt8
    /// 2nd character: the phase at that moment (`R`, `Q`, `C`, `H`, `D`, `L`, `T`, or `-`).
    public var phase: UInt8
    /// 3rd character: the client's persistence cookie (`N`, `I`, `D`, `V`, `E`, `O`, `U`, or `-`).
    public var clientCookie: UInt8
    /// 4th character: what HAProxy did to the server's cookie (`N`, `I`, `U`, `P`, `R`, `D`, or `-`).
    public var serverCookie: UInt8

    public init(cause: UInt8, phase: UInt8, clientCookie: UInt8 = 0x2D, serverCookie: UInt8 = 0x2D) {
        self.cause = cause
        self.phase = phase
        self.clientCookie = clientCookie
        self.serverCookie = serverCookie
    }

    /// From its 2- or 4-character text (`SC`, `----`); nil for any other length or non-ASCII bytes.
    public init?(_ text: some StringProtocol) {
        let b = Array(text.utf8)
        guard (b.count == 2 || b.count == 4), b.allSatisfy({ ASCII.isPrint($0) && $0 != 0x20 }) else { return nil }
        self.init(
            cause: b[0], phase: b[1], clientCookie: b.count == 4 ? b[2] : 0x2D, serverCookie: b.count == 4 ? b[3] : 0x2D
        )
    }

    /// A normal end: `----`.
    public static let normal = TerminationState(cause: 0x2D, phase: 0x2D)

    /// The first character, named (HAProxy's configuration manual, "Session state at disconnection").
    public enum Cause: UInt8, Sendable, CaseIterable {
        /// `-`: the session ended normally.
        case normal = 0x2D
        /// `C`: the client aborted, or sent what the proxy could not read.
        case clientAbort = 0x43
        /// `S`: the server aborted, refused the connection, or could not be reached.
        case serverAbort = 0x53
        /// `P`: the proxy stopped it (a rule, a security check, a malformed response).
        case proxy = 0x50
        /// `L`: the proxy answered itself.
        case local = 0x4C
        /// `R`: a resource of the proxy ran out.
        case resource = 0x52
        /// `I`: an internal error.
        case internalError = 0x49
        /// `D`: killed because its server went down.
        case serverDown = 0x44
        /// `U`: killed because a backup server came up.
        case backupUp = 0x55
        /// `K`: killed by an administrator.
        case killed = 0x4B
        /// `c`: the client's timeout expired.
        case clientTimeout = 0x63
        /// `s`: the server's timeout expired.
        case serverTimeout = 0x73
    }

    /// The second character, named: where the session stood.
    public enum Phase: UInt8, Sendable, CaseIterable {
        /// `-`: the session ended normally.
        case normal = 0x2D
        /// `R`: waiting for a complete request from the client.
        case request = 0x52
        /// `Q`: waiting in a queue for a server.
        case queue = 0x51
        /// `C`: waiting for the connection to the server.
        case connect = 0x43
        /// `H`: waiting for the server's complete response headers.
        case headers = 0x48
        /// `D`: the data phase.
        case data = 0x44
        /// `L`: sending the last data to the client.
        case lastData = 0x4C
        /// `T`: held in the tarpit.
        case tarpit = 0x54
    }

    public init(_ cause: Cause, _ phase: Phase) {
        self.init(cause: cause.rawValue, phase: phase.rawValue)
    }

    /// Whether the first character is `cause`.
    public func endedBy(_ cause: Cause) -> Bool { self.cause == cause.rawValue }

    /// The two session characters (`%ts`).
    public var sessionState: String { String(decoding: [cause, phase], as: UTF8.self) }

    /// All four characters (`%tsc`).
    public var description: String { String(decoding: [cause, phase, clientCookie, serverCookie], as: UTF8.self) }
}
