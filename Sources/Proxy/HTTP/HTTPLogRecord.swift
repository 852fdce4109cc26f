import HAProxyLog
import NIOCore

extension HAProxyLogRecord {
    /// The four concurrent-connection counts of a line (`actconn/feconn/beconn/srv_conn`), read as the session
    /// is logged.
    struct Connections {
        var active: Int
        var frontend: Int
        var backend: Int
        var server: Int
    }
}

extension HAProxyLogRecord {
    /// A client that came through a local socket (`bind unix@…`, `abns@…`) is logged as HAProxy logs it: `unix` and
    /// the listener's number in its frontend.
    mutating func client(_ address: SocketAddress?, listener: Int) {
        guard address?.isLocal == true else { return }
        clientIP = "unix"
        clientPort = listener
    }
}

extension Exchange {
    /// The log's `%B` for this exchange: a relayed response as HAProxy counts it (see `HTTPHeadWriter.response`),
    /// the proxy's own answers as HAProxy logs them, or else what was written to the client since it began.
    func loggedBytesOut(clientBytesOut: Int64) -> Int64 {
        loggedBytes.map { $0 + droppedResponseBytes + afterResponseBytes }
            ?? (responseHead != nil ? countedBytes : clientBytesOut - bytesOutStart)
    }

    /// The termination state with the persistence cookie's two characters, when the backend has a cookie that
    /// HAProxy reports (`insert` or `indirect`; else `--`).
    func withCookies(_ state: TerminationState) -> TerminationState {
        guard let cookie = backend?.section.settings.cookie, cookie.insert || cookie.indirect else { return state }
        var s = state
        s.clientCookie = cookieClient ?? PersistenceCookies.ClientStatus.none.rawValue
        s.serverCookie = cookieServer ?? PersistenceCookies.ServerStatus.none.rawValue
        return s
    }

    /// The exchange's `option httplog` line, a function of what it recorded (no counter is touched here): its
    /// timers from its clock readings (`-1` for a phase never reached, as HAProxy 2.6), its server, retries and
    /// queue places from its claim, its captures.
    func logRecord(
        client: (address: SocketAddress?, ip: String?), frontend: ProxyRuntime.Frontend,
        counts: HAProxyLogRecord.Connections, bytesOut: Int64, now: NIODeadline
    ) -> HAProxyLogRecord {
        func ms(_ a: NIODeadline?, _ b: NIODeadline?) -> Int {
            guard let a, let b else { return -1 }
            return max(0, Int((b - a).nanoseconds / 1_000_000))
        }
        let requestTime = headersAt == nil || state.timersUnknown || requestTimeUnknown ? -1 : ms(start, headersAt)
        let statsRule = answeredByStatsRule && !state.answeredByStatsPage
        let queueTime = statsRule ? 0 : state.timersUnknown ? -1 : self.queueTime ?? ms(headersAt, dequeuedAt)
        let connectTime =
            state.answeredByStatsPage || statsRule ? 0 : connectedAt == nil ? -1 : ms(dequeuedAt, connectedAt)
        let responseTime = state.answeredByStatsPage ? 0 : responseAt == nil ? -1 : ms(connectedAt, responseAt)
        let rules = frontend.section.rules
        let unparsed = requestLine == HAProxyLogRecord.badRequest
        let server =
            serverName ?? claim.server.flatMap { backend?.servers[$0].name } ?? HAProxyLogRecord.noServer
        return HAProxyLogRecord(
            mode: .http, clientIP: client.ip ?? "-", clientPort: client.address?.port ?? 0, date: date,
            frontend: frontend.section.name, backend: backendName ?? frontend.section.name,
            server: server, requestTime: requestTime, queueTime: queueTime, connectTime: connectTime,
            responseTime: responseTime, totalTime: ms(start, now), status: statsRule ? 400 : status,
            bytesRead: statsRule ? bytesOut + HTTPErrorPages.statsAppletBadRequestLogged : bytesOut,
            terminationState: withCookies(termination), activeConnections: counts.active,
            frontendConnections: counts.frontend, backendConnections: counts.backend,
            serverConnections: counts.server, retries: claim.retries,
            redispatched: claim.redispatched, serverQueue: claim.serverQueue,
            backendQueue: claim.backendQueue,
            // A request HAProxy could not parse is logged without its capture blocks (it had none to fill).
            requestHeaders: rules.requestCaptures.isEmpty || unparsed
                ? nil : requestCaptures ?? rules.requestCaptures.map { _ in "" },
            responseHeaders: rules.responseCaptures.isEmpty || unparsed
                ? nil : responseCaptures ?? rules.responseCaptures.map { _ in "" },
            requestLine: requestLine)
    }
}
