import HAProxyLog
import LogCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// One client connection of a `mode http` frontend, on its channel's event loop, last in the client's pipeline
/// (after the request reader).
///
/// Requests are served one at a time in order (pipelined ones wait, their bytes unread until their turn): each
/// is balanced on its own, sent over an idle connection to the chosen server when one is pooled or a new one
/// (retries and `option redispatch` as in TCP mode), its body streamed with back-pressure, and the response
/// relayed as the server framed it. Each exchange is logged as HAProxy 2.6's `option httplog` line. The proxy
/// answers itself for the stats page and for errors, with HAProxy's pages and termination states.
final class HTTPSession: ChannelDuplexHandler, ClientSession, BackendAssignee, BatchFlushing {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let frontend: ProxyRuntime.Frontend
    /// The client came through a TLS listener (`ssl_fc`, `%ft` logs `frontend~`): what its TLS carried.
    let tlsInfo: ClientTLS?
    var tls: Bool { tlsInfo != nil }
    private let process: ProxyRuntime.Tally
    let client: any Channel
    private let reader: HTTPRequestReader
    var context: ChannelHandlerContext?
    /// Responses are flushed at the end of the event loop's batch (see `FlushBatch`).
    private var batch: FlushBatch?
    var flushQueued = false
    /// The request being served.
    var exchange: Exchange?
    /// `option httpclose`: each response closes the client's connection and the server's; `option
    /// http-server-close`: the server's only (on the frontend or the backend, as HAProxy reads them).
    let closesBothSides: Bool
    let closesServerSide: Bool
    /// Parts of later (pipelined) requests, served when their turn comes; reading stops at `waitingLimit` of them.
    var waiting = CircularBuffer<HTTPServerRequestPart>()
    static let waitingLimit = 16
    private var readPending = false
    /// Inside `drainWaiting` (an exchange that ends there does not start the next itself).
    private var draining = false
    /// The client's bytes already counted in the stats.
    private var countedIn: Int64 = 0
    /// Requests served on this connection so far.
    private var served = 0
    /// `timeout http-request` / `http-keep-alive` while waiting for a request.
    private let requestTimer = IdleTimer(timeout: nil)
    /// `timeout server` while an exchange waits on its server.
    let serverIdle: IdleTimer
    /// `timeout client` while an exchange waits on the client.
    private let clientIdle: IdleTimer
    var closing = false
    /// The soft stop reached this connection (see `softStop`).
    private var stopSeen = false
    /// The process is stopping: no request after the one in progress.
    private var stopping: Bool { stopSeen || frontend.connections?.stopping.load(ordering: .relaxed) == true }
    /// The client shut its side down: the requests it sent are answered, then the connection closes.
    var clientDone = false
    /// The proxy closed the connection (after a last response): no request is pending.
    private var closeRequested = false
    private var ended = false
    private var admitted = false
    /// The server connection of this client's last request when it is private (`http-reuse never`, or one that
    /// began with a PROXY header): kept for this client's next request to that server, never shared, closed with
    /// the client's connection; `option prefer-last-server` follows it, as HAProxy's session list.
    var privateConnection: (backend: ProxyRuntime.Backend, connection: HTTPServerConnection)?
    /// Where this connection is listed for the runtime API and for being ended from outside (see
    /// `SessionDirectory`).
    private(set) var listing: SessionDirectory.Listing?
    /// The client's address and its text, read once per connection (not per request).
    lazy var peer: (address: SocketAddress?, ip: String?) = {
        let address = proxySource ?? client.remoteAddress
        return (address, address?.ipAddress)
    }()
    /// The listener's number in its frontend when it is a local socket (its clients are logged `unix:N`).
    var localListener = 0
    /// What a PROXY protocol header said the client's and the frontend's addresses are.
    private var proxySource: SocketAddress?
    private(set) var proxyDestination: SocketAddress?

    func useProxyAddresses(source: SocketAddress?, destination: SocketAddress?) {
        proxySource = source
        proxyDestination = destination
    }
    /// The client's address as `src` ACLs compare it (see `AddressSet`), made once per connection when a rule
    /// asks.
    lazy var clientForRules: UInt128? = AddressSet.key(peer.address)

    /// The client as `exchange` sees it: the address an `http-request set-src` gave it, else the connection's.
    func source(_ exchange: Exchange?) -> (address: SocketAddress?, ip: String?) { exchange?.source ?? peer }

    /// An IPv4 or IPv6 address written as text (nil for anything else), with `port`.
    static func ipAddress(_ text: String, port: Int) -> SocketAddress? { try? SocketAddress(ipAddress: text, port: port) }

    /// `source` as `src` ACLs compare it.
    func sourceKey(_ exchange: Exchange?) -> UInt128? {
        guard let source = exchange?.source else { return clientForRules }
        return AddressSet.key(source.address)
    }
    /// When the connection was accepted (or admitted by maxconn).
    private var accepted = (date: CivilTime.now(), clock: NIODeadline.now())
    /// When the connection last had no request: its accept, then the end of each exchange (`%t`, `%Ti`).
    private var idleSince = NIODeadline.now()

    /// What the connection and its current request track (`track-sc`), with the stick tables; nil without tables.
    let counters: TrackedCounters?
    /// The session's variables and its current transaction's (`set-var`, `var()`).
    let variables: VariableStore

    /// What the request's ACLs read besides the request (see `RequestFacts`).
    var facts: RequestFacts {
        RequestFacts(
            tls: tlsInfo, servers: frontend.usableServers, users: frontend.users, counters: counters,
            frontendPort: (proxyDestination ?? client.localAddress)?.port, variables: variables)
    }

    init(
        frontend: ProxyRuntime.Frontend, process: ProxyRuntime.Tally, client: any Channel, tls: ClientTLS? = nil,
        counters: TrackedCounters? = nil
    ) {
        self.counters = counters
        variables = VariableStore(process: frontend.processVariables)
        tlsInfo = tls
        self.frontend = frontend
        self.process = process
        self.client = client
        reader = HTTPRequestReader(headLimit: frontend.headLimit)
        clientIdle = IdleTimer(timeout: frontend.clientTimeout)
        closesBothSides = frontend.closesBothSides
        closesServerSide = frontend.closesServerSide
        serverIdle = IdleTimer(timeout: frontend.backend?.serverTimeout)
    }

    var limits: [ProxyRuntime.ConnectionLimit] { frontend.limits }
    var sessionRate: ProxyRuntime.SessionRate? { frontend.sessionRate }

    // MARK: Life cycle

    func admit(paused: Bool) {
        admitted = true
        guard client.isActive else { return releaseLimits() }
        if paused {
            accepted = (CivilTime.now(), NIODeadline.now())
            idleSince = accepted.clock
        }
        begin()
        if paused { try? client.syncOptions?.setOption(.autoRead, value: true) }
    }

