import HAProxyLog
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What changes while the proxy runs, in one place, made from the configuration before anything that reads it:
/// the process's and each frontend's session counters, each backend's servers (balancer, queues, health, their
/// counters), and the audit trail. The listeners' sessions, the stats page, the health checker and the audit
/// read and write it here (as the runtime API will); none of them needs another to exist first.
final class ProxyState: Sendable {
    let configuration: ProxyConfiguration
    /// The process's sessions (`actconn`).
    let sessions = ProxyRuntime.Tally()
    /// The backends, in the configuration's order, and by name.
    let backends: [ProxyRuntime.Backend]
    let backendsByName: [String: ProxyRuntime.Backend]
    /// Each frontend's sessions (`feconn`), by name.
    let frontendSessions: [String: ProxyRuntime.Tally]
    /// The audit trail (`audit: …` lines at notice to the global log targets).
    let audit: AuditTrail
    /// The stick tables (nil without any).
    let stickTables: StickTables?
    /// The process's `maxconn`, and what the runtime API changes on each frontend (by name).
    let processLimit: ProxyRuntime.ConnectionLimit?
    let frontendControls: [String: FrontendControl]
    /// What applying the server-state file said (HAProxy prints it as warnings when it starts).
    let startupNotes: [String]
    /// When the process started (seconds since the epoch), for `show info`.
    let started = Int(time(nil))

    /// The event loops' threads (`nbthread`).
    let threads: Int
    /// The sessions open now, when the runtime API or `on-marked-down shutdown-sessions` may ask (nil otherwise).
    let sessionDirectory: SessionDirectory?

    init(_ configuration: ProxyConfiguration, threads: Int = 1) throws {
        stickTables = StickTables(configuration)
        self.configuration = configuration
        self.threads = threads
        let directory = SessionDirectory.wanted(by: configuration) ? SessionDirectory(configuration) : nil
        sessionDirectory = directory
        var byName: [String: ProxyRuntime.Backend] = [:]
        var backends: [ProxyRuntime.Backend] = []
        for p in configuration.proxies where p.isBackend {
            let backend = try ProxyRuntime.Backend(
                p, directory: directory, serverVerifyRequired: configuration.global.serverVerifyRequired)
            byName[p.name] = backend
            backends.append(backend)
        }
        self.backends = backends
        backendsByName = byName
        // A reload's server-state file: the servers start as the previous process left them.
        var notes: [String] = []
        for backend in backends {
            if let saved = configuration.serverStates[backend.name] {
                notes += backend.restore(saved, now: Int(time(nil)))
            }
        }
        startupNotes = notes
        var frontendSessions: [String: ProxyRuntime.Tally] = [:]
        for p in configuration.proxies where p.isFrontend { frontendSessions[p.name] = ProxyRuntime.Tally() }
        self.frontendSessions = frontendSessions
        // With a runtime API, every frontend and the process keep a limit it can set (0: none until it does).
        let adjustable = !configuration.global.statsSockets.isEmpty
        processLimit = ProxyRuntime.ConnectionLimit(configuration.global.maxconn ?? (adjustable ? 0 : nil))
        var controls: [String: FrontendControl] = [:]
        for p in configuration.proxies where p.isFrontend {
            controls[p.name] = FrontendControl(limit: ProxyRuntime.ConnectionLimit(p.settings.maxconn ?? (adjustable ? 0 : nil)))
        }
        frontendControls = controls
        audit = AuditTrail(try LogEmitter(targets: configuration.global.logs, global: configuration.global))
    }
}

/// What the runtime API changes on a frontend: its `maxconn`, and its listeners (paused by `disable frontend`,
/// closed for good by `shutdown frontend`).
final class FrontendControl: Sendable {
    let limit: ProxyRuntime.ConnectionLimit?
    /// `rate-limit sessions` (set by the runtime once its event loops exist).
    let rate = Mutex<ProxyRuntime.SessionRate?>(nil)
    let listeners = Mutex<[ProxyRuntime.ListenerGate]>([])
    let shutDown = Atomic<Bool>(false)

    init(limit: ProxyRuntime.ConnectionLimit?) { self.limit = limit }
}

/// The audit trail: what changed the gate (a start, a stop, a stats login), one line each.
final class AuditTrail: Sendable {
    private let log: LogEmitter
    private let limits = Mutex(LimitAuditSchedule())
    init(_ log: LogEmitter) { self.log = log }

    func record(_ text: String) {
        log.send(HAProxyEvent.audit(text).message, severity: .notice)
    }

    /// A limit (a rule on a stick-table counter) blocked `client`: a line at its first block, then at most one a
    /// minute with the blocks since (see `LimitAuditSchedule`).
    func limitBlocked(client: String, proxy: String, action: String, limits criteria: [String]) {
        let now = NIODeadline.now().uptimeNanoseconds / 1_000_000_000
        guard let count = limits.withLock({ $0.blocked(client + " " + proxy, now: now) }) else { return }
        record(
            "limit blocked client=\(client) proxy=\(AuditText.quoted(proxy)) action=\(action) "
                + "limit=\(AuditText.quoted(criteria.joined(separator: " "))) blocked=\(count)")
    }
}
