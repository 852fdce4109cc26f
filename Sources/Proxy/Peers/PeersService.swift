import CDatagrams
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// One `peers` section at work, as HAProxy 2.6's `peers` sync task: it listens where the local peer is declared,
/// keeps one session with each other peer (connecting to it, or taking its connection), pushes the tables' local
/// changes, applies the others', and on start learns the tables from a peer (a full resynchronisation). On a soft
/// stop it teaches everything it holds to the process that replaces it, through the local peer's address.
///
/// Its state lives on one event loop (`loop`); the tables are shared with the sessions behind their own locks.
final class PeersService: @unchecked Sendable {
    /// A table shared through the section: its schema, the running table, and its id on the wire (from 1).
    final class Shared: Sendable {
        let schema: StickTableSchema
        let table: SharedStickTable
        let id: Int
        let layout: PeerTableFormat.Layout

        init(schema: StickTableSchema, table: SharedStickTable, id: Int, layout: PeerTableFormat.Layout) {
            self.schema = schema
            self.table = table
            self.id = id
            self.layout = layout
        }
    }

    /// One peer of the section (the local one too: a previous or next process of this proxy) and what outlives
    /// its sessions. Touched on the service's loop only.
    final class Peer: @unchecked Sendable {
        let definition: PeersSection.Peer
        var link: PeerLink?
        /// Per table: the last update the peer acknowledged (`st->update`), where a new session resumes.
        var acked: [UInt64]
        var reconnectAt = NIODeadline.uptimeNanoseconds(0)
        /// The last handshake's status (0: never tried; 100 connecting, 110 connected).
        var status = 0
        var lastHandshake: NIODeadline?
        /// A peer that taught a partial lesson is not asked again.
        var notUpToDate = false
        /// Speak protocol 2.0 (no timed updates) to it: it refused 2.1.
        var downgraded = false
        var sentHeartbeats = 0
        var receivedHeartbeats = 0
        var missedHeartbeats = 0
        var newConnections = 0
        var protocolErrors = 0
        var collisions = 0

        init(_ definition: PeersSection.Peer, tables: Int) {
            self.definition = definition
            acked = Array(repeating: 0, count: tables)
        }
    }

    /// Where the start's full resynchronisation stands (`PEERS_RESYNC_*`).
    enum Resync: Equatable {
        /// Waiting for the previous process to teach (after a reload), until the deadline.
        case fromLocal(deadline: NIODeadline)
        /// Asking the other peers, one at a time, until the deadline.
        case fromRemote(deadline: NIODeadline)
        case finished
    }

    static let resyncTimeout = TimeAmount.seconds(5)
    static let reconnectTimeout = TimeAmount.seconds(5)
    static let heartbeatInterval = TimeAmount.seconds(3)

    let section: PeersSection
    let localName: String
    let loop: any EventLoop
    let tables: [Shared]
    let peers: [Peer]
    var resync: Resync
    /// The peer a lesson was asked of (or is coming from), if any.
    var learningFrom: Peer?
    var stopping = false
    private var listener: (any Channel)?
    private var timer: RepeatedTask?
    private let wakeScheduled = Atomic<Bool>(false)
    /// When the section last changed state (`show peers`).
    var lastChange = Date()
    /// What `show peers` prints, copied out on the loop at each visit (the runtime API reads it from any thread).
    private let published: Mutex<ShowPeers.Snapshot>
    /// The soft stop's lesson to the next process: resumed when it is confirmed or fails.
    var handOver: EventLoopPromise<Void>?

    init(section: PeersSection, localName: String, tables: StickTables, loop: any EventLoop, predecessor: Bool) {
        self.section = section
        self.localName = localName
        self.loop = loop
        let schemas = tables.order.compactMap { tables[$0] }.filter { $0.schema.peers == section.name }
        self.tables = schemas.enumerated().map {
            Shared(schema: $1.schema, table: $1, id: $0 + 1, layout: PeerTableFormat.Layout($1.schema))
        }
        peers = section.peers.map { Peer($0, tables: schemas.count) }
        published = Mutex(
            ShowPeers.Snapshot(
                name: section.name, disabled: section.disabled, lastChange: Date(), resyncIn: nil, flags: 0, peers: []))
        let now = NIODeadline.now()
        // A new process learns from the one it replaces (if any) first, then from the others.
        resync = predecessor ? .fromLocal(deadline: now + Self.resyncTimeout) : .fromRemote(deadline: now + Self.resyncTimeout)
        for shared in self.tables {
            shared.table.setLocalUpdateHook { [weak self] in self?.wake() }
        }
    }

