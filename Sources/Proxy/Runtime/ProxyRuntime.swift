import HAProxyLog
import LogCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SyslogProtocol
import SystemdSupport

/// The running proxy: each `frontend`/`listen` bind accepts connections. In `mode tcp` its backend's balancer
/// picks a server, the proxy connects (retrying on failure, `option redispatch` moving the last retry to another
/// server), relays both ways with back-pressure and half-close, and when both sides have closed logs one
/// `option tcplog` line through the proxy's `log` targets (HAProxyLog formats it). In `mode http` each request
/// is balanced, relayed and logged on its own (`HTTPSession`), and a frontend with `stats` serves the stats page.
public final class ProxyRuntime: Sendable {
    let configuration: ProxyConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let channels = NIOLockedValueBox<[any Channel]>([])
    /// The process's sessions (`actconn`).
    private let sessions = Tally()
    let frontends: [Frontend]
    private let checkers: [HealthChecker]
    /// The global log targets, for the audit trail.
    private let auditLog: LogEmitter

    /// A backend as the sessions share it: its servers' addresses, its balancer and its queues, behind one lock.
    final class Backend: Sendable {
        /// Called (on any thread) when a queued session leaves its queue for a server (nil: choose again, its
        /// server went down), with its positions in the server's and the backend's queue.
        typealias Resume = @Sendable (_ server: Int?, _ serverPosition: Int, _ backendPosition: Int) -> Void
        typealias Ticket = PendingQueues<Resume>.Ticket
        typealias Departure = PendingQueues<Resume>.Departure

        struct Shared: Sendable {
            var balancer: Balancer
            var queues: PendingQueues<Resume>
        }

        enum Assignment {
            /// A slot on this server is the session's.
            case server(Int)
            case queued(Ticket)
            case unavailable
        }

        let name: String
        let servers: [ServerLine]
        let addresses: [SocketAddress?]
        let shared: NIOLockedValueBox<Shared>
        let retries: Int
        let redispatch: Bool
        let connectTimeout: TimeAmount
        let serverTimeout: TimeAmount?
        /// `timeout queue`, else `timeout connect` (as HAProxy).
        let queueTimeout: TimeAmount
        let tcpKeepAlive: Bool
        /// `beconn` (queued sessions included), and each server's `srv_conn`.
        let sessions = Tally()
        let serverSessions: [Tally]
        /// HTTP mode: idle server connections, and `option forwardfor`.
        let pool = HTTPServerPool()
        let forwardFor: Bool
        /// Each server's health as the stats page shows it (kept by the health checks).
        let health: NIOLockedValueBox<[ServerHealth]>
        let section: ProxySection

        init(_ section: ProxySection) {
            self.section = section
            name = section.name
            forwardFor = section.settings.option("forwardfor")
            let now = time(nil)
            health = NIOLockedValueBox(section.servers.map { ServerHealth($0, now: now) })
            serverSessions = section.servers.map { _ in Tally() }
            servers = section.servers
            addresses = section.servers.map { s in
                s.port.flatMap { try? SocketAddress.makeAddressResolvingHost(s.host, port: $0) }
            }
            shared = NIOLockedValueBox(
                Shared(balancer: Balancer(section), queues: PendingQueues(servers: section.servers.count)))
            retries = section.settings.retries
            redispatch = section.settings.option("redispatch")
            connectTimeout = ProxyRuntime.amount(section.settings.timeouts.connect) ?? .seconds(5)
            // `timeout tunnel` replaces the client and server timeouts of an established TCP session.
            serverTimeout = ProxyRuntime.amount(section.settings.timeouts.tunnel ?? section.settings.timeouts.server)
            queueTimeout =
                ProxyRuntime.amount(section.settings.timeouts.queue ?? section.settings.timeouts.connect)
                ?? .seconds(5)
            tcpKeepAlive = section.settings.option("tcpka") || section.settings.option("srvtcpka")
        }