    func begin() {
        // `tcp-request session` rules (after a PROXY header, on the address it gave): a rejected session is closed
        // without a word; an accepted one is counted in what the connection tracks.
        let sessionRules = frontend.section.rules.tcpSessionRules
        let (verdict, limits) =
            sessionRules.isEmpty
            ? (.accept, [])
            : TCPRequestRule.decide(
                sessionRules, client: clientForRules, frontendPort: facts.frontendPort, counters: counters
            ) { [self] in
                counters?.perform($0, level: .connection, samples: samples(nil))
            }
        if verdict != .accept {
            frontend.limitBlocked(peer.ip, action: verdict == .silentDrop ? "silent-drop" : "reject", limits: limits)
            if verdict == .silentDrop { SilentDrop.silence(client) }
            frontend.sessions.update { $0.deniedConnections += 1 }
            counters?.endSession()
            releaseLimits()
            client.close(promise: nil)
            return
        }
        counters?.countSession()
        process.opened()
        frontend.sessions.opened()
        if let directory = frontend.directory {
            let loop = NIOSessionLoop(loop: client.eventLoop)
            let bound = LoopBound(self, loop: loop)
            listing = directory.add(
                frontend: frontend.section, client: peer.address, frontendAddress: proxyDestination ?? client.localAddress
            ) { cause in loop.runNowOrSoon { bound.value.kill(cause) } }
        }
        do {
            let operations = client.pipeline.syncOperations
            try operations.addHandler(reader)
            try operations.addHandler(self)
        } catch {
            client.close(promise: nil)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        batch = FlushBatch.current(on: context.eventLoop)
        if let connections = frontend.connections?.on(context.eventLoop) {
            connections.sessions[ObjectIdentifier(self)] = self
            stopSeen = connections.stopping
        }
        reader.receiver = self
        // The timers' actions, made once per connection (they find the exchange in progress when they fire). They
        // hold the session until `cancel` (when the client's channel closes or lets go of the session): a weak
        // reference would give the session a side table, and every retain of it the slow path.
        requestTimer.expired = { [self] in requestTimedOut(idle: served > 0) }
        // `timeout client`: the client stops sending its body, or stops reading the response.
        clientIdle.excused = { [self] in clientIsBusy }
        clientIdle.expired = { [self] in
            guard let exchange, !exchange.logged else { return }
            clientTimedOut(exchange)
        }
        // `timeout server`; a server that waits because the client does not read its response is not timed out.
        serverIdle.excused = { [self] in !clientCanTakeMore }
        serverIdle.expired = { [self] in
            guard let exchange, !exchange.logged else { return }
            serverTimedOut(exchange)
        }
        awaitRequest(first: true)
    }

    /// `tcp-request content` rules, as HAProxy's HTTP mode runs them: when a request arrives (a connection that
    /// sends nothing is neither counted nor logged), before it is looked at. A rejected client gets no answer, and
    /// the line HAProxy logs (`PR--`, `<BADREQ>`, status -1).
    private func rejectedByContentRules() -> Bool {
        let rules = frontend.section.rules.tcpContentRules
        guard !rules.isEmpty else { return false }
        let (verdict, limits) = TCPRequestRule.decide(
            rules, client: clientForRules, frontendPort: facts.frontendPort, counters: counters
        ) { [self] in
            counters?.perform($0, level: .request, samples: samples(nil))
        }
        guard verdict == .reject || verdict == .silentDrop else { return false }
        frontend.limitBlocked(peer.ip, action: verdict == .silentDrop ? "silent-drop" : "reject", limits: limits)
        if verdict == .silentDrop { SilentDrop.silence(client) }
        let local = badRequest()
        local.termination = TerminationState(.proxy, .request)
        exchange = local
        frontend.sessions.update { $0.deniedRequests += 1 }
        respondLocally(status: nil)
        return true
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        frontend.connections?.on(context.eventLoop)?.sessions[ObjectIdentifier(self)] = nil
        counters?.endSession()
        self.context = nil
        reader.receiver = nil
        cancelTimers()
    }

    /// Stops the timers and lets go of their actions (which hold the session).
    private func cancelTimers() {
        requestTimer.cancel()
        clientIdle.cancel()
        serverIdle.cancel()
    }

    /// An exchange for a request that never completed: it started with its first byte, or (the connection's first)
    /// at the accept.
    private func badRequest() -> Exchange {
        Exchange(badRequestAt: reader, accepted: served == 0 ? accepted : nil, bytesOut: bytesOut)
    }

    private func releaseLimits() {
        guard admitted else { return }
        admitted = false
        for limit in frontend.limits.reversed() { limit.release() }
    }

    /// Waits for the next request: `timeout http-request` for the first, `timeout http-keep-alive` (else
    /// http-request) between requests.
    private func awaitRequest(first: Bool) {
        reader.expectRequest()
        let settings = frontend.section.settings.timeouts
        let timeout =
            first
            ? (settings.httpRequest ?? settings.client)
            : (settings.httpKeepAlive ?? settings.httpRequest ?? settings.client)
        guard let amount = ProxyRuntime.amount(timeout), let context else { return requestTimer.stop() }
        requestTimer.start(on: context.eventLoop, timeout: amount)
    }

    /// A soft stop, as HAProxy 2.6's: a kept-alive connection waiting between requests closes at once, without a
    /// line; a request in progress is answered with `connection: close` (if its response has not begun), and the
    /// connection closes after it. A connection that has not completed its first request, or has begun the next,
    /// keeps its request timeout: a request it completes is served, then the connection closes.
    func softStop() {
        guard !stopSeen else { return }
        stopSeen = true
        guard !ended, !closeRequested else { return }
        if let exchange {
            if exchange.responseHead == nil && !exchange.logged { exchange.clientKeepAlive = false }
            return
        }
        if served > 0 && waiting.isEmpty && heldRequest == nil && reader.firstByte == nil { closeClient() }
    }

    /// No complete request in time: `cR`, a 408 if anything was received (HAProxy logs the silent kind with 0
    /// bytes), and a keep-alive connection that saw nothing is closed without a line.
    private func requestTimedOut(idle: Bool) {
        guard exchange == nil, !ended else { return }
        if let held = heldRequest {
            // `option http-buffer-request`: the body did not come in time; the stream's 408, with the request line.
            heldRequest = nil
            let local = badRequest()
            local.requestLine = Exchange.requestLine(held.head)
            local.termination = TerminationState(.clientTimeout, .request)
            exchange = local
            // The stream closes: its `connection: close` is part of the reply HAProxy counts (name and value).
            let page = HTTPErrorPages.streamRequestTimeout
            return respondLocally(
                status: 408, page: .init(bytes: page.bytes, logged: page.logged + 15, keepsConnection: true))
        }
        if idle && reader.firstByte == nil { return closeClient() }
        let local = badRequest()
        local.termination = TerminationState(.clientTimeout, .request)
        exchange = local
        respondLocally(status: 408)
    }

    // MARK: From the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received(unwrapInboundIn(data))
    }

    /// A part of a request, from the reader (called directly while the session is in the pipeline).
    func received(_ part: HTTPServerRequestPart) {
        // Once the proxy has decided to close, what the client still sends is dropped.
        guard !closeRequested else { return }
        if let exchange, !exchange.requestDone {
            return requestPart(part, of: exchange)
        }
        if exchange != nil || !waiting.isEmpty {
            waiting.append(part)
            return
        }
        if var held = heldRequest {
            // `option http-buffer-request`: the body is kept until it is whole or fills a buffer.
            held.parts.append(part)
            if case .body(let buffer) = part { held.bytes += buffer.readableBytes }
            if case .end = part {
            } else if held.bytes < ProxyRuntime.bufferSize {
                heldRequest = held
                return
            }
            heldRequest = nil
            var head = held.head
            // Answered already: the server is not asked again.
            if held.continued { head.headers.remove(name: "expect") }
            start(head)
            for part in held.parts { received(part) }
            return
        }
        guard case .head(let head) = part else { return }
        if rejectedByContentRules() { return }
        if buffersBody(head) {
            // HAProxy answers `100-continue` itself then (the client would otherwise wait for the server's).
            let continued = head.headers.hasToken("100-continue", in: "expect")
            if continued {
                var buffer = client.allocator.buffer(capacity: 25)
                buffer.writeString("HTTP/1.1 100 Continue\r\n\r\n")
                send(buffer, flush: true)
                // Counted in the request's `%B` as HAProxy counts the interim response it makes (its start line's
                // internal size).
                interimLogged = 40
            }
            heldRequest = (head, [], 0, continued)
            return
        }
        start(head)
    }

    /// `option http-buffer-request` (the frontend's, or its default backend's) and a request with a body: the
    /// body is waited for (under `timeout http-request`) before the request starts.
    private func buffersBody(_ head: HTTPRequestHead) -> Bool {
        guard frontend.section.settings.option(.httpBufferRequest)
            || frontend.backend?.section.settings.option(.httpBufferRequest) == true
        else { return false }
        if head.headers.hasToken("chunked", in: "transfer-encoding") { return true }
        return head.headers["content-length"].first.flatMap { Int($0) }.map { $0 > 0 } ?? false
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.connection?.flush()
    }

    private func requestPart(_ part: HTTPServerRequestPart, of exchange: Exchange) {
        clientIdle.touch()
        switch part {
        case .head:
            // Cannot happen (the decoder ends a request before the next head); treat as the next request.
            waiting.append(part)
        case .body(let buffer):
            exchange.requestBytes += Int64(buffer.readableBytes)
            if exchange.state.dropsBody { return }
            // The stats page's admin form is kept up to a buffer's worth (more is HAProxy's EXCD).
            if exchange.state.awaitsStatsForm && exchange.requestBytes > Int64(ProxyRuntime.bufferSize) { return }
            if let connection = exchange.connection, exchange.state.relaysToServer {
                // An upload in progress is not the server being late.
                serverIdle.touch()
                connection.sendBody(buffer)
            } else {
                exchange.body.append(buffer)
                if let backend = exchange.awaitingBody, exchange.requestBytes >= Int64(ProxyRuntime.bufferSize) {
                    exchange.awaitingBody = nil
                    assignServer(exchange, backend)
                }
            }
        case .end:
            let form = exchange.state.awaitsStatsForm
            if exchange.state.requestEnded() {
                if form, let stats = frontend.stats { return answerStatsForm(stats, exchange) }
                return finish(exchange)
            }
            if let connection = exchange.connection, exchange.state.relaysToServer {
                connection.sendEnd()
                connection.flush()
            }
            if let backend = exchange.awaitingBody {
                exchange.awaitingBody = nil
                assignServer(exchange, backend)
            }
        }
    }