    var localPeer: Peer? { peers.first { $0.definition.isLocal } }

    // MARK: Life

    /// Listens on the local peer's address (beside a previous process, which stops listening when it hands over),
    /// and starts connecting.
    func start(group: any EventLoopGroup) async throws {
        guard let address = section.listenAddress else { return }
        let host = address.host ?? "0.0.0.0"
        let fd = tollgate_tcp_listener_on(host, Int32(address.port), -1, 64, nil, 0)
        guard fd >= 0 else {
            throw ListenerStartError(
                "peers section '\(section.name)': cannot bind socket (\(String(cString: strerror(errno)))) for "
                    + "[\(host):\(address.port)]")
        }
        let channel = try await ServerBootstrap(group: loop, childGroup: loop)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerLink(service: self, peer: nil))
                }
            }
            .withBoundSocket(fd).get()
        try await loop.submit {
            self.listener = channel
            self.timer = self.loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(100)) { [weak self] _ in
                self?.tick()
            }
        }.get()
    }

    /// Stops at once: no lesson for anyone.
    func stop() async {
        let channels: [any Channel] = (try? await loop.submit { () -> [any Channel] in
            self.stopping = true
            self.timer?.cancel()
            let links = self.peers.compactMap { $0.link?.channel }
            return links + [self.listener].compactMap { $0 }
        }.get()) ?? []
        for channel in channels { try? await channel.close() }
    }

    /// A soft stop (`-sf`, SIGUSR1): stop listening, end the sessions with the other peers, and teach the tables
    /// to the process taking over through the local peer's address, until it confirms (5 seconds at most, as long
    /// as it answers "try again" or nothing). The session with that process stays open, carrying the updates of
    /// the sessions still running here, until `finishHandOver`.
    func handOverToSuccessor() async {
        guard let local = localPeer, let address = section.listenAddress, !tables.isEmpty else {
            await stop()
            return
        }
        let future: EventLoopFuture<Void>? = try? await loop.submit { () -> EventLoopFuture<Void> in
            self.stopping = true
            self.listener?.close(promise: nil)
            for peer in self.peers { peer.link?.close() }
            let promise = self.loop.makePromise(of: Void.self)
            self.handOver = promise
            let deadline = NIODeadline.now() + Self.resyncTimeout
            self.teachSuccessor(local, host: Self.connectable(address.host), port: address.port, until: deadline)
            self.loop.scheduleTask(deadline: deadline) { self.handOverDone() }
            return promise.futureResult
        }.get()
        try? await future?.get()
    }

    /// The soft stop's sessions have all ended: their last updates reach the process taking over (until it has
    /// acknowledged them, a second at most), then every session closes.
    func finishHandOver() async {
        let deadline = NIODeadline.now() + .seconds(1)
        while NIODeadline.now() < deadline {
            let owed = (try? await loop.submit { () -> Bool in
                guard let local = self.localPeer, let link = local.link, link.established else { return false }
                link.flush()
                return self.tables.indices.contains { i in
                    self.tables[i].table.with { t, _ in t.localUpdate } > local.acked[i]
                }
            }.get()) ?? false
            guard owed else { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        await stop()
    }

    private func teachSuccessor(_ local: Peer, host: String, port: Int, until deadline: NIODeadline) {
        guard handOver != nil, NIODeadline.now() < deadline else { return }
        connect(local, host: host, port: port) { [weak self] in
            guard let self, self.handOver != nil else { return }
            // "Try again later" (the new process is busy with another lesson): once more shortly. Nobody there, or
            // another refusal: there is no process to teach, and this one stops now, as HAProxy's does.
            guard local.status == PeerWire.Status.tryAgain.rawValue else { return self.handOverDone() }
            self.loop.scheduleTask(in: .milliseconds(100)) {
                self.teachSuccessor(local, host: host, port: port, until: deadline)
            }
        }
    }

    /// The successor confirmed the lesson.
    func handOverDone() {
        handOver?.succeed(())
        handOver = nil
    }

    /// A wildcard listening address is reached on the loopback.
    private static func connectable(_ host: String?) -> String {
        switch host {
        case nil, "0.0.0.0", "*": "127.0.0.1"
        case "::": "::1"
        case let host?: host
        }
    }

    // MARK: The sync task

    /// Something changed in a table: the sessions push it (coalesced, on the loop).
    func wake() {
        guard !wakeScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop.execute {
            self.wakeScheduled.store(false, ordering: .releasing)
            for peer in self.peers { peer.link?.flush() }
        }
    }

    /// Every 100 ms: connect to the peers without a session, keep the sessions alive, and move the start's
    /// resynchronisation on.
    private func tick() {
        let now = NIODeadline.now()
        // Stopping, only the session with the process taking over lives on (heartbeats keep it open).
        guard !stopping else { return (localPeer?.link?.keepAlive(now: now)) ?? () }
        defer { publish(now: now) }
        switch resync {
        case .fromLocal(let deadline) where learningFrom == nil && now >= deadline:
            moveResync(to: .fromRemote(deadline: now + Self.resyncTimeout))
        case .fromRemote(let deadline) where learningFrom == nil && now >= deadline:
            moveResync(to: .finished)
        default:
            break
        }
        for peer in peers {
            // The previous process's session (it teaches this one, then passes on its last sessions' updates):
            // heartbeats both ways keep it open, as HAProxy's sessions with any peer.
            if peer.definition.isLocal {
                peer.link?.keepAlive(now: now)
                continue
            }
            if let link = peer.link {
                link.keepAlive(now: now)
                if case .fromRemote = resync, learningFrom == nil, link.established, !peer.notUpToDate {
                    link.learn()
                }
            } else if now >= peer.reconnectAt, let host = peer.definition.host, let port = peer.definition.port {
                connect(peer, host: host, port: port) {
                    peer.reconnectAt = NIODeadline.now() + Self.reconnectTimeout
                }
            }
        }
    }

    func moveResync(to state: Resync) {
        resync = state
        lastChange = Date()
    }

    /// Opens a session to `peer`; `failed` runs when the connection cannot be made or ends before its handshake.
    private func connect(_ peer: Peer, host: String, port: Int, failed: @escaping @Sendable () -> Void) {
        let link = PeerLink(service: self, peer: peer)
        link.onFailure = failed
        peer.link = link
        peer.status = 100
        peer.reconnectAt = NIODeadline.now() + Self.reconnectTimeout
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(link) }
            }
            .connect(host: host, port: port)
            .whenFailure { _ in
                if peer.link === link { peer.link = nil }
                failed()
            }
    }

    /// An accepted session named `name`: the peer it is, or the status to refuse it with.
    func accept(_ link: PeerLink, name: String, from address: SocketAddress?) -> Result<Peer, PeerWire.Status> {
        guard !stopping, let peer = peers.first(where: { $0.definition.name == name }) else {
            return .failure(.unknownPeer)
        }
        // Only from the address the section gives it (a peer's connection carries no credential); the local
        // peer (a previous process of this proxy) only from this host.
        if let ip = address?.ipAddress {
            if peer.definition.isLocal {
                let loopback = ip == "::1" || ip.hasPrefix("127.") || ip.hasPrefix("::ffff:127.")
                if !loopback && peer.definition.host.flatMap({ Self.sameAddress($0, ip) }) != true {
                    return .failure(.unknownPeer)
                }
            } else if let host = peer.definition.host, Self.sameAddress(host, ip) == false {
                return .failure(.unknownPeer)
            }
        }
        if let existing = peer.link, existing !== link {
            // The previous process teaching this one waits its turn; a remote peer's newer session wins, and this
            // side waits a random moment before connecting again (both sides may have crossed).
            if peer.definition.isLocal { return .failure(.tryAgain) }
            existing.onFailure = nil
            existing.close()
            peer.collisions += 1
            peer.reconnectAt = NIODeadline.now() + .milliseconds(Int64(50 + Int.random(in: 0..<2_000)))
        }
        peer.link = link
        return .success(peer)
    }

    /// Whether address text `configured` names `seen` (nil: a host name, not checked).
    static func sameAddress(_ configured: String, _ seen: String) -> Bool? {
        guard let a = AddressSet.address(configured), let b = AddressSet.address(seen) else { return nil }
        return a == b
    }

    /// A session ended.
    func closed(_ link: PeerLink, peer: Peer?) {
        guard let peer else { return }
        if peer.link === link {
            peer.link = nil
            if peer.status == 200 {
                // Reconnect soon, at a random moment (the other side may be connecting too).
                peer.reconnectAt = NIODeadline.now() + .milliseconds(Int64(50 + Int.random(in: 0..<2_000)))
            }
        }
        if learningFrom === peer { learningFrom = nil }
    }

    /// The session with `peer` is established: it learns if nobody teaches this process yet.
    func established(_ link: PeerLink, peer: Peer) {
        peer.status = 200
        peer.lastHandshake = .now()
        peer.newConnections += 1
        lastChange = Date()
        guard learningFrom == nil else { return }
        switch resync {
        case .fromLocal where peer.definition.isLocal && !link.outgoing:
            // The previous process teaches without being asked.
            learningFrom = peer
            link.learning = true
        case .fromRemote where !peer.definition.isLocal && !peer.notUpToDate:
            link.learn()
        default:
            break
        }
    }

    /// The session teaching this process ended before the end of its lesson: another peer is asked (or, after a
    /// reload, the previous process is waited for 5 seconds more).
    func lessonAborted(_ peer: Peer) {
        guard learningFrom === peer else { return }
        learningFrom = nil
        if case .fromLocal = resync { moveResync(to: .fromLocal(deadline: .now() + Self.resyncTimeout)) }
    }

    /// The lesson ended: complete (`finished`) or not.
    func lessonEnded(_ peer: Peer, finished: Bool) {
        if learningFrom === peer { learningFrom = nil }
        if finished {
            moveResync(to: .finished)
        } else {
            peer.notUpToDate = true
            let deadline = NIODeadline.now() + Self.resyncTimeout
            if case .fromLocal = resync { moveResync(to: .fromLocal(deadline: deadline)) }
            if case .fromRemote = resync { moveResync(to: .fromRemote(deadline: deadline)) }
        }
    }

    var resyncFinished: Bool { resync == .finished }

    /// `show peers`: the section as last published.
    var snapshot: ShowPeers.Snapshot { published.withLock { $0 } }

    private func publish(now: NIODeadline) {
        func ms(_ d: NIODeadline) -> Int64 { Int64(d.uptimeNanoseconds / 1_000_000) - Int64(now.uptimeNanoseconds / 1_000_000) }
        var flags: UInt32
        var resyncIn: Int64?
        switch resync {
        case .fromLocal(let deadline):
            flags = 0
            resyncIn = ms(deadline)
        case .fromRemote(let deadline):
            flags = 0x1
            resyncIn = ms(deadline)
        case .finished:
            flags = 0x3
        }
        if learningFrom != nil { flags |= 0x4 }
        let updates = tables.map { shared in shared.table.with { t, _ in (t.localUpdate, t.commitUpdate) } }
        // HAProxy lists a section's peers last declared first.
        let peerStates = peers.reversed().map { peer -> ShowPeers.Snapshot.Peer in
            let link = peer.link
            let address = peer.definition.host.map { "\($0):\(peer.definition.port ?? 0)" }
                ?? section.listenAddress.map { "\($0.host ?? "0.0.0.0"):\($0.port)" } ?? "-"
            let tableStates = tables.enumerated().map { i, shared -> ShowPeers.Snapshot.Table in
                let state = link?.tableState(i)
                return ShowPeers.Snapshot.Table(
                    name: shared.schema.name, localID: shared.id, remoteID: state?.cursor.remoteID ?? 0,
                    remoteData: state?.remoteData ?? 0, lastAcked: state?.cursor.lastAcked ?? 0,
                    lastPushed: state?.cursor.lastPushed ?? peer.acked[i], lastGet: state?.cursor.lastGet ?? 0,
                    teachingOrigin: state?.cursor.teachingOrigin ?? peer.acked[i], update: peer.acked[i],
                    localUpdate: updates[i].0, commitUpdate: updates[i].1)
            }
            return ShowPeers.Snapshot.Peer(
                name: peer.definition.name, local: peer.definition.isLocal, active: link != nil, address: address,
                status: peer.status, sinceHandshake: peer.lastHandshake.map { -ms($0) },
                reconnectIn: peer.definition.isLocal
                    ? nil : ms(link.flatMap { $0.established ? $0.aliveUntil : nil } ?? peer.reconnectAt),
                heartbeatIn: link?.heartbeatDue.map(ms), confirm: 0, sentHeartbeats: peer.sentHeartbeats,
                receivedHeartbeats: peer.receivedHeartbeats, missedHeartbeats: peer.missedHeartbeats,
                newConnections: peer.newConnections, protocolErrors: peer.protocolErrors, collisions: peer.collisions,
                established: link?.established ?? false, source: link?.channel?.localAddress.map(Self.text),
                destination: link?.channel?.remoteAddress.map(Self.text), tables: tableStates,
                received: link?.receivedDictionary ?? [])
        }
        let snapshot = ShowPeers.Snapshot(
            name: section.name, disabled: section.disabled, lastChange: lastChange, resyncIn: resyncIn, flags: flags,
            peers: peerStates)
        published.withLock { $0 = snapshot }
    }

    private static func text(_ address: SocketAddress) -> String {
        "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
    }
}
