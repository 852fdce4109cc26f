import HAProxyLog

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

    init(_ configuration: ProxyConfiguration) throws {
        self.configuration = configuration
        var byName: [String: ProxyRuntime.Backend] = [:]
        var backends: [ProxyRuntime.Backend] = []
        for p in configuration.proxies where p.isBackend {
            let backend = ProxyRuntime.Backend(p)
            byName[p.name] = backend
            backends.append(backend)
        }
        self.backends = backends
        backendsByName = byName
        var frontendSessions: [String: ProxyRuntime.Tally] = [:]
        for p in configuration.proxies where p.isFrontend { frontendSessions[p.name] = ProxyRuntime.Tally() }
        self.frontendSessions = frontendSessions
        audit = AuditTrail(try LogEmitter(targets: configuration.global.logs, global: configuration.global))
    }
}

/// The audit trail: what changed the gate (a start, a stop, a stats login), one line each.
final class AuditTrail: Sendable {
    private let log: LogEmitter
    init(_ log: LogEmitter) { self.log = log }

    func record(_ text: String) {
        log.send(HAProxyEvent.audit(text).message, severity: .notice)
    }
}
