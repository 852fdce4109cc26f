import HAProxyLog
import LogCore
import NIOCore
import NIOPosix
import TCPPlane

/// One client connection through the proxy, on its loop: a NIO channel's (TLS listeners, PROXY protocol) or a TCP
/// data plane loop's (plain TCP).
final class TCPSession: ClientSession, BackendAssignee, BackendSeat {
    private let frontend: ProxyRuntime.Frontend
    /// The client came through a TLS listener (`%ft` logs `frontend~`): what its TLS carried.
    private let tlsInfo: ClientTLS?
    private var tls: Bool { tlsInfo != nil }
    /// The process's sessions (`actconn`).
    private let sessions: ProxyRuntime.Tally
    private let client: TCPClientConnection
    /// The accept date and clock, reset when maxconn held the connection back (HAProxy accepts it only then).
    private var acceptedAt = CivilTime.now()
    /// `%rt`: the session's number among the process's streams.
    private let streamNumber = ProxyRuntime.Frontend.nextStream()
    /// The server connection's own and far addresses, kept for a `log-format` that names them.
    private var serverAddresses: (local: SocketAddress?, remote: SocketAddress?)?
    private var started = NIODeadline.now()
    /// When the session reached its server (`Tw + Tc`, ms since the start; -1: never).
    private var connectedAfter = -1
    private var termination = TerminationState.normal
    /// The session's place with its backend (see `BackendAssignee`).
    var claim = BackendClaim()
    var ticket: ProxyRuntime.Backend.Ticket?
    var queueTimer: (any SessionTimer)?
    var dequeuedAt: NIODeadline?
    /// Counted in `beconn` (from the moment it has a server or a queue place).
    private var inBackend = false
    /// Holds a slot of each of the frontend's maxconn limits.
    private var admitted = false
    /// The client side of the relay.
    private let front: any TCPRelaySide
    /// The server side of the relay, once connected.
    private var back: (any TCPRelaySide)?
    private var openSides = 1
    private var logged = false
    /// Rejected by a `tcp-request content` rule (no queue time: `Tw` is -1).
    private var denied = false
    /// Where this session is listed for the runtime API and for being ended from outside (see `SessionDirectory`).
    private(set) var listing: SessionDirectory.Listing?
    /// The backend the session goes to: the frontend's default, or the one a `use_backend` rule chose.
    private var backend: ProxyRuntime.Backend?
    /// `tcp-request inspect-delay`: its end, while the content rules wait for what the client sends first.
    private var inspectTimer: (any SessionTimer)?
    private var inspecting = false
    /// What a PROXY protocol header said the client's and the frontend's addresses are.
    private var proxySource: SocketAddress?
    private var proxyDestination: SocketAddress?

    /// What the session tracks (`track-sc`), with the stick tables; nil without tables.
    private let counters: TrackedCounters?
    /// The next `tcp-request content` rule to evaluate (a rule that waits for data is evaluated again).
    private var contentRule = 0
    /// The backend's `stick` rules for this session: the server a match found, the keys to store.
    private var stickiness: StickPersistence?
    var persistTo: Int? { stickiness?.server }

    func useProxyAddresses(source: SocketAddress?, destination: SocketAddress?) {
        proxySource = source
        proxyDestination = destination
    }

    /// A session on an accepted NIO channel.
    convenience init(
        frontend: ProxyRuntime.Frontend, sessions: ProxyRuntime.Tally, client: any Channel, tls: ClientTLS? = nil,
        counters: TrackedCounters? = nil
    ) {
        let relay = RelayHandler(
            idleTimeout: frontend.clientTimeout,
            finTimeout: ProxyRuntime.amount(frontend.section.settings.timeouts.clientFin))
        self.init(frontend: frontend, sessions: sessions, connection: .channel(client, relay), tls: tls, counters: counters)
    }

    init(
        frontend: ProxyRuntime.Frontend, sessions: ProxyRuntime.Tally, connection: TCPClientConnection,
        tls: ClientTLS? = nil, counters: TrackedCounters? = nil
    ) {
        self.counters = counters
        tlsInfo = tls
        self.frontend = frontend
        self.sessions = sessions
        client = connection
        front = connection.side
        backend = frontend.backend
    }

    var limits: [ProxyRuntime.ConnectionLimit] { frontend.limits }
    var sessionRate: ProxyRuntime.SessionRate? { frontend.sessionRate }

