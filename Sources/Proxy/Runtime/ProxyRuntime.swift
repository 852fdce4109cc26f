import HAProxyLog
import LogCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SyslogProtocol
import SystemdSupport

/// The running proxy, layer 4: each `frontend`/`listen` bind accepts connections, its backend's balancer picks a
/// server, the proxy connects (retrying on failure, `option redispatch` moving the last retry to another server),
/// relays both ways with back-pressure and half-close, and when both sides have closed logs one `option tcplog`
/// line through the proxy's `log` targets (HAProxyLog formats it). `mode http` proxies are relayed as TCP by this
/// build (a warning at start says so).
public final class ProxyRuntime: Sendable {
    private let configuration: ProxyConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let channels = NIOLockedValueBox<[any Channel]>([])
    /// The process's sessions (`actconn`).
    private let sessions = Tally()
    public let notes: [String]
    private let frontends: [Frontend]
    private let checkers: [HealthChecker]

    /// Sessions open now and since the start, for one of the log's `actconn/feconn/beconn/srv_conn` and the
    /// "stopped" line's cumulated counts.
    final class Tally: Sendable {
        private let counts = NIOLockedValueBox((open: 0, total: 0))
        func opened() { counts.withLockedValue { $0 = ($0.open + 1, $0.total + 1) } }
        func closed() { counts.withLockedValue { $0.open -= 1 } }
        var open: Int { counts.withLockedValue { $0.open } }
        var total: Int { counts.withLockedValue { $0.total } }
    }

    /// A backend as the sessions share it: its servers' addresses and its balancer, behind a lock.
    final class Backend: Sendable {
        let name: String
        let servers: [ServerLine]
        let addresses: [SocketAddress?]
        let balancer: NIOLockedValueBox<Balancer>
        let retries: Int
        let redispatch: Bool
        let connectTimeout: TimeAmount
        let serverTimeout: TimeAmount?
        let tcpKeepAlive: Bool
        /// `beconn`, and each server's `srv_conn`.
        let sessions = Tally()
        let serverSessions: [Tally]

        init(_ section: ProxySection) {
            name = section.name
            serverSessions = section.servers.map { _ in Tally() }
            servers = section.servers
            addresses = section.servers.map { s in
                s.port.flatMap { try? SocketAddress.makeAddressResolvingHost(s.host, port: $0) }
            }
            balancer = NIOLockedValueBox(Balancer(section))
            retries = section.settings.retries
            redispatch = section.settings.option("redispatch")
            connectTimeout = ProxyRuntime.amount(section.settings.timeouts.connect) ?? .seconds(5)
            serverTimeout = ProxyRuntime.amount(section.settings.timeouts.server)
            tcpKeepAlive = section.settings.option("tcpka") || section.settings.option("srvtcpka")
        }
    }

    struct Frontend: Sendable {
        let section: ProxySection
        let backend: Backend?
        let log: LogEmitter
        let clientTimeout: TimeAmount?
        let tcpKeepAlive: Bool
        /// `feconn`.
        let sessions = Tally()
    }

    public init(configuration: ProxyConfiguration, threads: Int? = nil) throws {
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup(
            numberOfThreads: threads ?? configuration.global.nbthread ?? System.coreCount)
        var backends: [String: Backend] = [:]
        for p in configuration.proxies where p.isBackend { backends[p.name] = Backend(p) }
        var notes: [String] = []
        var frontends: [Frontend] = []
        for p in configuration.proxies where p.isFrontend {
            let backendName = p.kind == .listen ? p.name : p.defaultBackend
            let targets = (p.settings.logGlobal ? configuration.global.logs : []) + p.settings.logs
            if p.settings.mode == .http {
                notes.append("\(p.kind.rawValue) '\(p.name)': mode http is relayed as TCP by this build")
            }
            frontends.append(
                Frontend(
                    section: p, backend: backendName.flatMap { backends[$0] },
                    log: try LogEmitter(targets: targets, global: configuration.global),
                    clientTimeout: ProxyRuntime.amount(p.settings.timeouts.client),
                    tcpKeepAlive: p.settings.option("tcpka") || p.settings.option("clitcpka")))
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
        self.notes = notes
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
                    .childChannelOption(.socketOption(.so_keepalive), value: frontend.tcpKeepAlive ? 1 : 0)
                    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            // The session starts once the accepted channel is active.
                            let session = Session(frontend: frontend, sessions: sessions, client: channel)
                            try channel.pipeline.syncOperations.addHandler(SessionStarter(session))
                        }
                    }
                    .bind(host: bind.host ?? "0.0.0.0", port: bind.port).get()
                channels.withLockedValue { $0.append(channel) }
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
final class Session {
    private let frontend: ProxyRuntime.Frontend
    /// The process's sessions (`actconn`).
    private let sessions: ProxyRuntime.Tally
    private let client: any Channel
    private let acceptedAt = CivilTime.now()
    private let started = NIODeadline.now()
    private var connectedAfter: Int = -1
    private var attempts = 0
    private var server: Int?
    private var redispatched = false
    private var termination = TerminationState.normal
    private let front = RelayHandler()
    /// The server side of the relay (a new one for each connection attempt).
    fileprivate var back = RelayHandler()
    private var openSides = 1
    private var logged = false