    /// A request's head arrived: the stats page, a refusal, or a server.
    private func start(_ head: HTTPRequestHead) {
        requestTimer.stop()
        let exchange = Exchange(head: head, reader: reader, bytesOut: bytesOut)
        if stopping { exchange.clientKeepAlive = false }
        exchange.interimLogged = interimLogged
        interimLogged = 0
        self.exchange = exchange
        variables.endTransaction()
        listing?.update { $0.stream = exchange.stream }
        frontend.logConnect(client: peer.address, to: proxyDestination ?? client.localAddress)
        served += 1
        frontend.sessions.update { $0.requests += 1 }
        // Counted in what the connection (and a content rule) tracks before the rules look (HAProxy's order).
        counters?.countRequest()
        if let context { clientIdle.start(on: context.eventLoop) }
        if answeredBeforeRules(head, exchange) { return }
        // Several Host headers that agree (the others were refused): one goes on, as HAProxy sends it.
        var hosts = 0
        for (name, _) in head.headers where name == "host" { hosts += 1 }
        if hosts > 1 {
            var seen = false
            var kept = HTTPHeaders()
            for (name, value) in exchange.forwardHead.headers {
                if name == "host" {
                    if seen { continue }
                    seen = true
                }
                kept.add(name: name, value: value)
            }
            exchange.forwardHead.headers = kept
        }
        let rules = frontend.section.rules
        // Only rules look at the path (and most configurations have none).
        let noRules = rules.requestRules.isEmpty && frontend.routeTargets.isEmpty && rules.redirects.isEmpty
        var path = noRules ? "" : head.path
        var clientKey = noRules ? nil : clientForRules
        if !rules.requestCaptures.isEmpty {
            // A rule's capture is made when the rule runs (empty until then).
            exchange.requestCaptures = rules.requestCaptures.map { $0.sample == nil ? $0.value(in: head.headers) : "" }
        }
        if answeredByRequestRules(rules.requestRules, head, exchange, path: path, client: clientKey) { return }
        // What comes next (the stats page, redirects, use_backend, the backend's rules) sees the request as the rules
        // rewrote it, as in HAProxy.
        let head = exchange.rewritten ? exchange.forwardHead : head
        if exchange.rewritten && !noRules { path = head.path }
        // A `set-src` rule may have given the request another client.
        if exchange.source != nil { clientKey = sourceKey(exchange) }
        // The stats page, once the `http-request` rules have let the request through (HAProxy's order), then its
        // own `stats http-request` rules.
        if let stats = frontend.stats, stats.matches(head.uri) {
            exchange.backendName = frontend.section.name
            exchange.serverName = HAProxyLogRecord.statsServer
            let statsRules = frontend.section.stats.requestRules
            if !statsRules.isEmpty {
                exchange.answeredByStatsRule = true
                if answeredByRequestRules(statsRules, head, exchange, path: head.path, client: sourceKey(exchange)) {
                    return
                }
            }
            return serveStats(stats, head)
        }
        // `redirect` rules, after every `http-request` rule (HAProxy's order, whatever the file's).
        if let rule = rules.redirects.first(where: {
            $0.condition.holds(head, path: path, client: clientKey, facts)
        }) {
            respondRedirect(rule.redirect, head)
            return
        }
        var chosen = frontend.backend
        for route in frontend.routeTargets
        where route.condition.holds(head, path: path, client: clientKey, facts) {
            switch route.target {
            case .backend(let backend): chosen = backend
            // A name no backend has: the default backend, the later rules unread (HAProxy's order).
            case .named(let value): chosen = frontend.backendsByName[render(value, head)] ?? frontend.backend
            }
            break
        }
        guard let backend = chosen else {
            // As HAProxy 2.6 logs it: no timer at all, not even the request's.
            exchange.state.answeredByProxy(timersKnown: false)
            exchange.termination = TerminationState(.serverAbort, .connect)
            frontend.sessions.update { $0.connectErrors += 1 }
            return respondLocally(status: 503)
        }
        exchange.backend = backend
        exchange.backendName = backend.name
        exchange.state.enteredBackend()
        backend.sessions.opened()
        // The backend's own `http-request` rules, then its `redirect` rules, after the frontend's and the choice (a
        // `listen` section's once).
        let own = backend.section.rules
        if backend.section.name != frontend.section.name {
            if !own.requestRules.isEmpty
                && answeredByRequestRules(own.requestRules, head, exchange, path: head.path, client: sourceKey(exchange))
            {
                return
            }
            if let rule = own.redirects.first(where: {
                $0.condition.holds(head, path: head.path, client: sourceKey(exchange), facts)
            }) {
                respondRedirect(rule.redirect, head)
                return
            }
        }
        if let cookie = backend.section.settings.cookie { persist(exchange, cookie, backend) }
        // `stick match|on` when no cookie chose the server; `stick store-request|on` written with the response.
        if !backend.section.stickRules.isEmpty {
            let client = sourceKey(exchange)
            let stickiness = StickPersistence(
                backend.section.stickRules, tables: frontend.stickTables, samples: samples(head),
                servers: backend.servers.count
            ) {
                $0.holds(head, path: head.path, client: client, facts)
            }
            if exchange.persistTo == nil { exchange.persistTo = stickiness.server }
            exchange.stickiness = stickiness
        }
        // `option prefer-last-server` (the backend's): the server whose private connection this client holds,
        // unless the balance is a hash.
        if let kept = privateConnection, kept.backend === backend, !kept.connection.closed,
            backend.section.settings.option(.preferLastServer), !backend.section.settings.balance.hashes
        {
            exchange.preferredServer = kept.connection.server
        }
        // The connection to the server is the proxy's own (kept alive when it can be): the client's `Connection`
        // header is not passed on. Names go in lower case (the reader made the client's so; a rule's may not be).
        exchange.forwardHead.headers = HTTPHeadWriter.lowerCased(exchange.forwardHead.headers)
        if exchange.forwardHead.headers.contains(name: "connection") {
            exchange.forwardHead.headers.remove(name: "connection")
        }
        if !exchange.forwardHead.version.atLeast11 {
            // As HAProxy: an HTTP/1.0 request asks the server to keep the connection (the proxy's own).
            exchange.forwardHead.headers.add(name: "connection", value: "keep-alive")
        }
        if head.headers.hasToken("100-continue", in: "expect") {
            // Answered here: the body follows to whichever server is chosen.
            var buffer = client.allocator.buffer(capacity: 25)
            buffer.writeString("HTTP/1.1 100 Continue\r\n\r\n")
            send(buffer, flush: true)
            exchange.forwardHead.headers.remove(name: "expect")
        }
        // `option http-buffer-request` in the backend `use_backend` chose (the frontend's was waited for before the
        // rules): its server is chosen once the body is whole, or fills a buffer.
        if backend.section.settings.option(.httpBufferRequest) && Self.bodyComing(head, exchange)
            && exchange.requestBytes < Int64(ProxyRuntime.bufferSize)
        {
            exchange.awaitingBody = backend
            return
        }
        assignServer(exchange, backend)
    }