    /// The frontend's maxconn limits have admitted the connection (held back until now, its reads paused).
    func admit(paused: Bool) {
        admitted = true
        guard client.isActive else { return releaseLimits() }
        if paused {
            acceptedAt = CivilTime.now()
            started = NIODeadline.now()
        }
        begin()
        if paused { client.resumeReading() }
    }

    private func releaseLimits() {
        guard admitted else { return }
        admitted = false
        for limit in frontend.limits.reversed() { limit.release() }
    }

    /// Sets up the client side and starts connecting to a server.
    func begin() {
        sessions.opened()
        frontend.sessions.opened()
        front.onTimeout = { [self] in clientTimedOut() }
        client.start(
            idleTimeout: frontend.clientTimeout,
            finTimeout: ProxyRuntime.amount(frontend.section.settings.timeouts.clientFin))
        front.onClose = { [self] error in sideClosed(client: true, error: error) }
        if let directory = frontend.directory {
            let loop = sessionLoop
            let bound = LoopBound(self, loop: loop)
            listing = directory.add(
                frontend: frontend.section, client: clientAddress, frontendAddress: proxyDestination ?? client.localAddress
            ) { cause in loop.runNowOrSoon { bound.value.kill(cause) } }
            listing?.update { $0.stream = streamNumber }
        }
        // `tcp-request session` rules (after a PROXY header, on the address it gave), then the session is counted
        // in what the connection tracks.
        if !passes(frontend.section.rules.tcpSessionRules, level: .connection) { return }
        counters?.countSession()
        frontend.logConnect(client: clientAddress, to: proxyDestination ?? client.localAddress)
        // `tcp-request content` rules of the frontend, as the session starts (on the address a PROXY protocol
        // header gave, as HAProxy); rules on what the client sends first wait for it (`inspect-delay`).
        if frontend.inspectsPayload {
            inspecting = true
            front.readsBeforeAttach = true
            front.onEarly = { [self] in inspect(final: false) }
            if let delay = frontend.inspectDelay {
                inspectTimer = client.loop.schedule(after: delay) { [self] in inspect(final: true) }
            }
            return inspect(final: frontend.inspectDelay == nil)
        }
        if !passes(frontend.section.rules.tcpContentRules, level: .request) { return }
        route(
            Layer4Input(
                client: AddressSet.key(clientAddress), hello: ClientHelloPeek([]), final: true, counters: counters,
                frontendPort: frontendPort))
        connect()
    }

    /// The content rules on what the client sent so far: they wait for more, reject, or let the session go on to
    /// its backend (`use_backend` then reads what came, without waiting).
    private func inspect(final: Bool) {
        guard inspecting else { return }
        let bytes = front.earlyBytes
        // HAProxy stops waiting when its buffer is full or the client ended its side.
        let done = final || front.earlyEnded || bytes.count >= ProxyRuntime.bufferSize
        var input = Layer4Input(
            client: AddressSet.key(clientAddress), hello: ClientHelloPeek(bytes), final: done,
            servers: frontend.usableServers, counters: counters, frontendPort: frontendPort)
        let decision = TCPRequestRule.decide(frontend.section.rules.tcpContentRules, input, from: &contentRule) {
            [self] in counters?.perform($0, level: .request, samples: samples)
        }
        if decision == .wait { return }
        if decision == .silentDrop { client.silence() }
        if decision == .reject || decision == .silentDrop, contentRule < frontend.section.rules.tcpContentRules.count {
            frontend.limitBlocked(
                clientAddress?.ipAddress, action: decision == .silentDrop ? "silent-drop" : "reject",
                limits: frontend.section.rules.tcpContentRules[contentRule].condition?.limits ?? [])
        }
        inspecting = false
        inspectTimer?.cancel()
        inspectTimer = nil
        front.onEarly = nil
        front.readsBeforeAttach = false
        guard decision == .accept else { return deny() }
        input.final = true
        route(input)
        connect()
    }

    /// `tcp-request session|content` rules at once (their actions carried out); false when they ended the
    /// session (`reject`, `silent-drop`: logged `PR` with no server).
    private func passes(_ rules: [TCPRequestRule], level: TrackedCounters.Level) -> Bool {
        guard !rules.isEmpty else { return true }
        let (decision, limits) = TCPRequestRule.decide(
            rules, client: AddressSet.key(clientAddress), frontendPort: frontendPort, counters: counters
        ) { [self] in counters?.perform($0, level: level, samples: samples) }
        if decision == .reject || decision == .silentDrop {
            frontend.limitBlocked(
                clientAddress?.ipAddress, action: decision == .silentDrop ? "silent-drop" : "reject", limits: limits)
        }
        switch decision {
        case .accept, .wait: return true
        case .reject: deny()
        case .silentDrop:
            client.silence()
            deny()
        }
        return false
    }

