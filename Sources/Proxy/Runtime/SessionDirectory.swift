import HAProxyLog
import LogCore
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The sessions open now, for what looks at them or ends them from outside: the runtime API's `show sess`,
/// `shutdown session` and `shutdown sessions server`, and `on-marked-down shutdown-sessions` when a server's checks
/// take it down. Kept only when something may ask (a `stats socket`, or a server with `on-marked-down
/// shutdown-sessions`): two locked dictionary changes per session, which other configurations do not pay.
///
/// A TCP session is listed from its start to its log line; an HTTP connection from its start to its close, its
/// backend and server those of the request it serves (none between requests).
final class SessionDirectory: Sendable {
    /// Ends one session, logged with `cause` (`D`: its server went down, `K`: an administrator); called on any
    /// thread, it hops onto the session's loop.
    typealias Kill = @Sendable (TerminationState.Cause) -> Void

    /// One session as `show sess` shows it: what is known when it starts, and where its backend path stands.
    final class Listing: Sendable {
        /// Its number in `show sess` (HAProxy shows the stream's address there; both are what `shutdown session`
        /// takes).
        let id: UInt64
        /// The `show sess` count when it started (HAProxy's stream epoch).
        let epoch: UInt32
        let accepted: CivilTime
        /// When it started, in seconds since the epoch (its `age`).
        let acceptedAt: Int
        let client: SocketAddress?
        /// The address the client connected to.
        let frontendAddress: SocketAddress?
        let frontend: ProxySection
        let kill: Kill

        /// Where the session's backend path stands.
        struct Place: Sendable {
            /// `%rt`: the stream's number (the current request's, in HTTP mode).
            var stream: Int?
            var backend: ProxySection?
            /// The server it is assigned to (0-based in its backend), its name and address.
            var server: Int?
            var serverName: String?
            var serverAddress: SocketAddress?
            var retries = 0
        }
        private let place = Mutex(Place())

        fileprivate init(
            id: UInt64, epoch: UInt32, frontend: ProxySection, client: SocketAddress?, frontendAddress: SocketAddress?,
            kill: @escaping Kill
        ) {
            self.id = id
            self.epoch = epoch
            accepted = CivilTime.now()
            acceptedAt = Int(time(nil))
            self.client = client
            self.frontendAddress = frontendAddress
            self.frontend = frontend
            self.kill = kill
        }

        var now: Place { place.withLock { $0 } }

        func update(_ change: (inout Place) -> Void) { place.withLock { change(&$0) } }

        /// The session entered `backend` (HAProxy's `be=` from then on).
        func entered(_ backend: ProxyRuntime.Backend) {
            update {
                $0.backend = backend.section
                $0.server = nil
                $0.serverName = nil
                $0.serverAddress = nil
            }
        }

        /// An attempt to connect to `server` of `backend` starts (`retries`: the earlier attempts that failed).
        func attempting(_ server: Int, of backend: ProxyRuntime.Backend, retries: Int) {
            update {
                $0.backend = backend.section
                $0.server = server
                $0.serverName = backend.servers[server].name
                $0.serverAddress = backend.address(server)
                $0.retries = retries
            }
        }

        /// The request ended: no backend until the next.
        func leftBackend() {
            update { $0 = Place(stream: $0.stream) }
        }
    }

    /// The listings, in shards (by number) so that loops adding and removing at once seldom wait on one lock.
    private final class Shard: Sendable {
        let listings = Mutex<[UInt64: Listing]>([:])
    }
    private static let shardCount = 8
    private let shards: [Shard]
    private let lastID = Atomic<UInt64>(0)
    private let epoch = Atomic<UInt32>(0)
    /// Each proxy's id, as `show stat` numbers them (`iid`).
    let proxyIDs: [String: Int]

    init(_ configuration: ProxyConfiguration) {
        shards = (0..<Self.shardCount).map { _ in Shard() }
        let first = configuration.global.statsSockets.isEmpty ? 1 : 2
        var ids: [String: Int] = [:]
        for (index, p) in configuration.proxies.enumerated() where ids[p.name] == nil { ids[p.name] = first + index }
        proxyIDs = ids
    }

    /// Whether `configuration` asks for a directory (a runtime API, or servers whose sessions end when they go
    /// down).
    static func wanted(by configuration: ProxyConfiguration) -> Bool {
        !configuration.global.statsSockets.isEmpty
            || configuration.proxies.contains { $0.servers.contains(where: \.shutdownSessionsOnDown) }
    }

    /// Lists a session that starts now.
    func add(
        frontend: ProxySection, client: SocketAddress?, frontendAddress: SocketAddress?, kill: @escaping Kill
    ) -> Listing {
        let id = lastID.add(1, ordering: .relaxed).newValue
        let listing = Listing(
            id: id, epoch: epoch.load(ordering: .relaxed), frontend: frontend, client: client,
            frontendAddress: frontendAddress, kill: kill)
        shards[Int(id % UInt64(Self.shardCount))].listings.withLock { $0[id] = listing }
        return listing
    }

    func remove(_ listing: Listing) {
        _ = shards[Int(listing.id % UInt64(Self.shardCount))].listings.withLock { $0.removeValue(forKey: listing.id) }
    }

    /// The sessions open now, oldest first; a new `show sess` count starts (later sessions have a higher epoch).
    func snapshot() -> [Listing] {
        _ = epoch.add(1, ordering: .relaxed)
        return shards.flatMap { shard in shard.listings.withLock { Array($0.values) } }.sorted { $0.id < $1.id }
    }

    func listing(_ id: UInt64) -> Listing? {
        shards[Int(id % UInt64(Self.shardCount))].listings.withLock { $0[id] }
    }

    var count: Int { shards.reduce(0) { sum, shard in sum + shard.listings.withLock { $0.count } } }

    /// Ends every session on `server` of the backend `backend` now; returns how many.
    @discardableResult
    func kill(backend: String, server: Int, _ cause: TerminationState.Cause) -> Int {
        let on = shards.flatMap { shard in
            shard.listings.withLock {
                // One read of where each stands: backend and server from the same moment.
                $0.values.filter { listing in
                    let place = listing.now
                    return place.backend?.name == backend && place.server == server
                }
            }
        }
        for listing in on { listing.kill(cause) }
        return on.count
    }
}