    /// Cookie persistence on the request (see `PersistenceCookies`): the server its cookie names, and the cookie
    /// taken out of what the server sees in insert mode with `indirect`.
    private func persist(_ exchange: Exchange, _ cookie: PersistenceCookie, _ backend: ProxyRuntime.Backend) {
        // `ignore-persist`, `force-persist`: the backend's first rule that holds (HAProxy evaluates them once the
        // backend is known).
        let head = exchange.forwardHead
        if let rule = backend.section.rules.persistRules.first(where: {
            $0.condition.holds(head, path: head.path, client: sourceKey(exchange), facts)
        }) {
            exchange.persistence = rule.force ? .force : .ignore
        }
        let values = exchange.forwardHead.headers.compactMap { $0.name.lowercased() == "cookie" ? $0.value : nil }
        guard !values.isEmpty else { return exchange.cookieClient = PersistenceCookies.ClientStatus.none.rawValue }
        let decision = PersistenceCookies.request(
            cookie, cookieHeaders: values, servers: backend.persistenceServers(), override: exchange.persistence)
        exchange.cookieClient = decision.status.rawValue
        exchange.persistTo = decision.server
        guard let rewritten = decision.headers else { return }
        var headers = HTTPHeaders()
        var n = 0
        for (name, value) in exchange.forwardHead.headers {
            guard name.lowercased() == "cookie" else {
                headers.add(name: name, value: value)
                continue
            }
            if let kept = rewritten[n] { headers.add(name: name, value: kept) }
            n += 1
        }
        exchange.forwardHead.headers = headers
    }

    /// What keys are made from for this request (`exchange`: its client as `set-src` left it).
    func samples(_ head: HTTPRequestHead?, _ exchange: Exchange? = nil) -> StickSampleSource {
        StickSampleSource(
            client: source(exchange ?? self.exchange).address, frontend: proxyDestination ?? client.localAddress,
            head: head, sni: tlsInfo?.sni, evaluate: head.map { head in { [self] in evaluate($0, head) } })
    }

    /// A header value's text for this request (its samples fetched: see `LogFormatValue`); on its response
    /// (`response`), `hdr()` and `status` read the response.
    func render(_ value: LogFormatValue, _ head: HTTPRequestHead, response: HTTPHead? = nil) -> String {
        if let literal = value.literal { return literal }
        var out = ""
        for piece in value.pieces {
            switch piece {
            case .literal(let text): out += text
            // A sample or converter without a result leaves nothing, as HAProxy's log-format does.
            case .sample(let sample): out += fetch(sample, head, response: response)?.text ?? ""
            case .converted(let sample, let converters):
                out += converted(sample, converters, head, response: response)?.text ?? ""
            }
        }
        return out
    }

    /// A sample then its converters (each works on text); nil when one of them has no result.
    private func converted(
        _ sample: LogFormatValue.Sample, _ converters: [LogFormatValue.Converter], _ head: HTTPRequestHead,
        response: HTTPHead? = nil
    ) -> VariableValue? {
        guard var value = fetch(sample, head, response: response) else { return nil }
        for converter in converters {
            guard let next = converter.apply(value.text) else { return nil }
            value = .text(next)
        }
        return value
    }

    /// A `set-var` expression's value (one sample and its converters, typed), or a `set-var-fmt` format's text;
    /// nil when the sample has none (the variable is then not set, as in HAProxy).
    private func evaluate(_ value: LogFormatValue, _ head: HTTPRequestHead, response: HTTPHead? = nil) -> VariableValue? {
        if value.pieces.count == 1 {
            switch value.pieces[0] {
            case .sample(let sample): return fetch(sample, head, response: response)
            case .converted(let sample, let converters): return converted(sample, converters, head, response: response)
            case .literal: break
            }
        }
        return .text(render(value, head, response: response))
    }

    /// A variable rule's work: set (when its expression has a result and its conditions allow) or unset.
    private func perform(_ variable: VariableAction, _ head: HTTPRequestHead, response: HTTPHead? = nil) {
        guard let value = variable.value else { return variables.unset(variable.name) }
        if let result = evaluate(value, head, response: response) { variables.set(variable, result) }
    }

    /// The `http-response` rules made for this response (see `Frontend.responseRules`): each condition evaluated on
    /// it, each value made, each variable rule carried out, in order; the header edits that result, or the `deny`
    /// or `return` that replaces the response (the rules after it are not applied).
    func responseEdits(_ rules: [HTTPResponseRule], _ response: HTTPHead, _ exchange: Exchange)
        -> (edits: ResponseHeaderEdits?, replaced: HTTPResponseRule.Action?)
    {
        let client = sourceKey(exchange)
        let facts = self.facts
        var made: [HTTPResponseRule] = []
        // What the later rules see: the status a `set-status` gave.
        var response = response
        for rule in rules where rule.condition?.holds(response: response, client: client, facts) ?? true {
            switch rule.action {
            case .deny, .returnReply: return (nil, rule.action)
            case .setStatus(let code, _):
                made.append(rule)
                response = response.replacingStatus(code)
            case .setHeader(let name, let value):
                made.append(HTTPResponseRule(
                    action: .setHeader(name, LogFormatValue(literal: render(value, exchange.head, response: response)))))
            case .addHeader(let name, let value):
                made.append(HTTPResponseRule(
                    action: .addHeader(name, LogFormatValue(literal: render(value, exchange.head, response: response)))))
            case .variable(let variable): perform(variable, exchange.head, response: response)
            case .setLogLevel(let level): exchange.logLevel = level
            case .delHeader, .rewriteHeader: made.append(HTTPResponseRule(action: rule.action))
            }
        }
        let edits = ResponseHeaderEdits(made)
        return (edits.isEmpty ? nil : edits, nil)
    }

    /// An `http-response deny|return` rule replaced the server's response: the server's connection is closed, its
    /// response dropped, the reply sent instead (the client's connection kept as after the proxy's own answers),
    /// logged `PH--` or `LH--` with no response time and with what HAProxy had received of the response in `%B`;
    /// a deny is counted on the frontend, the backend and the server (`dresp`).
    private func replaceResponse(
        _ head: HTTPHead, by action: HTTPResponseRule.Action, _ exchange: Exchange, _ connection: HTTPServerConnection
    ) {
        exchange.droppedResponseBytes = head.storedSize + Int64(connection.bodyWithHead)
        exchange.serverStatus = head.status
        exchange.connection = nil
        connection.owner = nil
        connection.close()
        switch action {
        case .deny(let reply):
            frontend.sessions.update { $0.deniedResponses += 1 }
            exchange.backend?.sessions.update { $0.deniedResponses += 1 }
            if let server = exchange.claim.server { exchange.backend?.serverSessions[server].update { $0.deniedResponses += 1 } }
            answer(reply, exchange.head, exchange, termination: TerminationState(.proxy, .headers), response: head)
        case .returnReply(let reply):
            answer(reply, exchange.head, exchange, termination: TerminationState(.local, .headers), response: head)
        default:
            return
        }
    }

    /// One sample of the request, or of its response (nil: it has none, as a missing header).
    private func fetch(_ sample: LogFormatValue.Sample, _ head: HTTPRequestHead, response: HTTPHead? = nil)
        -> VariableValue?
    {
        func text(_ t: String?) -> VariableValue? { t.map { .text($0) } }
        if let response {
            switch sample {
            case .header(let name):
                return response.values(of: name).last.map { .text(String(HeaderValue.last(ofLine: $0))) }
            case .status: return .integer(Int64(response.status))
            default: break
            }
        }
        switch sample {
        case .status: return nil
        case .clientAddress: return text(source(exchange).ip)
        case .clientPort: return source(exchange).address?.port.map { .integer(Int64($0)) }
        case .frontendAddress: return text((proxyDestination ?? client.localAddress)?.ipAddress)
        case .frontendPort: return (proxyDestination ?? client.localAddress)?.port.map { .integer(Int64($0)) }
        case .header(let name):
            // A sample's `hdr()`: the last value (values split at commas).
            return head.headers[name].last.map { .text(String(HeaderValue.last(ofLine: $0))) }
        case .fullHeader(let name): return text(head.headers[name].last)
        case .headerCount(let name):
            // Every value of every line of it, as HAProxy counts them (commas separate values).
            return .integer(Int64(ACLTest.valueCount(head.headers[name])))
        case .path: return .text(String(head.path))
        case .method: return .text(head.method.rawValue)
        case .url: return .text(head.uri)
        case .query: return head.uri.firstIndex(of: "?").map { .text(String(head.uri[head.uri.index(after: $0)...])) }
        case .base:
            guard let host = head.headers["host"].first else { return .text(String(head.path)) }
            return .text(host + head.path)
        case .cookie(let name): return text(RequestCookies.values(of: name, in: head.headers).last)
        case .cookieCount(let name): return .integer(Int64(RequestCookies.values(of: name, in: head.headers).count))
        case .uuid: return .text(UUIDv4.random())
        case .uniqueID:
            guard let exchange else { return nil }
            if exchange.uniqueID == nil { exchange.uniqueID = makeUniqueID(exchange) }
            return text(exchange.uniqueID)
        case .constant(let value): return value
        case .urlParameter(let name, let delimiter, let integer):
            guard let value = URLParameters.values(of: name, in: head.uri[...], delimiter: delimiter).first else {
                return nil
            }
            return integer ? .integer(Int64(ACLTest.strl2ic(Array(value.utf8)))) : .text(String(value))
        case .environment(let name): return text(ProcessEnvironment.value(name))
        case .variable(let name, let fallback): return variables[name] ?? fallback.map { .text($0) }
        case .frontendName: return .text(frontend.section.name)
        case .tlsFlag: return .integer(tls ? 1 : 0)
        case .tlsSNI: return text(tlsInfo?.sni)
        case .tlsProtocol: return text(tlsInfo?.protocolName)
        case .clientCertificateUsed: return tlsInfo.map { .integer($0.certificate == nil ? 0 : 1) }
        // A certificate that fails its check ends the handshake here, so one that came is verified (0).
        case .clientCertificateVerify: return tlsInfo == nil ? nil : .integer(0)
        case .clientSubject: return text(tlsInfo?.subjectDN)
        case .clientIssuer: return text(tlsInfo?.issuerDN)
        }
    }