    /// `use_backend`: the first rule that holds chooses the backend, else the frontend's default.
    private func route(_ input: Layer4Input) {
        var input = input
        input.servers = frontend.usableServers
        for (condition, target) in frontend.routes where condition?.layer4(input) ?? .yes == .yes {
            backend = target
            return
        }
    }

    /// Rejected by a `tcp-request content` rule: `PR` with no server, logged, and the client closed without a byte.
    private func deny() {
        termination = TerminationState(.proxy, .request)
        denied = true
        claim.noServer()
        frontend.sessions.update { $0.deniedRequests += 1 }
        front.onClose = nil
        finish()
        client.close()
    }

    /// Ended from outside (its server went down, an administrator): logged with `cause` and no phase, as HAProxy 2.6
    /// logs such a session (`D-`, `K-`).
    private func kill(_ cause: TerminationState.Cause) {
        if termination == .normal { termination = TerminationState(cause, .normal) }
        client.close()
    }

    private func clientTimedOut() {
        if termination == .normal { termination = TerminationState(.clientTimeout, .data) }
        client.close()
    }

    fileprivate func serverTimedOut() {
        if termination == .normal { termination = TerminationState(.serverTimeout, .data) }
        server?.close()
    }

    /// The server's connection, once made.
    private var server: TCPServerConnection?

    /// Enters the backend (counted in `beconn` from then on) and finds a server.
    private func connect() {
        guard let backend else { return fail(noServer: true) }
        if !inBackend {
            inBackend = true
            backend.sessions.opened()
            // The backend's own `tcp-request content` rules as the session enters it (a `listen` section's once).
            if backend.section.name != frontend.section.name
                && !passes(backend.section.rules.tcpContentRules, level: .request)
            {
                return
            }
            // `stick match|on`: the server the client's entry names; `stick store-request|on`: recorded once connected.
            let stickRules = backend.section.stickRules
            if !stickRules.isEmpty {
                let input = Layer4Input(
                    client: AddressSet.key(clientAddress), hello: ClientHelloPeek([]), final: true,
                    servers: frontend.usableServers, counters: counters, frontendPort: frontendPort)
                stickiness = StickPersistence(
                    stickRules, tables: frontend.stickTables, samples: samples, servers: backend.servers.count
                ) { $0?.layer4(input) ?? .yes == .yes }
            }
        }
        assignServer(self, backend)
    }

    // MARK: The backend path (`BackendAssignee`)

    var sessionLoop: TCPSessionLoop { client.loop }
    var clientAddress: SocketAddress? { proxySource ?? client.remoteAddress }
    /// The listener's number in its frontend when it is a local socket (its clients are logged `unix:N`).
    var localListener = 0
    func wantsServer(_ seat: TCPSession) -> Bool { !logged }

    func assignmentFailed(_ seat: TCPSession, _ failure: AssignmentFailure) {
        switch failure {
        case .noServer: fail(noServer: true)
        case .unreachable: fail(noServer: false)
        case .queueTimeout:
            termination = TerminationState(.serverTimeout, .queue)
            front.onClose = nil
            // Logged before the client sees the close (as HAProxy): nothing the client does next can log first.
            finish()
            client.close()
        }
    }

