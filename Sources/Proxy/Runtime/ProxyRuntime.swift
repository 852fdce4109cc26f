import CDatagrams
import HAProxyLog
import LogCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization
import SyslogProtocol
import SystemdSupport
import TCPPlane

/// The running proxy: each `frontend`/`listen` bind accepts connections. In `mode tcp` its backend's balancer
/// picks a server, the proxy connects (retrying on failure, `option redispatch` moving the last retry to another
/// server), relays both ways with back-pressure and half-close, and when both sides have closed logs one
/// `option tcplog` line through the proxy's `log` targets (HAProxyLog formats it). In `mode http` each request
/// is balanced, relayed and logged on its own (`HTTPSession`), and a frontend with `stats` serves the stats page.
public final class ProxyRuntime: Sendable {
    /// The layers, each built from the one before: the configuration as read (its words already typed), the
    /// state that changes (`ProxyState`: counters, servers, the audit trail), then the listeners' frontends and
    /// the health checkers that work on that state.
    let configuration: ProxyConfiguration
    let state: ProxyState
    let frontends: [Frontend]
    private let checkers: [HealthChecker]
    /// The `resolvers` sections at work, in their order (each finds its servers' addresses at run time).
    let resolvers: [ResolverClient]
    /// The runtime API (`stats socket`), when the configuration has one.
    private let statsSockets: StatsSocketListener?
    /// The `peers` sections that share tables.
    let peers: [PeersService]
    private let group: MultiThreadedEventLoopGroup
    /// The HTTP client connections, for a soft stop to close or finish.
    private let httpConnections: HTTPConnections
    private let channels = Mutex<[any Channel]>([])
    /// The TCP data plane: its loops and the listeners it serves (plain TCP frontends).
    private let plane = Mutex<[PlaneLoop]>([])
    private let planeListeners = Mutex<[PlaneListener]>([])
    private let threads: Int
    /// The listening sockets' descriptors, for a new process that takes them over (`_getsocks`); and the ones a
    /// previous process handed over (`-x`), taken by the binds they match.
    private let listeners = Mutex<[Int32]>([])
    private let inherited: Mutex<[ListenerHandoff.Inherited]>
    /// The process's sessions (`actconn`).
    private var sessions: Tally { state.sessions }