        /// A slot on a server for a new session, or a place in a queue when every server is at its maxconn.
        /// `resume` makes what the queue calls when a slot comes; it is called only for a queued session (no closure
        /// is made for the common case).
        func assign(client: SocketAddress?, excluding: Int?, resume: () -> Resume) -> Assignment {
            shared.withLockedValue { s in
                // Only `balance source` needs the client's address.
                let address = s.balancer.algorithm == .source ? Session.addressBytes(client) : []
                switch s.balancer.choose(client: address, excluding: excluding) {
                case .server(let i):
                    s.balancer.opened(i)
                    return .server(i)
                case .queue(let server):
                    return .queued(s.queues.enqueue(resume(), server: server))
                case .unavailable:
                    return .unavailable
                }
            }
        }

        /// A session gives up its slot on server `i`: the oldest session waiting for it takes the slot.
        func release(_ i: Int) {
            let next = shared.withLockedValue { s -> Departure? in
                s.balancer.closed(i)
                return Backend.handOut(i, &s)
            }
            if let next { next.element(i, next.serverPosition, next.backendPosition) }
        }

        /// A queued session leaves its queue without a slot (timeout, abort); nil when a slot reached it first.
        func withdraw(_ ticket: Ticket) -> Departure? {
            shared.withLockedValue { $0.queues.remove(ticket) }
        }

        /// The next waiting session for server `i`, which takes a slot there, if the server can serve it now.
        private static func handOut(_ i: Int, _ s: inout Shared) -> Departure? {
            guard s.queues.count(server: i) > 0 || s.queues.backendCount > 0 else { return nil }
            let server = s.balancer.servers[i]
            guard server.available, server.hasSlot,
                let next = s.queues.next(for: i, backendToo: s.balancer.servesBackend(i))
            else { return nil }
            s.balancer.opened(i)
            return next
        }

        /// A health check's verdict on server `i`: a server going down sends the sessions queued for it to
        /// choose again ("requeued"); a server coming up takes sessions from the backend's queue while it has slots.
        /// Returns the figures of HAProxy's DOWN/UP lines.
        func setUp(_ i: Int, _ up: Bool) -> (
            active: Int, backup: Int, sessions: Int, requeued: Int, queued: Int
        ) {
            var moved: [(Departure, Int?)] = []
            let counts = shared.withLockedValue { s in
                s.balancer.setUp(i, up)
                if up {
                    while let next = Backend.handOut(i, &s) { moved.append((next, i)) }
                } else {
                    moved = s.queues.takeAll(server: i).map { ($0, nil) }
                }
                let upCounts = s.balancer.upCounts
                return (
                    upCounts.active, upCounts.backup, s.balancer.servers[i].connections, moved.count,
                    s.queues.count(server: i)
                )
            }
            for (departure, server) in moved {
                departure.element(server, departure.serverPosition, departure.backendPosition)
            }
            return counts
        }
    }

    /// HAProxy's `maxconn` on a frontend or on the process: at the limit the listeners stop accepting (new
    /// connections wait in the kernel's backlog, as with HAProxy) and a connection accepted meanwhile waits here
    /// for a free slot before its session starts.
    final class ConnectionLimit: Sendable {
        let limit: Int
        private struct State {
            var open = 0
            var waiting = CircularBuffer<@Sendable () -> Void>()
            var listeners: [any Channel] = []
        }
        private let state = NIOLockedValueBox(State())

        init?(_ limit: Int?) {
            guard let limit, limit > 0 else { return nil }
            self.limit = limit
        }

        func add(listener: any Channel) { state.withLockedValue { $0.listeners.append(listener) } }

        private var full: Bool { state.withLockedValue { $0.open >= limit } }

        /// Takes a slot if one is free and nobody waits for it.
        func tryTake() -> Bool {
            let (taken, nowFull) = state.withLockedValue { s -> (Bool, Bool) in
                guard s.open < limit, s.waiting.isEmpty else { return (false, false) }
                s.open += 1
                return (true, s.open == limit)
            }
            if nowFull { syncListeners() }
            return taken
        }

