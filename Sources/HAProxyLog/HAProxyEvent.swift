import LogCore

/// A server-state, health-check or lifecycle message, as HAProxy 2.6 words it.
public enum HAProxyEvent: Hashable, Sendable {
    /// `[Backup ]Server be/srv is DOWN[, reason: …]. A active and B backup servers left.[ Running on backup.]
    /// C sessions active, R requeued, Q remaining in queue.` (alert)
    case serverDown(ServerStateChange)
    /// `[Backup ]Server be/srv is UP[, reason: …]. A active and B backup servers online.[ Running on backup.]
    /// R sessions requeued, Q total in queue.` (notice)
    case serverUp(ServerStateChange)
    /// `[Backup ]Server be/srv is stopping[, reason: …]. A active and B backup servers online.[ Running on backup.]
    /// R sessions requeued, Q total in queue.` (notice; `http-check disable-on-404` found a 404: NOLB)
    case serverStopping(ServerStateChange)
    /// `[Backup ]Server be/srv is going DOWN for maintenance[, reason: …]. …` with the DOWN tail (alert)
    case serverGoingDownForMaintenance(ServerStateChange)
    /// `[Backup ]Server be/srv was DOWN and now enters maintenance.` (notice)
    case serverEntersMaintenance(backend: String, server: String, backup: Bool)
    /// `[Backup ]Server be/srv is UP/READY (leaving forced maintenance).`, or another `STATE/READY` pair (notice)
    case serverLeavesMaintenance(backend: String, server: String, backup: Bool, state: String)
    /// `[Backup ]Server be/srv enters drain state. A active and B backup servers online.[ Running on backup.]
    /// R sessions requeued, Q total in queue.` (notice)
    case serverEntersDrain(ServerStateChange)
    /// `[Backup ]Server be/srv is UP (leaving forced drain).` (notice)
    case serverLeavesDrain(backend: String, server: String, backup: Bool, state: String)
    /// `[Backup ]Server be/srv remains in forced drain mode.` (notice)
    case serverRemainsInDrain(backend: String, server: String, backup: Bool)
    /// `backend X has no server available!` (`proxy` for a listen section, `frontend` too) (emerg)
    case noServerAvailable(kind: ProxyKind, name: String)
    /// `Health check for [backup ]server be/srv [conditionally ]succeeded|failed, reason: …, status: x/y UP.`
    /// (notice)
    case healthCheck(HealthCheckReport)
    /// `Proxy X started.` (notice; HAProxy dropped it in 2.3, Tollgate keeps it for audits)
    case proxyStarted(name: String)
    /// `Proxy X stopped (cumulated conns: FE: n, BE: m).` (warning)
    case proxyStopped(name: String, frontendConnections: Int, backendConnections: Int)
    /// Tollgate's audit trail of what changes the gate (`audit: start pid=… config=sha256:…`, `audit: stop …`):
    /// the text after `audit: `, sent at notice level with the proxy's usual tag.
    case audit(String)

    /// The stable prefix of audit messages.
    public static let auditPrefix = "audit: "

    public enum ProxyKind: String, Hashable, Sendable {
        case frontend, backend, proxy
    }

    /// The syslog level HAProxy sends this message at (0 emerg … 7 debug).
    public var level: Int {
        switch self {
        case .serverDown, .serverGoingDownForMaintenance: 1
        case .noServerAvailable: 0
        case .proxyStopped: 4
        case .serverUp, .serverStopping, .serverEntersMaintenance, .serverLeavesMaintenance, .serverEntersDrain, .serverLeavesDrain,
            .serverRemainsInDrain, .healthCheck, .proxyStarted, .audit:
            5
        }
    }

    /// The backend and server the message is about, if it is about one.
    public var backendAndServer: (backend: String, server: String)? {
        switch self {
        case .serverDown(let c), .serverUp(let c), .serverGoingDownForMaintenance(let c), .serverEntersDrain(let c),
            .serverStopping(let c):
            (c.backend, c.server)
        case .serverEntersMaintenance(let b, let s, _), .serverLeavesMaintenance(let b, let s, _, _),
            .serverLeavesDrain(let b, let s, _, _), .serverRemainsInDrain(let b, let s, _):
            (b, s)
        case .healthCheck(let h): (h.backend, h.server)
        case .noServerAvailable, .proxyStarted, .proxyStopped, .audit: nil
        }
    }
}

/// What a health check found, as the `reason:` part of a message gives it.
public struct CheckReason: Hashable, Sendable {
    /// `Layer4 connection problem`, `Layer7 check passed`, …
    public var description: String
    /// The L7 status code (`, code: 200`), only for layer 5-7 results.
    public var code: Int?
    /// Extra text (`, info: "Connection refused"`).
    public var info: String?
    /// `, check duration: 1ms`.
    public var durationMilliseconds: Int?

    public init(description: String, code: Int? = nil, info: String? = nil, durationMilliseconds: Int? = nil) {
        self.description = description
        self.code = code
        self.info = info
        self.durationMilliseconds = durationMilliseconds
    }
}

/// A server going DOWN or UP (or into maintenance), with the counts HAProxy reports.
public struct ServerStateChange: Hashable, Sendable {
    public var backend: String
    public var server: String
    public var backup: Bool
    public var reason: CheckReason?
    /// Active and backup servers left (DOWN) or online (UP).
    public var activeServers: Int
    public var backupServers: Int
    public var runningOnBackup: Bool
    /// Sessions still active on the server (DOWN only).
    public var sessionsActive: Int
    public var requeued: Int
    /// Remaining in queue (DOWN) or total in queue (UP).
    public var queued: Int