    /// `predecessor`: a previous process is being replaced (`-sf`/`-st`), and teaches its shared tables first.
    public init(
        configuration: ProxyConfiguration, threads: Int? = nil, takingOverFrom socketPath: String? = nil,
        predecessor: Bool = false
    ) throws {
        self.configuration = configuration
        // `-x`: the previous process's listening sockets; without them the binds are made anew (HAProxy warns).
        var taken: [ListenerHandoff.Inherited] = []
        var notes: [String] = []
        if let socketPath {
            do {
                taken = try ListenerHandoff.fetch(from: socketPath)
            } catch {
                notes.append("Failed to get the sockets from the old process! (\(error))")
            }
        }
        inherited = Mutex(taken)
        handoffNotes = notes
        let threads = threads ?? configuration.global.nbthread ?? System.coreCount
        self.threads = threads
        let state = try ProxyState(configuration, threads: threads)
        self.state = state
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let connections = HTTPConnections(group)
        httpConnections = connections
        let processLimit = state.processLimit
        var frontends: [Frontend] = []
        let processVariables = ProcessVariables(
            configuration.processVariables, declared: configuration.processVariableNames)
        let users =
            configuration.userlists.isEmpty ? nil : UserlistAuth(lists: configuration.userlists, audit: state.audit)
        for p in configuration.proxies where p.isFrontend {
            // A listen is its own backend, unless it names another (HAProxy's `defbe`, from it or its defaults).
            let backendName = p.defaultBackend ?? (p.kind == .listen ? p.name : nil)
            let targets = (p.settings.logGlobal ? configuration.global.logs : []) + p.settings.logs
            frontends.append(
                Frontend(
                    section: p, backend: backendName.flatMap { state.backendsByName[$0] },
                    sessions: state.frontendSessions[p.name] ?? Tally(),
                    log: try LogEmitter(targets: targets, global: configuration.global),
                    clientTimeout: ProxyRuntime.amount(p.settings.timeouts.tunnel ?? p.settings.timeouts.client),
                    tcpKeepAlive: p.settings.option(.tcpka) || p.settings.option(.clitcpka),
                    limits: [state.frontendControls[p.name]?.limit, processLimit].compactMap { $0 },
                    stats: p.stats.enabled
                        ? StatsPage(
                            proxy: p.name, settings: p.stats, global: configuration.global, version: Proxy.version,
                            state: state)
                        : nil,
                    forwardFor: p.settings.forwardFor, headLimit: ProxyRuntime.bufferSize,
                    routes: p.rules.backendRules.compactMap { rule in
                        if let name = rule.dynamic { return (rule.condition, .named(name)) }
                        return state.backendsByName[rule.backend].map { (rule.condition, .backend($0)) }
                    },
                    logRules: Frontend.LogRules(p.settings),
                    usableServers: { [backends = state.backendsByName] name in backends[name]?.usableServers() ?? 0 },
                    users: users, stickTables: state.stickTables, audit: state.audit,
                    sessionRate: SessionRate(p.settings.sessionRateLimit, loop: group.next()),
                    compressionLevel: configuration.global.compressionLevel,
                    backendsByName: p.rules.backendRules.contains { $0.dynamic != nil } ? state.backendsByName : [:],
                    prometheus: { [state] query in PromexExporter.answer(state, query: query) },
                    directory: state.sessionDirectory, processVariables: processVariables,
                    connections: p.settings.mode == .http ? connections : nil))
        }
        self.frontends = frontends
        // Where each backend's server state changes are logged: its health checks' and the runtime API's.
        var backendLogs: [String: LogEmitter] = [:]
        for p in configuration.proxies where p.isBackend {
            let targets = (p.settings.logGlobal ? configuration.global.logs : []) + p.settings.logs
            backendLogs[p.name] = try LogEmitter(targets: targets, global: configuration.global)
        }
        var checkers: [HealthChecker] = []
        for p in configuration.proxies where p.isBackend && p.servers.contains(where: \.check) {
            guard let backend = state.backendsByName[p.name], let log = backendLogs[p.name] else { continue }
            var external: ExternalCheck?
            if p.settings.checkProtocol == .external, let command = p.settings.externalCheckCommand {
                let index = configuration.proxies.firstIndex { $0.name == p.name } ?? 0
                let first = p.binds.first
                external = ExternalCheck(
                    command: command, path: p.settings.externalCheckPath ?? "", proxyName: p.name,
                    proxyID: (configuration.global.statsSockets.isEmpty ? 1 : 2) + index,
                    listener: first.map { ($0.host ?? "0.0.0.0", $0.port) }, proto: p.settings.mode == .http ? "h1" : "tcp")
            }
            checkers.append(
                HealthChecker(
                    backend: backend, section: p, log: log, group: group, external: external,
                    forkAllowed: configuration.global.insecureForkWanted))
        }
        self.checkers = checkers
        resolvers = ProxyRuntime.resolverClients(configuration, state: state, logs: backendLogs, group: group)
        var peers: [PeersService] = []
        if let tables = state.stickTables {
            for section in configuration.peers where !section.disabled && section.local != nil {
                guard tables.order.contains(where: { tables[$0]?.schema.peers == section.name }) else { continue }
                peers.append(
                    PeersService(
                        section: section, localName: configuration.localPeer, tables: tables, loop: group.next(),
                        predecessor: predecessor))
            }
        }
        self.peers = peers
        // One runtime API: the stats sockets' and the stats pages' admin forms (`stats admin`).
        let api = RuntimeAPI(
            state: state, frontends: frontends, backendLogs: backendLogs, peers: peers, resolvers: resolvers)
        for frontend in frontends { frontend.stats?.attach(api) }
        statsSockets =
            configuration.global.statsSockets.isEmpty ? nil : StatsSocketListener(api: api, global: configuration.global)
    }

    /// What starting said that HAProxy prints as warnings (the server states a reload's state file restored, a
    /// `-x` that got no socket).
    public var startupNotes: [String] { handoffNotes + state.startupNotes }
    private let handoffNotes: [String]

