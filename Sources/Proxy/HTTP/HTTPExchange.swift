import HAProxyLog
import LogCore
import NIOCore
import NIOHTTP1

/// One request and its response on a client connection: what the log line needs and where the exchange is.
final class Exchange: BackendSeat {
    let head: HTTPRequestHead
    /// The head sent to the server (an `Expect` answered here is taken out).
    var forwardHead: HTTPRequestHead
    /// `%r`: `METHOD URI VERSION`, or `<BADREQ>`.
    var requestLine: String
    /// `%tr`: when the request's first byte arrived.
    let date: CivilTime
    let start: NIODeadline
    /// When the headers were complete (nil: never).
    let headersAt: NIODeadline?
    /// The client's byte count when the exchange began (the log's `%B` is what was written since).
    let bytesOutStart: Int64
    /// The client's connection stays open after this exchange (false once a soft stop has begun).
    var clientKeepAlive: Bool

    /// Where the exchange stands (read, answered by whom, how far its server leg came, logged).
    var state = ExchangeState()
    var requestDone: Bool { state.requestDone }
    var logged: Bool { state.logged }
    var requestBytes: Int64 = 0
    /// `%rt`: the exchange's number among the process's streams (HAProxy makes a stream per request).
    let stream = ProxyRuntime.Frontend.nextStream()
    /// A rule rewrote the request's target or a header's value (what follows the rules then reads `forwardHead`).
    var rewritten = false
    /// The request as it goes to its backend, for `balance uri|url_param|hdr`.
    var balanceRequest: HTTPRequestHead? { forwardHead }
    /// `compression`: the settings that apply and the algorithm the request asked for (decided as it first goes to
    /// a server), then, once the response is found compressible, its compressor (nil for `identity`).
    var compression: (settings: CompressionSettings, algorithm: CompressionSettings.Algorithm?, asked: Bool)?
    var compressing: CompressionSettings.Algorithm?
    var deflater: Deflater?
    /// `unique-id-format`'s value, once made (`unique-id-header`).
    var uniqueID: String?
    /// The server connection's own and far addresses, kept for a `log-format` that names them.
    var serverAddresses: (local: SocketAddress?, remote: SocketAddress?)?

    /// `%U` as HAProxy 2.6 counts a request: its head in its internal form (21 bytes of start-line structure,
    /// the method, URI and version, each header's name and value but `Connection`, which HAProxy's parser takes
    /// out; checked against HAProxy 2.6.12), then the body.
    var uploadedBytes: Int64 {
        var size = 21 + head.method.rawValue.utf8.count + head.uri.utf8.count + 8
        for (name, value) in head.headers where name.utf8.count != 10 || name.lowercased() != "connection" {
            size += name.utf8.count + value.utf8.count
        }
        return Int64(size) + requestBytes
    }
    /// What `ignore-persist`/`force-persist` decided for the request's persistence cookie.
    var persistence = PersistenceCookies.Override.none
    var forcesPersistence: Bool { persistence == .force }
    /// `option http-buffer-request` in its backend: the request waits there for its body before a server is chosen.
    var awaitingBody: ProxyRuntime.Backend?
    /// `retry-on` beyond a failed connection: the body as it went to the server, kept to be sent again (nil: the
    /// request did not go out whole, HAProxy's condition, and is not retried on a response).
    var replay: [ByteBuffer]?
    /// Body parts read before a server connection was ready.
    var body: [ByteBuffer] = []

    var backend: ProxyRuntime.Backend?
    var backendName: String?
    /// A name logged instead of a server's (`<STATS>`).
    var serverName: String?
    /// The request's place with its backend (see `BackendAssignee`).
    var claim = BackendClaim()
    /// Cookie persistence: the server the request's cookie names (see `PersistenceCookies`), and the log's two
    /// cookie characters (nil: `N`).
    var persistTo: Int?
    /// `option prefer-last-server`: the server of the connection's last request (see `BackendSeat`).
    var preferredServer: Int?
    /// The backend's `stick` rules for this request (their keys are written with the server once it answers).
    var stickiness: StickPersistence?
    /// `http-request set-src`: the client's address for this request (nil: the connection's).
    var source: (address: SocketAddress?, ip: String?)?
    var cookieClient: UInt8?
    var cookieServer: UInt8?
    var ticket: ProxyRuntime.Backend.Ticket?
    var queueTimer: (any SessionTimer)?
    var dequeuedAt: NIODeadline?
    /// Set when the log's `Tw` is not measured (the stats page logs 0).
    var queueTime: Int?
    /// The request's time is not logged (`-1`): a tarpitted request, as HAProxy logs it.
    var requestTimeUnknown = false
    /// A request for the stats page that its `stats http-request` rules answered (denied, asked for credentials).
    /// HAProxy 2.6 starts the page's applet before those rules, and the applet then answers the request the rule
    /// consumed with its own 400 (which the client never gets): the line says 400, counts both answers' bytes and
    /// times the applet's "connection" (compared side by side).
    var answeredByStatsRule = false
    /// Logged when its response's head came (`option logasap`): not again at its end.
    var loggedEarly = false
    var connection: HTTPServerConnection?
    var connectedAt: NIODeadline?