    public init(
        backend: String, server: String, backup: Bool = false, reason: CheckReason? = nil, activeServers: Int,
        backupServers: Int, runningOnBackup: Bool = false, sessionsActive: Int = 0, requeued: Int = 0, queued: Int = 0
    ) {
        self.backend = backend
        self.server = server
        self.backup = backup
        self.reason = reason
        self.activeServers = activeServers
        self.backupServers = backupServers
        self.runningOnBackup = runningOnBackup
        self.sessionsActive = sessionsActive
        self.requeued = requeued
        self.queued = queued
    }
}

/// One health check's result, logged under `option log-health-checks`.
public struct HealthCheckReport: Hashable, Sendable {
    public var backend: String
    public var server: String
    public var backup: Bool
    public var succeeded: Bool
    /// `conditionally succeeded` (e.g. a 404 under `http-check disable-on-404`).
    public var conditionally: Bool
    /// The reason; its duration is always printed for health checks (0 when nil).
    public var reason: CheckReason
    /// `status: x/y`: the health counter relative to rise or fall, and the threshold.
    public var health: Int
    public var threshold: Int
    /// `UP`, `DOWN` or `DRAIN`.
    public var state: String

    public init(
        backend: String, server: String, backup: Bool = false, succeeded: Bool, conditionally: Bool = false,
        reason: CheckReason, health: Int, threshold: Int, state: String
    ) {
        self.backend = backend
        self.server = server
        self.backup = backup
        self.succeeded = succeeded
        self.conditionally = conditionally
        self.reason = reason
        self.health = health
        self.threshold = threshold
        self.state = state
    }
}

extension HAProxyEvent {
    /// The message text, ending in `.` or `!` like HAProxy's (no newline).
    public var message: String {
        var s = ""
        switch self {
        case .serverDown(let c):
            s = serverPrefix(c.backup, c.backend, c.server) + " is DOWN" + reasonText(c.reason)
            s += downTail(c)
        case .serverGoingDownForMaintenance(let c):
            s = serverPrefix(c.backup, c.backend, c.server) + " is going DOWN for maintenance" + reasonText(c.reason)
            s += downTail(c)
        case .serverUp(let c):
            s = serverPrefix(c.backup, c.backend, c.server) + " is UP" + reasonText(c.reason) + upTail(c)
        case .serverStopping(let c):
            s = serverPrefix(c.backup, c.backend, c.server) + " is stopping" + reasonText(c.reason) + upTail(c)
        case .serverEntersDrain(let c):
            s = serverPrefix(c.backup, c.backend, c.server) + " enters drain state" + reasonText(c.reason) + upTail(c)
        case .serverLeavesDrain(let b, let srv, let backup, let state):
            s = serverPrefix(backup, b, srv) + " is \(state) (leaving forced drain)."
        case .serverRemainsInDrain(let b, let srv, let backup):
            s = serverPrefix(backup, b, srv) + " remains in forced drain mode."
        case .serverEntersMaintenance(let b, let srv, let backup):
            s = serverPrefix(backup, b, srv) + " was DOWN and now enters maintenance."
        case .serverLeavesMaintenance(let b, let srv, let backup, let state):
            s = serverPrefix(backup, b, srv) + " is \(state) (leaving forced maintenance)."
        case .noServerAvailable(let kind, let name):
            s = "\(kind.rawValue) \(name) has no server available!"
        case .healthCheck(let h):
            s = "Health check for \(h.backup ? "backup " : "")server \(h.backend)/\(h.server) "
            s += h.conditionally ? "conditionally " : ""
            s += h.succeeded ? "succeeded" : "failed"
            var reason = h.reason
            if reason.durationMilliseconds == nil { reason.durationMilliseconds = 0 }
            s += reasonText(reason)
            s += ", status: \(h.health)/\(h.threshold) \(h.state)."
        case .proxyStarted(let name):
            s = "Proxy \(name) started."
        case .proxyStopped(let name, let fe, let be):
            s = "Proxy \(name) stopped (cumulated conns: FE: \(fe), BE: \(be))."
        case .audit(let text):
            s = HAProxyEvent.auditPrefix + text
        }
        return s
    }

    private func serverPrefix(_ backup: Bool, _ backend: String, _ server: String) -> String {
        (backup ? "Backup Server " : "Server ") + backend + "/" + server
    }

    private func reasonText(_ reason: CheckReason?) -> String {
        guard let reason else { return "" }
        var s = ", reason: " + reason.description
        if let code = reason.code { s += ", code: \(code)" }
        if let info = reason.info { s += ", info: \"" + HAProxyEvent.escapeInfo(info) + "\"" }
        if let d = reason.durationMilliseconds { s += ", check duration: \(d)ms" }
        return s
    }

    private func upTail(_ c: ServerStateChange) -> String {
        var s = ". \(c.activeServers) active and \(c.backupServers) backup servers online."
        if c.runningOnBackup { s += " Running on backup." }
        return s + " \(c.requeued) sessions requeued, \(c.queued) total in queue."
    }

    private func downTail(_ c: ServerStateChange) -> String {
        var s = ". \(c.activeServers) active and \(c.backupServers) backup servers left."
        if c.runningOnBackup { s += " Running on backup." }
        s += " \(c.sessionsActive) sessions active, \(c.requeued) requeued, \(c.queued) remaining in queue."
        return s
    }

    /// `info` text: printable ASCII kept, `"` and `\` backslash-escaped, other bytes as `\xHH`.
    static func escapeInfo(_ info: String) -> String {
        var out: [UInt8] = []
        for b in info.utf8 {
            if b == 0x22 || b == 0x5C {
                out.append(0x5C)
                out.append(b)
            } else if ASCII.isPrint(b) {
                out.append(b)
            } else {
                out.append(contentsOf: [0x5C, 0x78, ASCII.hexDigit(b >> 4), ASCII.hexDigit(b & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