    /// The listening sockets, for `_getsocks`.
    var listeningDescriptors: [Int32] { listeners.withLock { $0 } }

    /// Whether this process has begun stopping (its listeners are closing).
    private let stopping = Atomic<Bool>(false)

    /// `_getsocks`: the listening sockets go to a new process, and this one stops accepting on them at once, so that
    /// only the new process accepts (the queued connections are its) until this one is told to stop; if that does
    /// not come within 5 s (the new process failed), this one accepts again.
    func handOverListeners() -> [Int32] {
        var paused: [ListenerGate] = []
        for control in state.frontendControls.values {
            for gate in control.listeners.withLock({ $0 }) where !gate.isPaused {
                gate.pause(true)
                paused.append(gate)
            }
        }
        let resumed = paused
        group.next().scheduleTask(in: .seconds(5)) { [self] in
            guard !stopping.load(ordering: .relaxed) else { return }
            for gate in resumed { gate.pause(false) }
        }
        return listeningDescriptors
    }

    /// A listening socket for `bind`: the one a previous process handed over for its address and port, else a new
    /// one (SO_REUSEADDR/SO_REUSEPORT, `v6only`, the bind's `backlog` or 1024).
    private func listeningSocket(_ bind: BindAddress, frontend: String) throws -> Int32 {
        if let local = bind.localSocket { return try localListeningSocket(local, bind, frontend: frontend) }
        let host = bind.host ?? "0.0.0.0"
        let wanted = (try? SocketAddress(ipAddress: host, port: bind.port))?.ipAddress ?? host
        if let fd = inherited.withLock({ list -> Int32? in
            guard let i = list.firstIndex(where: { $0.port == bind.port && $0.ip == wanted }) else { return nil }
            return list.remove(at: i).descriptor
        }) {
            return fd
        }
        let v6only: Int32 = bind.v6Only.map { $0 ? 1 : 0 } ?? -1
        let backlog = Int32(clamping: bind.backlog ?? 1024)
        let fd =
            bind.interface.map {
                tollgate_tcp_listener_on(host, Int32(bind.port), v6only, backlog, $0, bind.transparent ? 1 : 0)
            } ?? tollgate_tcp_listener_on(host, Int32(bind.port), v6only, backlog, nil, bind.transparent ? 1 : 0)
        guard fd >= 0 else {
            throw ListenerStartError(
                "frontend '\(frontend)': cannot bind socket (\(String(cString: strerror(errno)))) for [\(host):\(bind.port)]")
        }
        return fd
    }

    /// A listener on a local socket: handed over by the previous process (`-x`), else made here (a path's file in
    /// one step, with its mode and owner: see `ListenerHandoff.placeUnixListener`; an abstract name directly).
    private func localListeningSocket(_ local: LocalSocket, _ bind: BindAddress, frontend: String) throws -> Int32 {
        let name = ListenerHandoff.inheritedName(local)
        if let fd = inherited.withLock({ list -> Int32? in
            guard let i = list.firstIndex(where: { $0.port == 0 && $0.ip == name }) else { return nil }
            return list.remove(at: i).descriptor
        }) {
            return fd
        }
        let backlog = Int32(clamping: bind.backlog ?? 1024)
        do {
            switch local {
            case .path(let path): return try ListenerHandoff.placeUnixListener(at: path, ownership: bind.ownership, backlog: backlog).0
            case .abstract: return try ListenerHandoff.unixListener(local.sunPath, backlog: backlog)
            }
        } catch {
            throw ListenerStartError("frontend '\(frontend)': cannot bind UNIX socket (\(error)) for [\(name)]")
        }
    }

    /// HAProxy's `tune.bufsize`: the most a request's line and headers may take.
    static let bufferSize = 16_384

    /// One line of the audit trail (`audit: …`, notice, to the global log targets): what changed the gate.
    public func audit(_ text: String) {
        state.audit.record(text)
    }

    static func amount(_ t: ConfigTime?) -> TimeAmount? { t.map { .microseconds($0.microseconds) } }