    /// One connection attempt to `server`, whose slot this session holds.
    func attempt(_ seat: TCPSession, server index: Int, backend: ProxyRuntime.Backend) {
        guard let address = backend.address(index) else { return connectFailed() }
        for tally in [backend.sessions, backend.serverSessions[index]] { tally.update { $0.connectAttempts += 1 } }
        let finTimeout = ProxyRuntime.amount(backend.section.settings.timeouts.serverFin)
        let loop: any EventLoop
        switch client {
        case .plane(let stream, _):
            // On the data plane: a non-blocking connect from the client's loop (no TLS to servers there).
            let bound = LoopBound(self, loop: sessionLoop)
            return PlaneStream.connect(
                to: address, on: stream.loop, keepalive: backend.tcpKeepAlive, timeout: backend.connectTimeout,
                idleTimeout: backend.serverTimeout, finTimeout: finTimeout
            ) { result in
                let session = bound.value
                switch result {
                case .success(let server):
                    server.onTimeout = { [session] in session.serverTimedOut() }
                    session.connected(.plane(server))
                case .failure: session.connectFailed()
                }
            }
        case .channel(let channel, _): loop = channel.eventLoop
        }
        let relay = RelayHandler(idleTimeout: backend.serverTimeout, finTimeout: finTimeout)
        // The server's channel is made on the client's loop: both sides of the relay share it. Each attempt has
        // its own relay handler.
        let bound = NIOLoopBound((self, relay), eventLoop: loop)
        // TLS to the server (`ssl`): its handshake is part of the connect; a PROXY header goes before it, in clear.
        let tls = backend.serverTLS[index].flatMap { $0.traffic ? $0 : nil }
        let handshake = tls.map { _ in loop.makePromise(of: Void.self) }
        let prefix = tls == nil ? nil : proxyHeader(for: backend.servers[index])
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(backend.connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1, when: !address.isLocal)
            .channelOption(.socketOption(.so_keepalive), value: 1, when: backend.tcpKeepAlive && !address.isLocal)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (session, relay) = bound.value
                    relay.onTimeout = { [session] in session.serverTimedOut() }
                    try channel.pipeline.syncOperations.addHandler(relay)
                    if let tls, let handshake {
                        relay.readsBeforeAttach = true
                        try tls.addHandlers(
                            to: channel, sni: tls.trafficName { _ in nil }, prefix: prefix, handshake: handshake)
                    }
                }
            }
        bootstrap.connect(to: address).flatMap { channel -> EventLoopFuture<any Channel> in
            guard let handshake else { return loop.makeSucceededFuture(channel) }
            return handshake.futureResult.map { channel }
        }.whenComplete { result in
            // A connect that failed never started the handshake.
            if case .failure(let error) = result { handshake?.fail(error) }
            let (session, relay) = bound.value
            switch result {
            case .success(let channel): session.connected(.channel(channel, relay))
            case .failure: session.connectFailed()
            }
        }
    }

    /// What the session's keys are made from.
    /// `dst_port`: the port the client connected to, or the one its PROXY header names.
    private var frontendPort: Int? { (proxyDestination ?? client.localAddress)?.port }

    private var samples: StickSampleSource {
        StickSampleSource(client: clientAddress, frontend: proxyDestination ?? client.localAddress, sni: tlsInfo?.sni)
    }

    private func connected(_ connection: TCPServerConnection) {
        server = connection
        let back = connection.side
        self.back = back
        if let server = claim.server, let backend { stickiness?.commit(server: server, name: backend.servers[server].name) }
        if let server = claim.server, let backend, backend.serverTLS[server]?.traffic != true,
            let header = proxyHeader(for: backend.servers[server])
        {
            // `send-proxy`: the header goes first, before anything relayed (to a TLS server, before the handshake).
            connection.writeFirst(header)
        }
        connectedAfter = elapsedMilliseconds()
        if frontend.logRules.logsServerAddresses { serverAddresses = (connection.localAddress, connection.remoteAddress) }
        openSides = 2
        serverSessions?.opened(balanced: true)
        if frontend.logASAP { logNow(final: false) }
        back.onClose = { [self] error in sideClosed(client: false, error: error) }
        connection.attach(to: client)
        if !client.isActive {
            // The client left while we connected.
            connection.close()
        }
    }

    /// `send-proxy` / `send-proxy-v2`: the PROXY protocol header for a connection to `server`, nil without.
    private func proxyHeader(for server: ServerLine) -> [UInt8]? {
        server.sendProxy.map {
            ProxyProtocol.header($0, source: clientAddress, destination: proxyDestination ?? client.localAddress)
        }
    }

    private func connectFailed() {
        guard let backend else { return fail(noServer: true) }
        attemptFailed(self, backend, clientActive: client.isActive)
    }

    /// No server could be reached: `SC` (or `<NOSRV>` when none was usable), the client closed.
    private func fail(noServer: Bool) {
        termination = TerminationState(.serverAbort, .connect)
        if noServer { claim.noServer() }
        front.onClose = nil
        finish()
        client.close()
    }

    private func sideClosed(client isClient: Bool, error: Bool) {
        if isClient, ticket != nil, let backend {
            // The client left while queued: `CQ`.
            if leaveQueue(self, backend, countingPlaces: true) { termination = TerminationState(.clientAbort, .queue) }
            return finish()
        }
        if error && termination == .normal {
            termination = TerminationState(isClient ? .clientAbort : .serverAbort, .data)
        }
        openSides -= 1
        if openSides <= 0 || connectedAfter < 0 { finish() }
    }

    /// The chosen server's `srv_conn`.
    private var serverSessions: ProxyRuntime.Tally? { claim.server.flatMap { backend?.serverSessions[$0] } }

    private func finish() {
        guard !logged else { return }
        logged = true
        inspecting = false
        inspectTimer?.cancel()
        inspectTimer = nil
        if let listing { frontend.directory?.remove(listing) }
        // As HAProxy: the backend's and the server's counts no longer include this session when it is logged;
        // the process's and the frontend's still do.
        if inBackend { backend?.sessions.closed() }
        if connectedAfter >= 0 { serverSessions?.closed() }
        if !loggedEarly { logNow(final: true) }
        // HAProxy's time figures of the backend and server, for a session that reached its server.
        if connectedAfter >= 0, let backend {
            let queue = denied ? 0 : dequeuedAt.map { milliseconds(since: started, to: $0) } ?? 0
            let total = elapsedMilliseconds()
            for tally in [backend.sessions, serverSessions].compactMap({ $0 }) {
                tally.addTimes(queue: queue, connect: connectedAfter - queue, data: 0, total: total)
            }
        }
        let (bytesIn, bytesOut) = (front.bytesIn, back?.bytesIn ?? 0)
        for tally in [frontend.sessions, backend?.sessions, serverSessions].compactMap({ $0 }) {
            tally.update {
                $0.bytesIn += bytesIn
                $0.bytesOut += bytesOut
                if termination.endedBy(.clientAbort) { $0.clientAborts += 1 }
                if termination.endedBy(.serverAbort) && connectedAfter >= 0 { $0.serverAborts += 1 }
            }
        }
        counters?.countBytes(in: front.bytesIn, out: back?.bytesIn ?? 0)
        counters?.endSession()
        sessions.closed()
        frontend.sessions.closed()
        if let backend { leaveBackend(self, backend) }
        releaseLimits()
    }

    /// The session's tcplog line, now: at its end, or (`option logasap`, `final` false) as it reaches its server,
    /// its total time and bytes so far marked `+`.
    private var loggedEarly = false
    private func logNow(final: Bool) {
        let counts = HAProxyLogRecord.Connections(
            active: sessions.open, frontend: frontend.sessions.open, backend: backend?.sessions.open ?? 0,
            server: serverSessions?.open ?? 0)
        var record = HAProxyLogRecord.tcpSession(
            client: clientAddress, accepted: acceptedAt, frontend: frontend, backend: backend, inBackend: inBackend,
            claim: claim,
            queueTime: denied ? -1 : dequeuedAt.map { milliseconds(since: started, to: $0) } ?? 0,
            connectedAfter: connectedAfter,
            totalTime: elapsedMilliseconds(), bytesRead: back?.bytesIn ?? 0, termination: termination, counts: counts)
        record.client(clientAddress, listener: localListener)
        record.frontendTLS = tls
        record.logASAP = !final
        loggedEarly = !final
        frontend.logTraffic(record, empty: final && (back?.bytesIn ?? 0) == 0 && front.bytesIn == 0, tls: tlsInfo) {
            var c = HAProxyLogContext(acceptDate: acceptedAt)
            if frontend.logRules.logsFrontendAddress {
                let local = proxyDestination ?? client.localAddress
                c.frontendIP = local?.ipAddress
                c.frontendPort = local?.port
            }
            c.serverIP = serverAddresses?.remote?.ipAddress
            c.serverPort = serverAddresses?.remote?.port
            c.backendSourceIP = serverAddresses?.local?.ipAddress
            c.backendSourcePort = serverAddresses?.local?.port
            c.bytesUploaded = front.bytesIn
            c.requestCounter = streamNumber
            c.tlsVersion = tlsInfo?.protocolName
            return c
        }
    }

    private func elapsedMilliseconds() -> Int { milliseconds(since: started, to: .now()) }

    private func milliseconds(since start: NIODeadline, to end: NIODeadline) -> Int {
        Int((end - start).nanoseconds / 1_000_000)
    }
}
