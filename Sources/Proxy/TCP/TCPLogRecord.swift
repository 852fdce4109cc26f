import HAProxyLog
import LogCore
import NIOCore

extension HAProxyLogRecord {
    /// A TCP session's `option tcplog` line, a function of what the session recorded (no counter is touched
    /// here): `queueTime` and `connectedAfter` in milliseconds since its start (`connectedAfter` -1: it never
    /// reached a server), its backend (the default or a `use_backend` rule's), its server, retries and queue places from its claim.
    static func tcpSession(
        client: SocketAddress?, accepted: CivilTime, frontend: ProxyRuntime.Frontend, backend: ProxyRuntime.Backend?,
        inBackend: Bool = true, claim: BackendClaim,
        queueTime: Int, connectedAfter: Int, totalTime: Int, bytesRead: Int64, termination: TerminationState,
        counts: Connections
    ) -> HAProxyLogRecord {
        return HAProxyLogRecord(
            mode: .tcp, clientIP: client?.ipAddress ?? "-", clientPort: client?.port ?? 0, date: accepted,
            // Before it enters its backend (rejected by the frontend's rules), a session names its frontend.
            frontend: frontend.section.name, backend: inBackend ? backend?.name ?? frontend.section.name : frontend.section.name,
            server: claim.server.flatMap { backend?.servers[$0].name } ?? HAProxyLogRecord.noServer,
            queueTime: queueTime, connectTime: connectedAfter < 0 ? -1 : connectedAfter - queueTime,
            totalTime: totalTime, bytesRead: bytesRead, terminationState: termination,
            activeConnections: counts.active, frontendConnections: counts.frontend,
            backendConnections: counts.backend, serverConnections: counts.server, retries: claim.retries,
            redispatched: claim.redispatched, serverQueue: claim.serverQueue, backendQueue: claim.backendQueue)
    }
}