    /// Binds every frontend; returns the bound addresses and logs each proxy's start, as HAProxy does.
    public func start() async throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for frontend in frontends {
            for (index, bind) in frontend.section.binds.enumerated() {
                let sessions = self.sessions
                // The listener's name in HAProxy's logs: `name`, else its number in the frontend.
                let listenerName = bind.name ?? String(index + 1)
                // TLS: certificates and keys are read once, here; a bad one stops the start with its reason.
                let tls: ListenerTLS?
                do {
                    tls = try bind.tls.map { try ListenerTLS($0) }
                } catch {
                    throw ListenerStartError(
                        "frontend '\(frontend.section.name)', bind \(bind.host ?? "*"):\(bind.port): \(error)")
                }
                // The socket is ours (or handed over by the previous process): its descriptor can be passed on.
                let descriptor = try listeningSocket(bind, frontend: frontend.section.name)
                listeners.withLock { $0.append(descriptor) }
                if frontend.runsOnDataPlane(bind) {
                    let listener = PlaneListener(
                        descriptor: descriptor, loops: try planeLoops(), keepalive: frontend.tcpKeepAlive
                    ) { stream, remote in
                        guard
                            let (counters, _) = frontend.connectionAdmitted(
                                remote: remote, local: stream.localAddress, acceptProxy: false,
                                silence: { stream.silence() })
                        else { return stream.close() }
                        let session = TCPSession(
                            frontend: frontend, sessions: sessions, connection: .plane(stream, remote: remote),
                            counters: counters)
                        // Nothing is read from the client before its session attaches it: no reads to hold.
                        SessionStarter.start(session, on: TCPSessionLoop.plane(stream.loop)) {}
                    }
                    listener.start()
                    planeListeners.withLock { $0.append(listener) }
                    watchLimits(ListenerGate(.plane(listener), limits: frontend.limits, rate: frontend.sessionRate), frontend)
                    if let address = listener.localAddress { bound.append(address) }
                    continue
                }
                let local = bind.localSocket != nil
                let channel = try await ServerBootstrap(group: group)
                    .childChannelOption(.allowRemoteHalfClosure, value: true)
                    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1, when: !local)
                    // SO_KEEPALIVE only when asked (off is the socket's default: no system call per session).
                    .childChannelOption(.socketOption(.so_keepalive), value: 1, when: frontend.tcpKeepAlive && !local)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            guard
                                let (counters, expectsProxy) = frontend.connectionAdmitted(
                                    remote: channel.remoteAddress, local: channel.localAddress,
                                    acceptProxy: bind.acceptProxy, silence: { SilentDrop.silence(channel) })
                            else {
                                try channel.pipeline.syncOperations.addHandler(ClosedOnArrival())
                                return
                            }
                            // What the client's TLS carries (its SNI, read on the way in; its certificate).
                            let clientTLS = tls.map { _ in ClientTLS() }
                            if let tls, let clientTLS {
                                let operations = channel.pipeline.syncOperations
                                try operations.addHandler(ClientHelloSNIReader(clientTLS))
                                try operations.addHandler(NIOSSLServerHandler(context: try tls.connectionContext()))
                                try operations.addHandler(
                                    HandshakeFailureLogger(frontend: frontend, listener: listenerName, info: clientTLS))
                            }
                            // The session starts once the accepted channel is active and maxconn admits it.
                            let session: any ClientSession =
                                frontend.section.settings.mode == .http
                                ? HTTPSession(
                                    frontend: frontend, process: sessions, client: channel, tls: clientTLS,
                                    counters: counters)
                                : TCPSession(
                                    frontend: frontend, sessions: sessions, client: channel, tls: clientTLS,
                                    counters: counters)
                            if local {
                                (session as? HTTPSession)?.localListener = index + 1
                                (session as? TCPSession)?.localListener = index + 1
                            }
                            if expectsProxy {
                                // First in the pipeline: the header comes before anything, a TLS handshake too.
                                try channel.pipeline.syncOperations.addHandler(
                                    ProxyProtocolReceiver(session: session, frontend: frontend, listener: listenerName),
                                    position: .first)
                            }
                            try channel.pipeline.syncOperations.addHandler(SessionStarter(session))
                        }
                    }
                    .withBoundSocket(descriptor).get()
                channels.withLock { $0.append(channel) }
                watchLimits(
                    ListenerGate(.channel(channel), limits: frontend.limits, rate: frontend.sessionRate), frontend)
                if let address = channel.localAddress { bound.append(address) }
            }
        }
        // Handed-over sockets no bind took: closed (their addresses are no longer in the configuration).
        for left in inherited.withLock({ list -> [ListenerHandoff.Inherited] in
            defer { list = [] }
            return list
        }) {
            close(left.descriptor)
        }
        try await statsSockets?.start(group: group, listeners: { [weak self] in self?.handOverListeners() ?? [] })
        for service in peers { try await service.start(group: group) }
        for checker in checkers { checker.start() }
        for client in resolvers where !client.isEmpty { client.start() }
        return bound
    }

    /// A listener's gate joins the limits that may pause it and the runtime API's controls of its frontend.
    private func watchLimits(_ gate: ListenerGate, _ frontend: Frontend) {
        frontend.sessionRate?.add(listener: gate)
        for limit in frontend.limits { limit.add(listener: gate) }
        state.frontendControls[frontend.section.name]?.listeners.withLock { $0.append(gate) }
    }

    /// The TCP data plane's loops (as many as the NIO group's threads), started on first use.
    private func planeLoops() throws -> [PlaneLoop] {
        try plane.withLock { loops in
            if loops.isEmpty {
                let made = try (0..<threads).map { _ in try PlaneLoop() }
                for (index, loop) in made.enumerated() {
                    try loop.start()
                    loop.execute { Tally.Shard.claim(index) }
                }
                loops = made
            }
            return loops
        }
    }

    private let notifications = Mutex<[RepeatedTask]>([])

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
        notifications.withLock { $0 = tasks }
    }

    /// Stops accepting (once): the listeners close and each proxy logs HAProxy's "stopped" line.
    private func closeListeners() async {
        stopping.store(true, ordering: .relaxed)
        let open = channels.withLock { list -> [any Channel] in
            defer { list = [] }
            return list
        }
        let openPlane = planeListeners.withLock { list -> [PlaneListener] in
            defer { list = [] }
            return list
        }
        guard !open.isEmpty || !openPlane.isEmpty else { return }
        for channel in open { try? await channel.close() }
        for listener in openPlane { await listener.stop() }
        for frontend in frontends where !(state.frontendControls[frontend.section.name]?.shutDown.load(ordering: .relaxed) ?? false) {
            frontend.log.send(
                "Proxy \(frontend.section.name) stopped (cumulated conns: FE: \(frontend.sessions.total), BE: \(frontend.backend?.sessions.total ?? 0)).",
                severity: .warning)
        }
    }

    /// HAProxy's soft stop (SIGUSR1, or a new process's `-sf`): stop accepting, let the open sessions finish.
    /// Returns when none is left.
    public func softStop() async {
        await statsSockets?.stop()
        await closeListeners()
        // HTTP connections idle between requests close now, the others after their response, as HAProxy's.
        await httpConnections.softStop()
        // The shared tables go to the process taking over (HAProxy's local peer lesson).
        for service in peers { await service.handOverToSuccessor() }
        await sessions.untilIdle()
        for service in peers { await service.finishHandOver() }
    }

    /// The sessions open now.
    public var openSessions: Int { sessions.open }

    /// Stops accepting, closes what is open (sessions included) and ends the event loops.
    public func stop() async throws {
        for task in notifications.withLock({ $0 }) { task.cancel() }
        for checker in checkers { checker.stop() }
        for client in resolvers { client.stop() }
        await statsSockets?.stop()
        for service in peers { await service.stop() }
        await closeListeners()
        // The data plane's open sessions close (and log) as its loops end.
        for loop in plane.withLock({ $0 }) { loop.stop() }
        try await group.shutdownGracefully()
    }
}

/// A listener that cannot start, in the user's terms (which frontend and bind, and why).
public struct ListenerStartError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