        /// Takes a slot of each of `limits` if all have one free now (the common case, without pausing the
        /// connection's reads); otherwise takes none.
        static func tryTake(_ limits: [ConnectionLimit]) -> Bool {
            for (i, limit) in limits.enumerated() where !limit.tryTake() {
                for taken in limits[..<i].reversed() { taken.release() }
                return false
            }
            return true
        }

        /// Runs `start` now if a slot is free, else once one is.
        func admit(_ start: @escaping @Sendable () -> Void) {
            let (admitted, nowFull) = state.withLockedValue { s -> (Bool, Bool) in
                guard s.open < limit else {
                    s.waiting.append(start)
                    return (false, true)
                }
                s.open += 1
                return (true, s.open == limit)
            }
            if nowFull { syncListeners() }
            if admitted { start() }
        }

        /// A session ends: its slot goes to the connection waiting longest, or back to the listeners.
        func release() {
            let (next, wasFull) = state.withLockedValue { s -> ((@Sendable () -> Void)?, Bool) in
                if let next = s.waiting.popFirst() { return (next, false) }
                s.open -= 1
                return (nil, s.open == limit - 1)
            }
            if let next { next() } else if wasFull { syncListeners() }
        }

        /// Each listener accepts only while there is a slot. The value is read on the listener's loop, so the last
        /// of several racing updates sees the final count.
        private func syncListeners() {
            for listener in state.withLockedValue({ $0.listeners }) {
                listener.eventLoop.execute { [self] in
                    listener.setOption(.autoRead, value: !full).whenFailure { _ in }
                }
            }
        }

        /// Runs `start` once every limit of `limits` has admitted it.
        static func admit(_ limits: ArraySlice<ConnectionLimit>, _ start: @escaping @Sendable () -> Void) {
            guard let first = limits.first else { return start() }
            first.admit { admit(limits.dropFirst(), start) }
        }
    }

    /// A class: every request refers to it, and a struct of this size would be copied (and its references
    /// retained) each time.
    final class Frontend: Sendable {
        let section: ProxySection
        let backend: Backend?
        let log: LogEmitter
        let clientTimeout: TimeAmount?
        let tcpKeepAlive: Bool
        /// The frontend's `maxconn`, then the process's: a session starts once both admit it.
        let limits: [ConnectionLimit]
        /// `feconn`.
        let sessions = Tally()
        /// HTTP mode: the stats page if enabled here, `option forwardfor`, and the request head's size limits
        /// (HAProxy's `tune.bufsize`, 16 kB).
        let stats: StatsPage?
        let forwardFor: Bool
        let headLimit: Int
        /// HTTP mode: `use_backend` rules in order (the first that holds chooses), before `backend`.
        let routes: [(condition: RuleCondition?, backend: Backend)]

        /// What decides whether and how a traffic line is logged, read from the options once (not per line).
        struct LogRules: Sendable {
            let dontlogNormal: Bool
            let dontlogNull: Bool
            let separateErrors: Bool
            let clf: Bool
            init(_ settings: ProxySettings) {
                dontlogNormal = settings.option("dontlog-normal")
                dontlogNull = settings.option("dontlognull")
                separateErrors = settings.option("log-separate-errors")
                clf = settings.httplogCLF
            }
        }
        let logRules: LogRules

        init(
            section: ProxySection, backend: Backend?, log: LogEmitter, clientTimeout: TimeAmount?, tcpKeepAlive: Bool,
            limits: [ConnectionLimit], stats: StatsPage?, forwardFor: Bool, headLimit: Int,
            routes: [(condition: RuleCondition?, backend: Backend)], logRules: LogRules
        ) {
            self.section = section
            self.backend = backend
            self.log = log
            self.clientTimeout = clientTimeout
            self.tcpKeepAlive = tcpKeepAlive
            self.limits = limits
            self.stats = stats
            self.forwardFor = forwardFor
            self.headLimit = headLimit
            self.routes = routes
            self.logRules = logRules
        }