    var responseHead: HTTPHead?
    var responseAt: NIODeadline?
    /// The response's size as HAProxy 2.6 logs it (`%B`): its head as stored inside HAProxy, then the body.
    var countedBytes: Int64 = 0
    /// What `%B` counts of an interim response the proxy made before the exchange began (`100 Continue`).
    var interimLogged: Int64 = 0
    var status = -1
    /// How the response goes back (decided when its head arrives; before that, nothing is relayed).
    var plan = ResponsePlan.none
    /// `capture request|response header` values, nil until taken.
    var requestCaptures: [String]?
    var responseCaptures: [String]?
    /// The log's `%B` when the proxy answered itself (HAProxy's own count for its pages).
    var loggedBytes: Int64?
    /// What HAProxy counts in `%B` of a server's response an `http-response deny|return` rule dropped (its head as
    /// stored, the body that came with it), before the reply's own size.
    var droppedResponseBytes: Int64 = 0
    /// What the `http-after-response` rules added to (or, below 0, removed from) a reply the proxy made, in `%B`.
    var afterResponseBytes: Int64 = 0
    /// The status the server answered with, when a rule replaced its response (the server's stats count it).
    var serverStatus: Int?
    /// `set-log-level`: the severity of this request's line, or none at all (nil: the frontend's choice).
    var logLevel: LogLevelOverride?
    var termination = TerminationState(.normal, .normal)

    init(head: HTTPRequestHead, reader: HTTPRequestReader, bytesOut: Int64) {
        self.head = head
        forwardHead = head
        requestLine = Exchange.requestLine(head)
        date = reader.firstByteDate ?? CivilTime.now()
        let now = NIODeadline.now()
        start = reader.firstByte ?? now
        headersAt = now
        bytesOutStart = bytesOut
        clientKeepAlive = head.isKeepAlive
    }

    /// `METHOD URI HTTP/x.y`, made by appending (an interpolation formats each version number through
    /// `description`, and this runs for every request).
    static func requestLine(_ head: HTTPRequestHead) -> String {
        let method = head.method.rawValue
        let version: String
        switch (head.version.major, head.version.minor) {
        case (1, 1): version = " HTTP/1.1"
        case (1, 0): version = " HTTP/1.0"
        case (let major, let minor): version = " HTTP/" + String(major) + "." + String(minor)
        }
        var line = ""
        line.reserveCapacity(method.utf8.count + 1 + head.uri.utf8.count + version.utf8.count)
        line += method
        line += " "
        line += head.uri
        line += version
        return line
    }

    /// A request that never completed (bad, cut short, or timed out), dated from its first byte, else from
    /// `accepted`.
    init(badRequestAt reader: HTTPRequestReader, accepted: (date: CivilTime, clock: NIODeadline)?, bytesOut: Int64) {
        head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        forwardHead = head
        requestLine = HAProxyLogRecord.badRequest
        date = reader.firstByteDate ?? accepted?.date ?? CivilTime.now()
        start = reader.firstByte ?? accepted?.clock ?? .now()
        headersAt = nil
        bytesOutStart = bytesOut
        clientKeepAlive = false
        state = .badRequest
    }

    /// The phase a client abort happened in (the termination state's second character).
    var phase: TerminationState.Phase {
        if responseHead != nil { return .data }
        if connection != nil { return .headers }
        if ticket != nil { return .queue }
        if headersAt != nil && !state.answeredByStatsPage { return .connect }
        return .request
    }
}