    /// A section's `http-request` rules, in order, on the request: true when one answered it (a deny: `PR--` and
    /// HAProxy's 403 page or the status asked; a redirect), else the header rewrites are made on what goes to the
    /// server.
    private func answeredByRequestRules(
        _ rules: [HTTPRequestRule], _ head: HTTPRequestHead, _ exchange: Exchange, path: Substring, client: UInt128?
    ) -> Bool {
        var client = client
        // The request as the rules leave it: each rule's condition sees what the rules before it rewrote, as in
        // HAProxy (the rules' values are rendered from it too).
        var head = head
        var path = path
        for rule in rules
        where rule.condition.holds(head, path: path, client: client, facts) {
            switch rule.action {
            case .variable(let variable):
                perform(variable, head)
            case .setLogLevel(let level):
                exchange.logLevel = level
            case .capture(let slot, let value, let length):
                guard let text = evaluate(value, head)?.text, exchange.requestCaptures?.indices.contains(slot) == true
                else { continue }
                exchange.requestCaptures?[slot] = String(decoding: text.utf8.prefix(length), as: UTF8.self)
            case .track(let tracking):
                counters?.track(tracking, samples(head, exchange).sample(tracking.key), level: .request, countsRequest: true)
            case .incrementGPC(let counter, let which):
                counters?.perform(incrementGPC: which, counter: counter)
            case .setGPT0(let counter, let value):
                counters?.perform(setGPT0: value, counter: counter)
            case .allow:
                return false
            case .prometheusExporter:
                servePrometheus(exchange, head)
                return true
            case .silentDrop:
                frontend.limitBlocked(source(exchange).ip, action: "silent-drop", limits: rule.condition?.limits ?? [])
                // No answer, not even a close the client would see; logged with no timer, as HAProxy does.
                exchange.state.answeredByProxy(timersKnown: false)
                exchange.termination = TerminationState(.proxy, .request)
                frontend.sessions.update { $0.deniedRequests += 1 }
                SilentDrop.silence(self.client)
                respondLocally(status: nil)
                return true
            case .tarpit(let status):
                frontend.limitBlocked(source(exchange).ip, action: "tarpit status=\(status)", limits: rule.condition?.limits ?? [])
                counters?.countError()
                tarpit(exchange, status: status)
                return true
            case .deny(let reply):
                frontend.limitBlocked(
                    source(exchange).ip, action: "deny status=\(reply.status)", limits: rule.condition?.limits ?? [])
                counters?.countError()
                frontend.sessions.update { $0.deniedRequests += 1 }
                answer(reply, head, exchange, termination: TerminationState(.proxy, .request))
                return true
            case .setHeader(let name, let value):
                exchange.forwardHead.headers.replaceOrAdd(name: name, value: render(value, head))
                head.headers = exchange.forwardHead.headers
            case .addHeader(let name, let value):
                exchange.forwardHead.headers.add(name: name, value: render(value, head))
                head.headers = exchange.forwardHead.headers
            case .delHeader(let name):
                exchange.forwardHead.headers.remove(name: name)
                head.headers = exchange.forwardHead.headers
            case .rewriteTarget(let rewrite):
                guard let uri = rewrite.apply(to: exchange.forwardHead.uri, value: render(rewrite.value, head)) else { continue }
                exchange.forwardHead.uri = uri
                head.uri = uri
                path = head.path
                exchange.rewritten = true
            case .rewriteHeader(let rewrite):
                let replacement = render(rewrite.value, head)
                var headers = HTTPHeaders()
                for (name, value) in exchange.forwardHead.headers {
                    headers.add(name: name, value: name.lowercased() == rewrite.name ? rewrite.apply(to: value, replacement: replacement) : value)
                }
                exchange.forwardHead.headers = headers
                head.headers = headers
                exchange.rewritten = true
            case .redirect(let redirect):
                if respondRedirect(redirect, head) { return true }
            case .returnReply(let reply):
                answer(reply, head, exchange, termination: TerminationState(.local, .request))
                return true
            case .auth(let realm):
                // HAProxy's 401 with its challenge; logged `LR--` (the proxy's own answer), not a denial. Credentials
                // that were sent and refused go in the audit trail, as the stats page's.
                exchange.termination = TerminationState(.local, .request)
                if let user = UserlistAuth.claimedUser(head.headers) {
                    frontend.users?.audit?.record(
                        "http login refused user=\(AuditText.quoted(user)) client=\(source(exchange).ip ?? "-") "
                            + "proxy=\(frontend.section.name) realm=\(AuditText.quoted(realm))")
                }
                let quoted = String(realm.filter { $0 != "\"" })
                respondLocally(status: 401, header: ("www-authenticate", "Basic realm=\"\(quoted)\""))
                return true
            case .setSource(let header):
                // HAProxy's `hdr()` fetch: the last value of the last field (values split at commas).
                guard let text = head.headers[header].last?.split(separator: ",").last.map({ $0.trimmingCharacters(in: .whitespaces) }),
                    let address = Self.ipAddress(text, port: source(exchange).address?.port ?? 0)
                else { continue }
                exchange.source = (address, address.ipAddress)
                client = AddressSet.key(address)
            }
        }
        return false
    }

    /// A `deny` or `return` rule's reply (`response`: the server's response it replaces), with the termination
    /// state it is logged with: the status's page (the proxy's `errorfile` for it, or HAProxy's), a file sent as
    /// written, or the reply its words build.
    func answer(
        _ reply: ReturnReply, _ head: HTTPRequestHead, _ exchange: Exchange, termination: TerminationState,
        response: HTTPHead? = nil
    ) {
        exchange.termination = termination
        switch reply.payload {
        case .page, .errorFiles:
            respondLocally(status: reply.status)
        case .response(let bytes):
            // The file read when the configuration was (the rule is the frontend's or its backend's).
            let file = frontend.replyFiles[bytes] ?? exchange.backend?.replyFiles[bytes]
            respondLocally(status: reply.status, file: file)
        case .none, .bytes, .format:
            respondReturn(reply, head, response: response)
        }
    }