        /// Logs one traffic line as HAProxy's `strm_log` decides: an error is a redispatch, a retry, a termination
        /// cause other than `-`/`L` or a 5xx; `dontlog-normal` keeps only errors, `log-separate-errors` sends them
        /// at err. `dontlognull` drops a session that carried nothing unless it is an error (TCP, `empty`), and an
        /// HTTP connection that never sent a byte even as the error it ends in (`probe`: HAProxy's HTTP layer
        /// drops it before its log).
        func logTraffic(_ record: HAProxyLogRecord, empty: Bool = false, probe: Bool = false) {
            let isError = record.isError
            if logRules.dontlogNormal && !isError { return }
            if logRules.dontlogNull && (probe || (empty && !isError)) { return }
            let format: HAProxyLogFormat =
                record.mode == .http && logRules.clf ? .clf : HAProxyLogFormat.default(for: record)
            log.send(severity: logRules.separateErrors && isError ? .error : .informational) {
                format.format(record, into: &$0)
            }
        }
    }

    public init(configuration: ProxyConfiguration, threads: Int? = nil) throws {
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup(
            numberOfThreads: threads ?? configuration.global.nbthread ?? System.coreCount)
        var backends: [String: Backend] = [:]
        for p in configuration.proxies where p.isBackend { backends[p.name] = Backend(p) }
        var frontends: [Frontend] = []
        var statsPages: [StatsPage] = []
        // The stats pages audit logins through the runtime, built after them.
        let auditBox = AuditBox()
        let processLimit = ConnectionLimit(configuration.global.maxconn)
        for p in configuration.proxies where p.isFrontend {
            let backendName = p.kind == .listen ? p.name : p.defaultBackend
            let targets = (p.settings.logGlobal ? configuration.global.logs : []) + p.settings.logs
            let stats =
                p.stats.enabled
                ? StatsPage(
                    proxy: p.name, settings: p.stats, global: configuration.global, version: Proxy.version,
                    audit: { [weak auditBox] text in auditBox?.value?(text) })
                : nil
            if let stats { statsPages.append(stats) }
            frontends.append(
                Frontend(
                    section: p, backend: backendName.flatMap { backends[$0] },
                    log: try LogEmitter(targets: targets, global: configuration.global),
                    clientTimeout: ProxyRuntime.amount(p.settings.timeouts.tunnel ?? p.settings.timeouts.client),
                    tcpKeepAlive: p.settings.option("tcpka") || p.settings.option("clitcpka"),
                    limits: [ConnectionLimit(p.settings.maxconn), processLimit].compactMap { $0 }, stats: stats,
                    forwardFor: p.settings.option("forwardfor"), headLimit: ProxyRuntime.bufferSize,
                    routes: p.rules.backendRules.compactMap { rule in
                        backends[rule.backend].map { (rule.condition, $0) }
                    },
                    logRules: Frontend.LogRules(p.settings)))
        }
        self.frontends = frontends
        var checkers: [HealthChecker] = []
        for p in configuration.proxies where p.isBackend && p.servers.contains(where: \.check) {
            guard let backend = backends[p.name] else { continue }
            let targets = (p.settings.logGlobal ? configuration.global.logs : []) + p.settings.logs
            checkers.append(
                HealthChecker(
                    backend: backend, section: p, log: try LogEmitter(targets: targets, global: configuration.global),
                    group: group))
        }
        self.checkers = checkers
        self.backends = configuration.proxies.compactMap { backends[$0.name] }
        auditLog = try LogEmitter(targets: configuration.global.logs, global: configuration.global)
        let log = auditLog
        auditBox.value = { text in log.send(HAProxyEvent.audit(text).message, severity: .notice) }
        self.auditBox = auditBox
        for page in statsPages {
            page.setSource { [weak self] in self?.statsSnapshot() ?? [] }
        }
    }

    /// HAProxy's `tune.bufsize`: the most a request's line and headers may take.
    static let bufferSize = 16_384

    /// Holds the audit action for objects made before the runtime.
    final class AuditBox: @unchecked Sendable {
        // Set once in `init`, before any listener runs; read only afterwards.
        var value: (@Sendable (String) -> Void)?
    }
    private let auditBox: AuditBox
    let backends: [Backend]

    /// One line of the audit trail (`audit: …`, notice, to the global log targets): what changed the gate.
    public func audit(_ text: String) {
        auditBox.value?(text)
    }

