import HAProxyLog
import LogCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP session's side of the one backend path (`BackendAssignee`): how a request reaches a server — a kept
/// connection from the backend's pool or a new one —, what it answers when the path gives up, and the server-side
/// timeouts.
extension HTTPSession {
    // MARK: The backend path (`BackendAssignee`)

    var sessionLoop: NIOSessionLoop { NIOSessionLoop(loop: client.eventLoop) }
    var clientAddress: SocketAddress? { source(exchange).address }
    func wantsServer(_ exchange: Exchange) -> Bool { self.exchange === exchange && !exchange.logged }

    func assignmentFailed(_ exchange: Exchange, _ failure: AssignmentFailure) {
        exchange.termination =
            failure == .queueTimeout
            ? TerminationState(.serverTimeout, .queue) : TerminationState(.serverAbort, .connect)
        respondLocally(status: 503)
    }

    /// One attempt on server `index`: a pooled connection if there is one, else a new connection.
    func attempt(_ exchange: Exchange, server index: Int, backend: ProxyRuntime.Backend) {
        // Assigned at once: no time in a queue (`Tw` 0), whatever the thread's scheduling since the head.
        exchange.dequeuedAt = exchange.dequeuedAt ?? exchange.headersAt ?? .now()
        let loop = client.eventLoop
        // TLS to the server (`ssl`): the SNI `sni` names for this request (a pooled connection must have sent it).
        let tls = backend.serverTLS[index].flatMap { $0.traffic ? $0 : nil }
        let sni = tls?.trafficName(clientSNI: tlsInfo?.sni) { exchange.forwardHead.headers[$0].last }
        // This client's private connection (`http-reuse never`, PROXY header) to that server; one to another
        // server is closed (a request that goes elsewhere does not come back to it).
        if let kept = privateConnection, kept.backend === backend {
            privateConnection = nil
            if kept.connection.server == index, kept.connection.sni == sni, !kept.connection.closed,
                kept.connection.channel?.isActive == true
            {
                for tally in [backend.sessions, backend.serverSessions[index]] { tally.update { $0.reuses += 1 } }
                return connected(exchange, kept.connection, reused: true)
            }
            kept.connection.close()
        }
        if let pooled = backend.pool.take(server: index, sni: sni, on: loop) {
            for tally in [backend.sessions, backend.serverSessions[index]] { tally.update { $0.reuses += 1 } }
            return connected(exchange, pooled, reused: true)
        }
        guard let address = backend.address(index) else { return connectFailed(exchange) }
        for tally in [backend.sessions, backend.serverSessions[index]] { tally.update { $0.connectAttempts += 1 } }
        let connection = HTTPServerConnection(server: index, sni: sni)
        let bound = NIOLoopBound((self, exchange, connection), eventLoop: loop)
        // The handshake is part of the connect; a PROXY header goes before it, in clear.
        let handshake = tls.map { _ in loop.makePromise(of: Void.self) }
        let prefix: [UInt8]? = backend.servers[index].sendProxy.flatMap { version in
            tls == nil
                ? nil
                : ProxyProtocol.header(version, source: peer.address, destination: proxyDestination ?? client.localAddress)
        }
        ClientBootstrap(group: loop)
            .connectTimeout(backend.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1, when: !address.isLocal)
            .channelOption(.socketOption(.so_keepalive), value: 1, when: backend.tcpKeepAlive && !address.isLocal)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (_, _, connection) = bound.value
                    // It writes requests and reads responses itself (under TLS's handlers when the server is TLS).
                    try channel.pipeline.syncOperations.addHandler(connection)
                    if let tls, let handshake {
                        try tls.addHandlers(to: channel, sni: sni, prefix: prefix, handshake: handshake)
                    }
                }
            }
            .connect(to: address)
            .flatMap { channel -> EventLoopFuture<Void> in
                handshake?.futureResult ?? loop.makeSucceededVoidFuture()
            }
            .whenComplete { result in
                // A connect that failed never started the handshake.
                if case .failure(let error) = result { handshake?.fail(error) }
                let (session, exchange, connection) = bound.value
                switch result {
                case .success: session.connected(exchange, connection, reused: false)
                case .failure: session.connectFailed(exchange)
                }
            }
    }

    func connected(_ exchange: Exchange, _ connection: HTTPServerConnection, reused: Bool) {
        guard self.exchange === exchange, let server = exchange.claim.server, let backend = exchange.backend,
            exchange.state.connected(reused: reused)
        else {
            // The client left meanwhile.
            connection.close()
            return
        }
        exchange.connection = connection
        exchange.connectedAt = .now()
        if frontend.logRules.logsServerAddresses, let channel = connection.channel {
            exchange.serverAddresses = (channel.localAddress, channel.remoteAddress)
        }
        connection.owner = self
        backend.serverSessions[server].opened(balanced: true)
        if !reused, backend.serverTLS[server]?.traffic != true, let version = backend.servers[server].sendProxy {
            connection.sendRaw(
                ProxyProtocol.header(version, source: peer.address, destination: proxyDestination ?? client.localAddress))
        }
        var head = exchange.forwardHead
        // `compression`: the algorithm the request asks for, decided once; `offload` takes its Accept-Encoding out.
        if exchange.compression == nil,
            let settings = CompressionSettings.combined(
                backend: backend.section.settings.compression, frontend: frontend.section.settings.compression)
        {
            let values = head.headers["accept-encoding"].flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            let agent = head.headers["user-agent"].first.map { Substring($0) }
            let asked = Compression.algorithm(acceptEncoding: values, userAgent: agent, settings)
            exchange.compression = (settings, asked ?? Compression.fallback(settings), asked != nil)
        }
        if let compression = exchange.compression, compression.asked, compression.settings.offload {
            head.headers.remove(name: "accept-encoding")
        }
        // `unique-id-header`: the ID made as the request leaves for its backend (once, whatever the retries), before
        // `X-Forwarded-For`, as HAProxy adds them.
        if let name = frontend.logRules.uniqueIDHeader {
            if exchange.uniqueID == nil { exchange.uniqueID = makeUniqueID(exchange) }
            head.headers.add(name: name.lowercased(), value: exchange.uniqueID ?? "")
        }
        // `option forwardfor`, the backend's before the frontend's: not for a client in `except`, nor when the
        // request has the header already and `if-none` says so.
        if let rule = backend.forwardFor ?? frontend.forwardFor, let ip = source(exchange).ip,
            !(sourceKey(exchange).map(rule.except.contains) ?? false),
            !(rule.ifNone && head.headers.contains(name: rule.header))
        {
            head.headers.add(name: rule.header, value: ip)
        }
        // `option originalto`: the address the client connected to, unless in the frontend's or the backend's
        // `except`; the backend's header name when it has the option, as HAProxy.
        let (front, back) = (frontend.section.settings.originalTo, backend.section.settings.originalTo)
        if let rule = back ?? front, let local = proxyDestination ?? client.localAddress, let ip = local.ipAddress {
            let key = AddressSet.key(local)
            if !(front.map { key.map($0.except.contains) ?? false } ?? false)
                && !(back.map { key.map($0.except.contains) ?? false } ?? false)
            {
                head.headers.add(name: rule.header, value: ip)
            }
        }
        // `option http-server-close` / `httpclose`: the server is told the connection closes after this request,
        // unless the backend pretends keep-alive.
        // (HTTP/1.0 closes by default: nothing is said then.)
        if closesServerSide && !backend.section.settings.option(.httpPretendKeepalive) {
            head.headers.remove(name: "connection")
            if head.version.atLeast11 { head.headers.add(name: "connection", value: "close") }
        }
        connection.sendHead(head)
        for buffer in exchange.body { connection.sendBody(buffer) }
        // `retry-on` a response: the request is kept when it goes out whole (HAProxy's condition).
        exchange.replay = backend.retryOn.layer7 && exchange.requestDone ? exchange.body : nil
        exchange.body = []
        if exchange.requestDone { connection.sendEnd() }
        connection.flush()
        // A client that shut its side before its request left: with abortonclose, HAProxy's 400 at once.
        if abortsWaitingResponse(exchange) { return }
        armServerTimeout(exchange)
        resumeClientReads()
    }

    func connectFailed(_ exchange: Exchange) {
        guard self.exchange === exchange, !exchange.logged, let backend = exchange.backend else { return }
        attemptFailed(exchange, backend, clientActive: client.isActive)
    }

    /// `timeout server` while waiting for the response (or for more of it).
    func armServerTimeout(_ exchange: Exchange) {
        guard let context else { return }
        serverIdle.start(on: context.eventLoop, timeout: exchange.backend?.serverTimeout)
    }

    /// Whether the client side is doing its part: not waiting on the client (the request is complete, nothing to
    /// write is held back).
    var clientIsBusy: Bool { (exchange?.requestDone ?? true) && client.isWritable }

    func clientTimedOut(_ exchange: Exchange) {
        exchange.termination = TerminationState(.clientTimeout, exchange.responseHead == nil ? .headers : .data)
        abort(exchange)
    }

    /// `retry-on`: the response (or its absence, `why`) calls for another attempt, the request went out whole and
    /// `retries` allows it: the connection is dropped and the request goes again, to the same server or (with
    /// `option redispatch`) another. True when it went.
    func retriedOnResponse(_ exchange: Exchange, status: Int? = nil, emptyResponse: Bool = false, junk: Bool = false,
        timeout: Bool = false
    ) -> Bool {
        guard let replay = exchange.replay, let backend = exchange.backend, let server = exchange.claim.server,
            let connection = exchange.connection
        else { return false }
        let rule = backend.retryOn
        let asked =
            status.map(rule.statuses.contains) ?? false || (emptyResponse && rule.emptyResponse)
            || (junk && rule.junkResponse) || (timeout && rule.responseTimeout)
        guard asked else { return false }
        guard exchange.claim.mayRetryResponse(retries: backend.retries) else {
            exchange.claim.refusedResponseRetry()
            return false
        }
        guard client.isActive, exchange.state.retryingResponse() else { return false }
        connection.owner = nil
        exchange.connection = nil
        connection.close()
        backend.serverSessions[server].closed()
        exchange.responseHead = nil
        exchange.responseAt = nil
        exchange.body = replay
        exchange.replay = nil
        serverIdle.stop()
        assignServer(exchange, backend)
        return true
    }

    func serverTimedOut(_ exchange: Exchange) {
        if exchange.responseHead == nil && retriedOnResponse(exchange, timeout: true) { return }
        exchange.backend?.sessions.update { $0.responseErrors += 1 }
        if let connection = exchange.connection {
            connection.owner = nil
            exchange.connection = nil
            connection.close()
        }
        if exchange.responseHead == nil {
            exchange.termination = TerminationState(.serverTimeout, .headers)
            respondLocally(status: 504)
        } else {
            exchange.termination = TerminationState(.serverTimeout, .data)
            abort(exchange)
        }
    }
}