    init(frontend: ProxyRuntime.Frontend, sessions: ProxyRuntime.Tally, client: any Channel) {
        self.frontend = frontend
        self.sessions = sessions
        self.client = client
    }

    /// Sets up the client side and starts connecting to a server.
    func begin() {
        sessions.opened()
        frontend.sessions.opened()
        let pipeline = client.pipeline.syncOperations
        if let timeout = frontend.clientTimeout {
            try? pipeline.addHandler(IdleStateHandler(allTimeout: timeout))
            try? pipeline.addHandler(TimeoutWatcher { [self] in clientTimedOut() })
        }
        try? pipeline.addHandler(front)
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

    private func connect() {
        guard let backend = frontend.backend else { return fail(noServer: true) }
        // With `option redispatch` a retry goes to another server: HAProxy 2.6 does so from the first retry after a
        // refused connection (seen: `+1` in the log whatever `retries` is), not only on the last one.
        let redispatch = backend.redispatch && attempts == 1
        let previous = server
        let picked: Int? = backend.balancer.withLockedValue { b in
            if let previous, !redispatch { return previous }
            // Only `balance source` needs the client's address.
            let address = b.algorithm == .source ? Session.addressBytes(client.remoteAddress) : []
            return b.pick(client: address, excluding: redispatch ? previous : nil)
        }
        guard let index = picked, let address = backend.addresses[index] else { return fail(noServer: picked == nil) }
        if redispatch && index != previous { redispatched = true }
        if let previous, previous != index { backend.balancer.withLockedValue { $0.closed(previous) } }
        if server != index {
            server = index
            backend.balancer.withLockedValue { $0.opened(index) }
        }
        attempts += 1
        let loop = client.eventLoop
        let relay = RelayHandler()
        back = relay
        let serverTimeout = backend.serverTimeout
        // The server's channel is made on the client's loop: both sides of the relay share it. Each attempt has
        // its own relay handler.
        let bound = NIOLoopBound((self, relay), eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(backend.connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.so_keepalive), value: backend.tcpKeepAlive ? 1 : 0)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (session, relay) = bound.value
                    if let serverTimeout {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: serverTimeout))
                        try channel.pipeline.syncOperations.addHandler(
                            TimeoutWatcher { [session] in session.serverTimedOut() })
                    }
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
        frontend.backend?.sessions.opened()
        serverSessions?.opened()
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
        client.close(promise: nil)
        finish()
    }

    private func sideClosed(client isClient: Bool, error: Bool) {
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
        if connectedAfter >= 0 {
            frontend.backend?.sessions.closed()
            serverSessions?.closed()
        }
        let serverName = server.flatMap { frontend.backend?.servers[$0].name } ?? "<NOSRV>"
        let record = HAProxyLogRecord(
            mode: .tcp, clientIP: client.remoteAddress?.ipAddress ?? "-", clientPort: client.remoteAddress?.port ?? 0,
            date: acceptedAt, frontend: frontend.section.name, backend: backendName, server: serverName,
            queueTime: 0, connectTime: connectedAfter, totalTime: elapsedMilliseconds(),
            bytesRead: back.bytesIn, terminationState: termination,
            activeConnections: sessions.open,
            frontendConnections: frontend.sessions.open,
            backendConnections: frontend.backend?.sessions.open ?? 0,
            serverConnections: serverSessions?.open ?? 0,
            retries: max(0, attempts - 1), redispatched: redispatched, serverQueue: 0, backendQueue: 0)
        // HAProxy's rule (strm_log): an error is a redispatch, a retry, or an end caused by anything but a normal
        // close; `dontlog-normal` keeps only errors, `log-separate-errors` sends them at err, `dontlognull` drops
        // sessions that carried nothing.
        let isError = redispatched || attempts > 1 || termination.cause != 0x2D
        let empty = back.bytesIn == 0 && front.bytesIn == 0
        let settings = frontend.section.settings
        let skip =
            (settings.option("dontlognull") && empty && !isError) || (settings.option("dontlog-normal") && !isError)
        if !skip {
            let line = HAProxyLogFormat.default(for: record).format(record)
            let separate = settings.option("log-separate-errors") && isError
            frontend.log.send(line, severity: separate ? .error : .informational)
        }
        sessions.closed()
        frontend.sessions.closed()
        if let server { frontend.backend?.balancer.withLockedValue { $0.closed(server) } }
    }

    private func elapsedMilliseconds() -> Int {
        Int((NIODeadline.now() - started).nanoseconds / 1_000_000)
    }

    static func addressBytes(_ address: SocketAddress?) -> [UInt8] {
        guard let text = address?.ipAddress else { return [] }
        return Array(text.utf8)
    }
}

/// Turns the idle handler's event into a callback (the side timed out).
final class TimeoutWatcher: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private let onTimeout: () -> Void
    init(_ onTimeout: @escaping () -> Void) { self.onTimeout = onTimeout }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            onTimeout()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Starts a session when its client's channel becomes active, then steps aside.
final class SessionStarter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let session: Session
    init(_ session: Session) { self.session = session }
    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        session.begin()
    }
}