    static func amount(_ t: ConfigTime?) -> TimeAmount? { t.map { .microseconds($0.microseconds) } }

    /// Binds every frontend; returns the bound addresses and logs each proxy's start, as HAProxy does.
    public func start() async throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for frontend in frontends {
            for bind in frontend.section.binds {
                let sessions = self.sessions
                let channel = try await ServerBootstrap(group: group)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    // A new process (`-sf`) binds the same ports while this one still listens.
                    .serverChannelOption(
                        .socket(SocketOptionLevel(SOL_SOCKET), SocketOptionName(SO_REUSEPORT)), value: 1
                    )
                    .serverChannelOption(.backlog, value: 1024)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                    // SO_KEEPALIVE only when asked (off is the socket's default: no system call per session).
                    .childChannelOption(.socketOption(.so_keepalive), value: 1, when: frontend.tcpKeepAlive)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            // The session starts once the accepted channel is active and maxconn admits it.
                            let session: any ClientSession =
                                frontend.section.settings.mode == .http
                                ? HTTPSession(frontend: frontend, process: sessions, client: channel)
                                : Session(frontend: frontend, sessions: sessions, client: channel)
                            try channel.pipeline.syncOperations.addHandler(SessionStarter(session))
                        }
                    }
                    .bind(host: bind.host ?? "0.0.0.0", port: bind.port).get()
                channels.withLockedValue { $0.append(channel) }
                for limit in frontend.limits { limit.add(listener: channel) }
                if let address = channel.localAddress { bound.append(address) }
            }
            frontend.log.send("Proxy \(frontend.section.name) started.", severity: .notice)
        }
        for checker in checkers { checker.start() }
        return bound
    }

    private let notifications = NIOLockedValueBox<[RepeatedTask]>([])

    /// Under a service manager (`Type=notify`): `STATUS=` with the session counts every `statusEvery`, and
    /// `WATCHDOG=1` at half `WatchdogSec=` from an event loop of the proxy (a stuck loop stops the pings).
    public func notifyServiceManager(statusEvery: TimeAmount = .seconds(10)) {
        guard ServiceNotifier.isSupervised else { return }
        let sessions = self.sessions
        let loop = group.next()
        var tasks = [
            loop.scheduleRepeatedTask(initialDelay: statusEvery, delay: statusEvery) { _ in
                ServiceNotifier.status("\(sessions.open) sessions open")
            }
        ]
        if let usec = ServiceNotifier.watchdogInterval {
            let half = TimeAmount.microseconds(Int64(max(usec / 2, 1)))
            tasks.append(
                loop.scheduleRepeatedTask(initialDelay: .zero, delay: half) { _ in ServiceNotifier.watchdog() })
        }
        notifications.withLockedValue { $0 = tasks }
    }

    /// Stops accepting (once): the listeners close and each proxy logs HAProxy's "stopped" line.
    private func closeListeners() async {
        let open = channels.withLockedValue { list -> [any Channel] in
            defer { list = [] }
            return list
        }
        guard !open.isEmpty else { return }
        for channel in open { try? await channel.close() }
        for frontend in frontends {
            frontend.log.send(
                "Proxy \(frontend.section.name) stopped (cumulated conns: FE: \(frontend.sessions.total), BE: \(frontend.backend?.sessions.total ?? 0)).",
                severity: .warning)
        }
    }

    /// HAProxy's soft stop (SIGUSR1, or a new process's `-sf`): stop accepting, let the open sessions finish.
    /// Returns when none is left.
    public func softStop() async {
        await closeListeners()
        while sessions.open > 0 { try? await Task.sleep(for: .milliseconds(50)) }
    }

    /// The sessions open now.
    public var openSessions: Int { sessions.open }

    /// Stops accepting, closes what is open (sessions included) and ends the event loops.
    public func stop() async throws {
        for task in notifications.withLockedValue({ $0 }) { task.cancel() }
        for checker in checkers { checker.stop() }
        await closeListeners()
        try await group.shutdownGracefully()
    }
}