    /// A reply built from a rule's words: HAProxy's (its reason phrase, the `hdr` fields, `content-length`, then
    /// `content-type`), logged with the size HAProxy counts for a reply it makes (its stored blocks: the status
    /// line's parts and 20 bytes, each field's name and value, one for the end of the head, the body).
    private func respondReturn(_ reply: ReturnReply, _ head: HTTPRequestHead, response: HTTPHead?) {
        guard let exchange, let context else { return }
        exchange.state.answeredByProxy()
        let reason = HTTPReasons.phrase(reply.status)
        let body: [UInt8]
        switch reply.payload {
        case .bytes(let bytes): body = bytes
        case .format(let format): body = Array(render(format, head, response: response).utf8)
        case .none, .page, .errorFiles, .response: body = []
        }
        let bodyComing = Self.bodyComing(head, exchange)
        let keep = exchange.clientKeepAlive && !bodyComing && !closing && !(clientDone && waiting.isEmpty)
        if !keep { closing = true }
        var text = "HTTP/1.1 \(reply.status) \(reason)\r\n"
        var stored = 20 + 8 + 3 + reason.utf8.count + 1 + body.count
        for header in reply.headers {
            let value = render(header.value, head, response: response)
            text += "\(header.name): \(value)\r\n"
            stored += header.name.utf8.count + value.utf8.count
        }
        text += "content-length: \(body.count)\r\n"
        stored += 14 + String(body.count).utf8.count
        if let type = reply.contentType {
            text += "content-type: \(type)\r\n"
            stored += 12 + type.utf8.count
        }
        // As for a redirect: a close for a body still coming is part of the reply (and counted).
        let closesForBody = exchange.clientKeepAlive && bodyComing
        if !exchange.clientKeepAlive || closesForBody {
            text += "connection: close\r\n"
            if closesForBody { stored += 15 }
        } else if keep && !head.version.atLeast11 {
            text += "connection: keep-alive\r\n"
        }
        text += "\r\n"
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count + body.count)
        buffer.writeString(text)
        if head.method != .HEAD { buffer.writeBytes(body) }
        sendReply(buffer)
        exchange.status = reply.status
        exchange.loggedBytes = Int64(stored)
        if keep && exchange.state.finishesAtRequestEnd() { return }
        finish(exchange)
    }

    // MARK: From the server

    /// A response's head arrived: passed on to the client as HAProxy writes it.
    func serverHead(_ head: HTTPHead, on connection: HTTPServerConnection) {
        guard let exchange, exchange.connection === connection, let context else { return }
        if retriedOnResponse(exchange, status: head.status) { return }
        variables.startResponse()
        serverIdle.touch()
        let captures = frontend.section.rules.responseCaptures
        if !captures.isEmpty { exchange.responseCaptures = captures.map { $0.value(in: head) } }
        exchange.status = head.status
        counters?.countResponse(status: head.status)
        // The `http-response` rules: header edits, or a reply that replaces the response.
        var edits: ResponseHeaderEdits?
        if let rules = frontend.responseRules(from: exchange.backend) {
            let outcome = responseEdits(rules, head, exchange)
            if let replaced = outcome.replaced { return replaceResponse(head, by: replaced, exchange, connection) }
            edits = outcome.edits
        } else {
            edits = frontend.responseEdits(from: exchange.backend)
        }
        // `set-status`: the line logs it, the frontend and backend count it; the server counts its own.
        if let status = edits?.status {
            exchange.serverStatus = head.status
            exchange.status = status.code
        }
        // `http-after-response`: after the `http-response` rules.
        let after = frontend.afterResponseRules(from: exchange.backend)
        if !after.isEmpty, let more = responseEdits(after, edits?.status.map { head.replacingStatus($0.code) } ?? head, exchange).edits {
            edits = (edits ?? ResponseHeaderEdits()).then(more)
        }
        exchange.responseHead = head
        exchange.responseAt = .now()
        if stopping { exchange.clientKeepAlive = false }
        if let stickiness = exchange.stickiness, let server = exchange.claim.server, let backend = exchange.backend {
            stickiness.commit(server: server, name: backend.servers[server].name)
        }
        var plan = ResponsePlan(
            response: head, requestVersion: exchange.head.version, clientKeepAlive: exchange.clientKeepAlive,
            closesBothSides: closesBothSides)
        // `compression`: a response that qualifies goes in chunks, compressed as it comes.
        if let compression = exchange.compression, let algorithm = compression.algorithm,
            Compression.compresses(
                head, requestMethod: exchange.head.method, requestVersion: exchange.head.version, compression.settings)
        {
            exchange.compressing = algorithm
            exchange.deflater = algorithm.format.flatMap { Deflater($0, level: frontend.compressionLevel) }
            plan.chunked = true
        }
        exchange.plan = plan
        if plan.closesClient { closing = true }
        // Room for a small body of known length, which joins the head (see `heldHead`).
        var room = 0
        if case .sized(let length) = head.framing, length <= HTTPSession.joinedLimit / 2 { room = length }
        if let backend = exchange.backend, let cookie = backend.section.settings.cookie, let server = exchange.claim.server,
            head.status >= 200 || head.status == 101
        {
            edits = persist(exchange, cookie, backend.servers[server].cookie, server: server, head, edits)
        }
        let written = HTTPHeadWriter.response(
            head, allocator: context.channel.allocator, connection: plan.connectionHeader,
            dropTransferEncoding: plan.dropTransferEncoding, edits: edits, room: room,
            compression: exchange.compressing.map {
                ($0 == .identity ? nil : $0.token, head.framing != .chunked)
            })
        exchange.countedBytes = written.counted + exchange.interimLogged
        if frontend.logASAP { logEarly(exchange) }
        // Held until the body's first part or the end of the batch: a small body goes out in the same buffer
        // (one write and one iovec instead of two).
        heldHead = written.bytes
        flushToClient()
    }

    /// Cookie persistence on a server's response, after the `http-response` rules (HAProxy's order): the server's
    /// own cookie taken out, the proxy's `Set-Cookie` (and `Cache-control: private` with `nocache`) added.
    private func persist(
        _ exchange: Exchange, _ cookie: PersistenceCookie, _ serverCookie: String?, server: Int, _ head: HTTPHead,
        _ edits: ResponseHeaderEdits?
    ) -> ResponseHeaderEdits? {
        // `ignore-persist`: the server's cookie is passed as it came, and none is inserted.
        if exchange.persistence == .ignore { return edits }
        let method = exchange.head.method.rawValue
        let cacheable =
            cookie.nocache
            && PersistenceCookies.cacheable(
                method: method, status: head.status, pragma: head.firstValue(of: "pragma", limit: 64),
                cacheControl: head.values(of: "cache-control").flatMap {
                    $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                }, expires: head.firstValue(of: "expires", limit: 1) != nil,
                validator: head.firstValue(of: "etag", limit: 1) != nil || head.firstValue(of: "last-modified", limit: 1) != nil)
        let names = head.values(of: "set-cookie").map {
            String($0.prefix { $0 != "=" && $0 != ";" }).trimmingCharacters(in: .whitespaces)
        }
        let decision = PersistenceCookies.response(
            cookie, serverCookie: serverCookie, direct: exchange.persistTo == server && !exchange.claim.redispatched,
            method: method, setCookieNames: names, cacheable: cacheable)
        exchange.cookieServer = decision.status.rawValue
        guard decision.removesServerCookie || !decision.added.isEmpty else { return edits }
        var changed = edits ?? ResponseHeaderEdits()
        if decision.removesServerCookie { changed.removeSetCookie(named: cookie.name) }
        for field in decision.added { changed.append(field.name, field.value) }
        return changed
    }

    /// What the next exchange's `%B` counts of what was sent before it began (the `100 Continue` the proxy made).
    private var interimLogged: Int64 = 0
    /// `option http-buffer-request`: a request whose body is being waited for, its parts so far.
    private var heldRequest: (head: HTTPRequestHead, parts: [HTTPServerRequestPart], bytes: Int, continued: Bool)?

    /// A response head waiting for its body's first part (see `serverHead`); written before anything else goes
    /// to the client, and at the latest when the batch's flushes are made.
    private var heldHead: ByteBuffer?
    /// The most a head and the body parts joined to it take in one buffer.
    private static let joinedLimit = 16_384

    /// What the session wrote to the client so far (the log's `%B` for an answer of the proxy's own).
    private var bytesOut: Int64 = 0

    /// Writes to the client, counted.
    func send(_ buffer: ByteBuffer, flush: Bool = false) {
        guard let context else { return }
        bytesOut += Int64(buffer.readableBytes)
        if flush {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    func writeHeldHead() {
        guard let head = heldHead else { return }
        heldHead = nil
        send(head)
    }

    /// Part of a response's body (without its chunk framing), passed on (framed again when the client takes
    /// chunks).
    func serverBody(_ body: ByteBuffer, on connection: HTTPServerConnection) {
        guard let exchange, exchange.connection === connection, let context else { return }
        serverIdle.touch()
        exchange.countedBytes += Int64(body.readableBytes)
        clientIdle.touch()
        if !exchange.plan.chunked, var head = heldHead,
            head.readableBytes + body.readableBytes <= HTTPSession.joinedLimit
        {
            heldHead = nil  // the buffer has one owner while it grows
            head.writeImmutableBuffer(body)
            heldHead = head
            return
        }
        writeHeldHead()
        if let deflater = exchange.deflater {
            // An empty part (nothing flushed yet) is not written: an empty chunk would end the body.
            let compressed = deflater.compress(body, finish: false, allocator: context.channel.allocator)
            if compressed.readableBytes > 0 { bytesOut += Int64(ChunkFraming.write(compressed, on: context)) }
        } else if exchange.plan.chunked {
            bytesOut += Int64(ChunkFraming.write(body, on: context))
        } else {
            send(body)
        }
    }

    /// The response is complete: the server's connection goes back to the pool (or closes), the exchange ends.
    func serverEnd(on connection: HTTPServerConnection) {
        guard let exchange, exchange.connection === connection, let context else { return }
        writeHeldHead()
        if let deflater = exchange.deflater {
            let rest = deflater.compress(nil, finish: true, allocator: context.channel.allocator)
            if rest.readableBytes > 0 { bytesOut += Int64(ChunkFraming.write(rest, on: context)) }
        }
        if exchange.plan.chunked {
            // HAProxy counts one byte more for a chunked body (its end-of-message marker), as received: not for a
            // body of known length it compresses into chunks.
            if exchange.responseHead?.framing == .chunked || exchange.compressing == nil { exchange.countedBytes += 1 }
            send(ChunkFraming.lastChunk)
        }
        flushToClient()
        exchange.connection = nil
        connection.owner = nil
        if exchange.plan.serverKeepAlive && connection.reusable && exchange.requestDone && !closesServerSide,
            let backend = exchange.backend
        {
            // A connection that began with a PROXY header speaks for this client only, as one of an `http-reuse
            // never` backend: kept for this client's next request. Any other goes to the backend's pool.
            if backend.servers[connection.server].sendProxy != nil || backend.section.settings.httpReuseNever {
                if let old = privateConnection, old.connection !== connection { old.connection.close() }
                privateConnection = (backend, connection)
            } else {
                backend.pool.give(connection, on: context.eventLoop)
            }
        } else {
            connection.close()
        }
        finish(exchange)
    }

    /// Flushes what was written to the client, at the end of the event loop's batch.
    func flushToClient() { batch?.flush(self) }

    func flushNow() {
        writeHeldHead()
        context?.flush()
    }

    /// The server's connection closed while an exchange used it.
    func serverClosed(_ connection: HTTPServerConnection, error: Bool) {
        guard let exchange, exchange.connection === connection, !exchange.logged else { return }
        exchange.connection = nil
        if exchange.responseHead == nil {
            if let server = exchange.claim.server, let backend = exchange.backend,
                exchange.claim.attempts <= 1 + backend.retries,
                exchange.state.pooledConnectionLost(bodySent: exchange.requestBytes > 0)
            {
                // A kept connection the server had just closed: try again on a fresh one.
                backend.serverSessions[server].closed()
                return reattempt(exchange, backend)
            }
            exchange.connection = connection
            if retriedOnResponse(
                exchange, emptyResponse: !connection.sawInvalidResponse, junk: connection.sawInvalidResponse)
            {
                return
            }
            exchange.connection = nil
            exchange.backend?.sessions.update { $0.responseErrors += 1 }
            // PH: an invalid response; SH: none before the close.
            exchange.termination = TerminationState(connection.sawInvalidResponse ? .proxy : .serverAbort, .headers)
            respondLocally(status: 502)
        } else {
            exchange.backend?.sessions.update { $0.serverAborts += 1 }
            exchange.termination = TerminationState(.serverAbort, .data)
            abort(exchange)
        }
    }

    var clientCanTakeMore: Bool { client.isWritable }

    func serverWritable() { resumeClientReads() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            // The client took what was queued for it: progress for `timeout client`.
            clientIdle.touch()
            exchange?.connection?.resumeReading()
            if exchange == nil { drainWaiting() }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Reads from the client

    /// Reads go on while no request is being served, or while the current request's body can go to its server.
    func read(context: ChannelHandlerContext) {
        if mayRead {
            context.read()
        } else {
            readPending = true
        }
    }

    private var mayRead: Bool {
        // Between requests and while a complete request is served, reading goes on (a keep-alive client's next
        // request, or its close, is seen without asking the kernel again), up to a few pipelined parts.
        guard let exchange else { return waiting.count < HTTPSession.waitingLimit && client.isWritable }
        if exchange.requestDone { return waiting.count < HTTPSession.waitingLimit && client.isWritable }
        // Without a server yet, one part is held; `option http-buffer-request` holds up to a buffer's worth.
        guard let connection = exchange.connection else {
            return exchange.body.isEmpty
                || (exchange.awaitingBody != nil && exchange.requestBytes < Int64(ProxyRuntime.bufferSize))
        }
        return connection.isWritable
    }

    func resumeClientReads() {
        guard readPending, mayRead, let context else { return }
        readPending = false
        context.read()
    }

    /// The client or server side failed mid-response: logged, both sides closed.
    func abort(_ exchange: Exchange) {
        closing = true
        finish(exchange)
    }

    // MARK: The end of an exchange

    /// Logs the exchange, gives back its server slot, and goes on with the next request (or closes).
    func finish(_ exchange: Exchange) {
        guard let opened = exchange.state.log() else { return }
        writeHeldHead()
        if let connection = exchange.connection {
            // An exchange that ends without its response (an abort, a timeout): its server connection goes too.
            exchange.connection = nil
            connection.owner = nil
            connection.close()
        }
        serverIdle.stop()
        clientIdle.stop()
        let backend = exchange.backend
        if exchange.ticket != nil, let backend { leaveQueue(exchange, backend, countingPlaces: false) }
        log(exchange, closing: opened)
        if let backend { leaveBackend(exchange, backend) }
        self.exchange = nil
        // A response that ended before its request's body (a server that answered early) leaves the connection in
        // an unknown state: it is closed, as is one that must close.
        if closing || !client.isActive || !exchange.requestDone || ((clientDone || stopping) && waiting.isEmpty) {
            return closeClient()
        }
        awaitRequest(first: false)
        drainWaiting()
    }

    /// Serves the pipelined requests already decoded, one after the other (in a loop, not by recursion: an
    /// exchange answered at once, like the stats page, ends inside `start`), while the client takes what it is
    /// sent.
    private func drainWaiting() {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        while self.exchange == nil, client.isWritable, !closeRequested, let part = waiting.popFirst() {
            guard case .head(let head) = part else { continue }
            start(head)
            while let exchange = self.exchange, !exchange.requestDone, let next = waiting.popFirst() {
                requestPart(next, of: exchange)
            }
        }
        resumeClientReads()
    }

    /// Counts the exchange in the frontend's, backend's and server's tallies (`opened`: where it was counted
    /// open, see `ExchangeState.log`) and logs its line.
    private func log(_ exchange: Exchange, closing opened: (backend: Bool, server: Bool)) {
        let backend = exchange.backend
        let serverTally = exchange.claim.server.flatMap { backend?.serverSessions[$0] }
        if opened.backend { backend?.sessions.closed() }
        if opened.server { serverTally?.closed() }
        let bytesOut = exchange.loggedBytesOut(clientBytesOut: self.bytesOut)
        let now = NIODeadline.now()
        let status = exchange.status
        // The stats' `bin`: what the client sent since the previous exchange was logged (heads and bodies).
        let bytesIn = reader.bytesIn - countedIn
        countedIn = reader.bytesIn
        let clientAbort = exchange.termination.endedBy(.clientAbort)
        // Each of the three tallies in turn (no array of them made per request), with its count of open sessions
        // for the log.
        func account(_ tally: ProxyRuntime.Tally?, status: Int = status) -> Int {
            guard let tally else { return 0 }
            tally.update {
                $0.bytesOut += bytesOut
                $0.bytesIn += bytesIn
                if status > 0 { $0.count(status: status) }
                if clientAbort { $0.clientAborts += 1 }
            }
            return tally.open
        }
        let counts = HAProxyLogRecord.Connections(
            active: process.open, frontend: account(frontend.sessions), backend: account(backend?.sessions),
            // A server counts the status it answered with, also when a rule replaced its response.
            server: account(serverTally, status: exchange.serverStatus ?? status))
        if let counters {
            counters.countBytes(in: bytesIn, out: bytesOut)
            counters.endRequest()
        }
        guard exchange.state.isLogged, !exchange.loggedEarly else { return }
        var record = exchange.logRecord(
            client: source(exchange), frontend: frontend, counts: counts, bytesOut: bytesOut, now: now)
        record.client(source(exchange).address, listener: localListener)
        // HAProxy's time figures of the backend and server: for an exchange that reached its server and its response.
        if record.connectTime >= 0 && record.responseTime >= 0 && record.queueTime >= 0 {
            let idle = max(0, Int((exchange.start - idleSince).nanoseconds / 1_000_000))
            let total = record.totalTime + idle
            for tally in [backend?.sessions, serverTally].compactMap({ $0 }) {
                tally.addTimes(queue: record.queueTime, connect: record.connectTime, data: record.responseTime, total: total)
            }
        }
        record.frontendTLS = tls
        frontend.logTraffic(
            record, probe: exchange.headersAt == nil && reader.bytesIn == 0, tls: tlsInfo, level: exchange.logLevel
        ) {
            logContext(exchange, uploaded: exchange.requestLine == HAProxyLogRecord.badRequest ? bytesIn : exchange.uploadedBytes)
        }
        idleSince = now
    }

    /// What a `log-format` names beyond the exchange's record: the stream's start (the connection's accept, or
    /// the end of the previous exchange) and the wait for this request's first byte, the addresses, the counts.
    func logContext(_ exchange: Exchange, uploaded: Int64) -> HAProxyLogContext {
        // The stream's start read back from the request's first byte (no calendar time is taken per request).
        let idle = max(0, (exchange.start - idleSince).nanoseconds / 1000)
        var c = HAProxyLogContext(
            acceptDate: CivilTime(
                epochMicroseconds: exchange.date.epochMicroseconds - idle, utcOffsetSeconds: exchange.date.utcOffsetSeconds))
        c.idleTime = Int(idle / 1000)
        if frontend.logRules.logsFrontendAddress {
            let local = proxyDestination ?? client.localAddress
            c.frontendIP = local?.ipAddress
            c.frontendPort = local?.port
        }
        c.serverIP = exchange.serverAddresses?.remote?.ipAddress
        c.serverPort = exchange.serverAddresses?.remote?.port
        c.backendSourceIP = exchange.serverAddresses?.local?.ipAddress
        c.backendSourcePort = exchange.serverAddresses?.local?.port
        c.bytesUploaded = uploaded
        c.requestCounter = exchange.stream
        c.tlsVersion = tlsInfo?.protocolName
        c.uniqueID = exchange.uniqueID
        return c
    }

    /// The exchange's record as it stands (its counts as they are now, its bytes so far), for a line or an ID made
    /// before its end.
    private func recordSoFar(_ exchange: Exchange, bytesOut: Int64) -> HAProxyLogRecord {
        let backend = exchange.backend
        let serverTally = exchange.claim.server.flatMap { backend?.serverSessions[$0] }
        let counts = HAProxyLogRecord.Connections(
            active: process.open, frontend: frontend.sessions.open, backend: backend?.sessions.open ?? 0,
            server: serverTally?.open ?? 0)
        var record = exchange.logRecord(
            client: source(exchange), frontend: frontend, counts: counts, bytesOut: bytesOut, now: NIODeadline.now())
        record.client(source(exchange).address, listener: localListener)
        record.frontendTLS = tls
        return record
    }

    /// The exchange's `unique-id-format`, made from what it has as it goes to its server.
    func makeUniqueID(_ exchange: Exchange) -> String? {
        frontend.uniqueID(
            recordSoFar(exchange, bytesOut: 0), logContext(exchange, uploaded: exchange.uploadedBytes), tls: tlsInfo)
    }

    /// `option logasap`: the exchange's line as its response's head arrives, its total time and bytes so far (the
    /// head's) marked `+`, the counts as they are now.
    private func logEarly(_ exchange: Exchange) {
        guard exchange.state.isLogged else { return }
        var record = recordSoFar(exchange, bytesOut: exchange.countedBytes)
        record.logASAP = true
        exchange.loggedEarly = true
        frontend.logTraffic(record, probe: false, tls: tlsInfo, level: exchange.logLevel) {
            logContext(exchange, uploaded: exchange.uploadedBytes)
        }
    }

    // MARK: Closing

    /// `option abortonclose`: a request sent to its server whose client has shut its side, before the response
    /// began, is answered HAProxy's 400 and logged `CH` (HAProxy checks it as it waits for the response's head).
    func abortsWaitingResponse(_ exchange: Exchange) -> Bool {
        guard clientDone, !exchange.logged, exchange.requestDone, exchange.connection != nil,
            exchange.responseHead == nil, let backend = exchange.backend, backend.section.settings.option(.abortOnClose)
        else { return false }
        exchange.termination = TerminationState(.clientAbort, .headers)
        backend.sessions.update { $0.clientAborts += 1 }
        respondLocally(status: 400, page: HTTPErrorPages.streamBadRequest)
        return true
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent, !closeRequested, !ended {
            // The client sent all it will: what it asked is answered, then the connection closes.
            clientDone = true
            // `option abortonclose`: a request still queued is dropped (HAProxy's `CQ`, nothing sent back)…
            if let exchange, !exchange.logged, exchange.ticket != nil, let backend = exchange.backend,
                backend.section.settings.option(.abortOnClose)
            {
                // Its time and place in the queue are logged as of now, as HAProxy logs them.
                _ = leaveQueue(exchange, backend, countingPlaces: true)
                exchange.termination = TerminationState(.clientAbort, .queue)
                abort(exchange)
                closeClient()
                context.fireUserInboundEventTriggered(event)
                return
            }
            // …and one whose response has not begun is answered HAProxy's 400 (`CH`), its server connection closed.
            if let exchange, abortsWaitingResponse(exchange) {
                context.fireUserInboundEventTriggered(event)
                return
            }
            if exchange == nil && waiting.isEmpty {
                // Nothing (more) asked: a connection that never completed a request gets HAProxy's 400 and `CR`.
                guard served == 0 || reader.firstByte != nil else { return closeClient() }
                let local = badRequest()
                local.termination = TerminationState(.clientAbort, .request)
                exchange = local
                respondLocally(status: 400)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientGone()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeRequested { return }
        if error is MalformedHTTP || error is HeadTooLarge {
            waiting.removeAll()
            if let exchange {
                closing = true
                guard !exchange.requestDone, !exchange.logged else {
                    // Garbage after a request being served: that one finishes, then the connection closes.
                    return
                }
                // A body that breaks its framing (a bad chunk size, the end before its length): the exchange ends.
                exchange.termination = TerminationState(.proxy, exchange.phase)
                return abort(exchange)
            }
            // A request the decoder could not read: refused as HAProxy refuses it (`PR--`, nothing logged as sent).
            exchange = badRequest()
            let status: Int
            switch error {
            case HeadTooLarge.headers: status = 431
            case HeadTooLarge.uri: status = 414
            default: status = 400
            }
            return refuse(status: status, requestLine: HAProxyLogRecord.badRequest)
        }
        if let exchange, !exchange.logged {
            exchange.termination = TerminationState(.clientAbort, exchange.phase)
            abort(exchange)
        } else {
            closeClient()
        }
    }

    private func clientGone() {
        guard !ended else { return }
        ended = true
        cancelTimers()
        privateConnection?.connection.close()
        privateConnection = nil
        if let exchange, !exchange.logged {
            exchange.termination = TerminationState(.clientAbort, exchange.phase)
            if let connection = exchange.connection {
                exchange.connection = nil
                connection.owner = nil
                connection.close()
            }
            finish(exchange)
        } else if exchange == nil, !closeRequested, served == 0 || reader.firstByte != nil {
            // The client left in the middle of a request: HAProxy logs `CR--` with a 400 it could not send.
            exchange = badRequest()
            exchange?.termination = TerminationState(.clientAbort, .request)
            exchange?.status = 400
            if let exchange, let opened = exchange.state.log() { log(exchange, closing: opened) }
        }
        process.closed()
        frontend.sessions.closed()
        releaseLimits()
        if let listing { frontend.directory?.remove(listing) }
    }

    /// Ended from outside (an administrator, its server going down): the request in progress is logged with
    /// `cause` where it stood, and the connection closes.
    private func kill(_ cause: TerminationState.Cause) {
        guard !ended else { return }
        closing = true
        if let exchange, !exchange.logged {
            exchange.termination = TerminationState(cause, exchange.phase)
            abort(exchange)
        } else {
            closeClient()
        }
    }

    private func closeClient() {
        closeRequested = true
        guard let context else { return }
        // What waits for the batch's flush goes first (a close drops unflushed writes).
        writeHeldHead()
        context.flush()
        context.close(promise: nil)
    }
}

extension HTTPVersion {
    var atLeast11: Bool { major > 1 || (major == 1 && minor >= 1) }
}