/// One client connection through the proxy, on its channel's event loop.
final class Session: ClientSession {
    private let frontend: ProxyRuntime.Frontend
    /// The process's sessions (`actconn`).
    private let sessions: ProxyRuntime.Tally
    private let client: any Channel
    /// The accept date and clock, reset when maxconn held the connection back (HAProxy accepts it only then).
    private var acceptedAt = CivilTime.now()
    private var started = NIODeadline.now()
    /// When the session left the queues (`Tw`), 0 if it never waited; when it reached its server (`Tw + Tc`).
    private var dequeuedAfter = 0
    private var connectedAfter = -1
    private var attempts = 0
    /// The server shown in the log, and the one whose slot this session holds.
    private var server: Int?
    private var slot: Int?
    private var redispatched = false
    private var termination = TerminationState.normal
    /// While queued: the ticket and the `timeout queue` timer.
    private var ticket: ProxyRuntime.Backend.Ticket?
    private var queueTimer: Scheduled<Void>?
    private var serverQueuePosition = 0
    private var backendQueuePosition = 0
    /// Counted in `beconn` (from the moment it has a server or a queue place).
    private var inBackend = false
    /// Holds a slot of each of the frontend's maxconn limits.
    private var admitted = false
    private let front: RelayHandler
    /// The server side of the relay (a new one for each connection attempt).
    fileprivate var back = RelayHandler()
    private var openSides = 1
    private var logged = false

    init(frontend: ProxyRuntime.Frontend, sessions: ProxyRuntime.Tally, client: any Channel) {
        self.frontend = frontend
        self.sessions = sessions
        self.client = client
        front = RelayHandler(idleTimeout: frontend.clientTimeout)
    }

    var limits: [ProxyRuntime.ConnectionLimit] { frontend.limits }

    /// The frontend's maxconn limits have admitted the connection (held back until now, its reads paused).
    func admit(paused: Bool) {
        admitted = true
        guard client.isActive else { return releaseLimits() }
        if paused {
            acceptedAt = CivilTime.now()
            started = NIODeadline.now()
        }
        begin()
        if paused { try? client.syncOptions?.setOption(.autoRead, value: true) }
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
        try? client.pipeline.syncOperations.addHandler(front)
        front.onClose = { [self] error in sideClosed(client: true, error: error) }
        connect()
    }

    private func clientTimedOut() {
        if termination == .normal { termination = TerminationState(cause: 0x63, phase: 0x44) }  // cD
        client.close(promise: nil)
    }

    fileprivate func serverTimedOut() {
        if termination == .normal { termination = TerminationState(cause: 0x73, phase: 0x44) }  // sD
        back.timedOut()
    }

    /// Chooses a server (or waits in a queue for one) and connects.
    private func connect() {
        guard let backend = frontend.backend else { return fail(noServer: true) }
        if !inBackend {
            inBackend = true
            backend.sessions.opened()
        }
        // With `option redispatch` a retry goes to another server: HAProxy 2.6 does so from the first retry after a
        // refused connection (seen: `+1` in the log whatever `retries` is), not only on the last one.
        let redispatch = backend.redispatch && attempts == 1
        if let held = slot, !redispatch { return attempt(held, backend) }
        let previous = slot
        if let previous {
            slot = nil
            backend.release(previous)
        }
        let loop = client.eventLoop
        let assignment = backend.assign(client: client.remoteAddress, excluding: redispatch ? previous : nil) {
            let bound = NIOLoopBound(self, eventLoop: loop)
            return { server, serverPosition, backendPosition in
                if loop.inEventLoop {
                    bound.value.dequeued(server, serverPosition, backendPosition)
                } else {
                    loop.execute { bound.value.dequeued(server, serverPosition, backendPosition) }
                }
            }
        }
        switch assignment {
        case .server(let index):
            if redispatch && index != previous { redispatched = true }
            server = index
            slot = index
            attempt(index, backend)
        case .queued(let ticket):
            self.ticket = ticket
            if let chosen = ticket.server { server = chosen }
            queueTimer = loop.assumeIsolated().scheduleTask(in: backend.queueTimeout) { [self] in queueTimedOut() }
        case .unavailable:
            fail(noServer: true)
        }
    }

    /// A slot came free for this queued session (or, `server` nil, its server went down: choose again).
    private func dequeued(_ granted: Int?, _ serverPosition: Int, _ backendPosition: Int) {
        serverQueuePosition += serverPosition
        backendQueuePosition += backendPosition
        ticket = nil
        queueTimer?.cancel()
        queueTimer = nil
        guard !logged, let backend = frontend.backend else {
            if let granted { frontend.backend?.release(granted) }
            return
        }
        dequeuedAfter = elapsedMilliseconds()
        guard let granted else {
            server = nil
            return connect()
        }
        server = granted
        slot = granted
        attempt(granted, backend)
    }

    /// `timeout queue` expired: 503 / `sQ`, unless a slot reached the session first.
    private func queueTimedOut() {
        queueTimer = nil
        guard let ticket, let departure = frontend.backend?.withdraw(ticket) else { return }
        leftQueue(departure, termination: TerminationState(cause: 0x73, phase: 0x51))  // sQ
        front.onClose = nil
        // Logged before the client sees the close (as HAProxy): nothing the client does next can log first.
        finish()
        client.close(promise: nil)
    }

    private func leftQueue(_ departure: ProxyRuntime.Backend.Departure, termination: TerminationState) {
        ticket = nil
        queueTimer?.cancel()
        queueTimer = nil
        serverQueuePosition += departure.serverPosition
        backendQueuePosition += departure.backendPosition
        dequeuedAfter = elapsedMilliseconds()
        self.termination = termination
    }

    /// One connection attempt to server `index`, whose slot this session holds.
    private func attempt(_ index: Int, _ backend: ProxyRuntime.Backend) {
        guard let address = backend.addresses[index] else { return fail(noServer: false) }
        attempts += 1
        let loop = client.eventLoop
        let relay = RelayHandler(idleTimeout: backend.serverTimeout)
        back = relay
        // The server's channel is made on the client's loop: both sides of the relay share it. Each attempt has
        // its own relay handler.
        let bound = NIOLoopBound((self, relay), eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(backend.connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1, when: backend.tcpKeepAlive)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (session, relay) = bound.value
                    relay.onTimeout = { [session] in session.serverTimedOut() }
                    try channel.pipeline.syncOperations.addHandler(relay)
                }
            }
        bootstrap.connect(to: address).whenComplete { result in
            let (session, relay) = bound.value
            switch result {
            case .success(let channel): session.connected(channel, relay)
            case .failure: session.connectFailed()
            }
        }
    }

    private func connected(_ channel: any Channel, _ relay: RelayHandler) {
        back = relay
        connectedAfter = elapsedMilliseconds()
        openSides = 2
        serverSessions?.opened(balanced: true)
        back.onClose = { [self] error in sideClosed(client: false, error: error) }
        back.attach(front)
        front.attach(back)
        if !client.isActive {
            // The client left while we connected.
            channel.close(promise: nil)
        }
    }

    private func connectFailed() {
        guard let backend = frontend.backend else { return fail(noServer: true) }
        if attempts <= backend.retries && client.isActive {
            connect()
        } else {
            fail(noServer: false)
        }
    }

    /// No server could be reached: `SC` (or `<NOSRV>` when none was usable), the client closed.
    private func fail(noServer: Bool) {
        termination = TerminationState(cause: 0x53, phase: 0x43)  // SC
        if noServer { server = nil }
        front.onClose = nil
        finish()
        client.close(promise: nil)
    }

    private func sideClosed(client isClient: Bool, error: Bool) {
        if isClient, let ticket {
            // The client left while queued: `CQ`.
            if let departure = frontend.backend?.withdraw(ticket) {
                leftQueue(departure, termination: TerminationState(cause: 0x43, phase: 0x51))
            }
            return finish()
        }
        if error && termination == .normal {
            termination = TerminationState(cause: isClient ? 0x43 : 0x53, phase: 0x44)  // CD / SD
        }
        openSides -= 1
        if openSides <= 0 || connectedAfter < 0 { finish() }
    }

    /// The chosen server's `srv_conn`.
    private var serverSessions: ProxyRuntime.Tally? { server.flatMap { frontend.backend?.serverSessions[$0] } }

    private func finish() {
        guard !logged else { return }
        logged = true
        let backendName = frontend.backend?.name ?? frontend.section.name
        // As HAProxy: the backend's and the server's counts no longer include this session when it is logged;
        // the process's and the frontend's still do.
        if inBackend { frontend.backend?.sessions.closed() }
        if connectedAfter >= 0 { serverSessions?.closed() }
        let serverName = server.flatMap { frontend.backend?.servers[$0].name } ?? "<NOSRV>"
        let record = HAProxyLogRecord(
            mode: .tcp, clientIP: client.remoteAddress?.ipAddress ?? "-", clientPort: client.remoteAddress?.port ?? 0,
            date: acceptedAt, frontend: frontend.section.name, backend: backendName, server: serverName,
            queueTime: dequeuedAfter, connectTime: connectedAfter < 0 ? -1 : connectedAfter - dequeuedAfter,
            totalTime: elapsedMilliseconds(), bytesRead: back.bytesIn, terminationState: termination,
            activeConnections: sessions.open,
            frontendConnections: frontend.sessions.open,
            backendConnections: frontend.backend?.sessions.open ?? 0,
            serverConnections: serverSessions?.open ?? 0,
            retries: max(0, attempts - 1), redispatched: redispatched, serverQueue: serverQueuePosition,
            backendQueue: backendQueuePosition)
        let empty = back.bytesIn == 0 && front.bytesIn == 0
        let (bytesIn, bytesOut) = (front.bytesIn, back.bytesIn)
        for tally in [frontend.sessions, frontend.backend?.sessions, serverSessions].compactMap({ $0 }) {
            tally.update {
                $0.bytesIn += bytesIn
                $0.bytesOut += bytesOut
                if termination.cause == 0x43 { $0.clientAborts += 1 }
                if termination.cause == 0x53 && connectedAfter >= 0 { $0.serverAborts += 1 }
            }
        }
        if connectedAfter < 0, termination.cause == 0x53 { frontend.backend?.sessions.update { $0.connectErrors += 1 } }
        frontend.logTraffic(record, empty: empty)
        sessions.closed()
        frontend.sessions.closed()
        if let slot {
            self.slot = nil
            frontend.backend?.release(slot)
        }
        releaseLimits()
    }

    private func elapsedMilliseconds() -> Int {
        Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
    }

    static func addressBytes(_ address: SocketAddress?) -> [UInt8] {
        guard let text = address?.ipAddress else { return [] }
        return Array(text.utf8)
    }
}

/// Starts a session when its client's channel becomes active, then steps aside.
final class SessionStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let session: any ClientSession
    init(_ session: any ClientSession) { self.session = session }
    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        let limits = session.limits
        guard !limits.isEmpty else { return session.begin() }
        if ProxyRuntime.ConnectionLimit.tryTake(limits) { return session.admit(paused: false) }
        // Under maxconn: nothing is read until the session may start.
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        let loop = context.eventLoop
        let bound = NIOLoopBound(session, eventLoop: loop)
        ProxyRuntime.ConnectionLimit.admit(limits[...]) {
            if loop.inEventLoop {
                bound.value.admit(paused: true)
            } else {
                loop.execute { bound.value.admit(paused: true) }
            }
        }
    }
}

extension ServerBootstrap {
    /// A child channel option set only when `condition` holds.
    func childChannelOption<Option: ChannelOption>(_ option: Option, value: Option.Value, when condition: Bool) -> Self
    {
        condition ? childChannelOption(option, value: value) : self
    }
}

extension ClientBootstrap {
    /// A channel option set only when `condition` holds.
    func channelOption<Option: ChannelOption>(_ option: Option, value: Option.Value, when condition: Bool) -> Self {
        condition ? channelOption(option, value: value) : self
    }
}
