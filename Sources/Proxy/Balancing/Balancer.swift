/// Chooses the server for each new session as HAProxy's `balance` algorithms do, over the servers of one backend:
///
/// - active servers first; backup servers only when no active server is usable (only the first usable backup,
///   in declaration order, unless `option allbackups`);
/// - a server is usable when it is up, not disabled, has a weight above 0 and, with `maxconn`, a free slot;
/// - `roundrobin` / `static-rr`: smooth weighted round-robin (each server gets its weight's share, spread
///   evenly rather than in bursts); `leastconn`: the lowest (connections + 1) / weight, round-robin among equals;
///   `source`: the client address hashed onto the servers' weights (the same client keeps its server while the
///   set of usable servers stays the same); `first`: the first server in declaration order with a free slot.
///
/// Shared by the sessions of a backend behind a lock (see `ProxyRuntime`).
public struct Balancer: Sendable {
    public struct Server: Hashable, Sendable {
        public var name: String
        public var weight: Int
        public var backup: Bool
        public var maxconn: Int?
        public var up = true
        public var disabled = false
        /// Sessions open on this server now.
        public var connections = 0

        public init(name: String, weight: Int, backup: Bool = false, maxconn: Int? = nil) {
            self.name = name
            self.weight = weight
            self.backup = backup
            self.maxconn = maxconn
        }

        var usable: Bool {
            up && !disabled && weight > 0 && (maxconn.map { connections < $0 } ?? true)
        }
    }

    public let algorithm: BalanceAlgorithm
    public let allBackups: Bool
    public private(set) var servers: [Server]
    /// Smooth round-robin state: each server's current credit.
    private var credit: [Int]
    /// Where leastconn's round-robin among equals continues.
    private var nextIndex = 0

    public init(algorithm: BalanceAlgorithm, servers: [Server], allBackups: Bool = false) {
        self.algorithm = algorithm
        self.servers = servers
        self.allBackups = allBackups
        credit = Array(repeating: 0, count: servers.count)
    }

    public init(_ section: ProxySection) {
        self.init(
            algorithm: section.settings.balance,
            servers: section.servers.map {
                var s = Server(name: $0.name, weight: $0.weight, backup: $0.backup, maxconn: $0.maxconn)
                s.disabled = $0.disabled
                return s
            }, allBackups: section.settings.option("allbackups"))
    }

    /// The servers a new session may go to now: the usable active ones, else the usable backups (the first one
    /// only, unless `allbackups`).
    public func candidates() -> [Int] {
        let active = servers.indices.filter { !servers[$0].backup && servers[$0].usable }
        if !active.isEmpty { return active }
        let backups = servers.indices.filter { servers[$0].backup && servers[$0].usable }
        return allBackups ? backups : Array(backups.prefix(1))
    }

    /// Picks a server for a session from `client` (its address bytes, for `source`), or nil when none is usable
    /// (HAProxy's 503 / `SC` with `<NOSRV>`). `excluding` skips a server (redispatch away from a failed one).
    public mutating func pick(client: [UInt8] = [], excluding: Int? = nil) -> Int? {
        var pool = candidates()
        if let excluding, pool.count > 1 { pool.removeAll { $0 == excluding } }
        guard !pool.isEmpty else { return nil }
        switch algorithm {
        case .roundrobin, .staticRoundRobin:
            var total = 0
            var best = pool[0]
            for i in pool {
                credit[i] += servers[i].weight
                total += servers[i].weight
                if credit[i] > credit[best] { best = i }
            }
            credit[best] -= total
            return best
        case .leastconn:
            // Lowest (connections + 1) / weight, compared without division; ties go round-robin.
            func load(_ i: Int) -> (Int, Int) { (servers[i].connections + 1, servers[i].weight) }
            func lighter(_ a: Int, _ b: Int) -> Bool {
                let (ca, wa) = load(a)
                let (cb, wb) = load(b)
                return ca * wb < cb * wa
            }
            let start = pool.firstIndex { $0 >= nextIndex } ?? 0
            let ordered = Array(pool[start...] + pool[..<start])
            var best = ordered[0]
            for i in ordered.dropFirst() where lighter(i, best) { best = i }
            nextIndex = best + 1
            return best
        case .source:
            let total = pool.reduce(0) { $0 + servers[$1].weight }
            var slot = Int(Balancer.hash(client) % UInt32(max(total, 1)))
            for i in pool {
                if slot < servers[i].weight { return i }
                slot -= servers[i].weight
            }
            return pool.last
        case .first:
            return pool.first
        }
    }

    /// A session starts on server `i` (after `pick`) or ends there.
    public mutating func opened(_ i: Int) { servers[i].connections += 1 }
    public mutating func closed(_ i: Int) { servers[i].connections = max(0, servers[i].connections - 1) }

    /// A health check's verdict, or an operator's.
    public mutating func setUp(_ i: Int, _ up: Bool) {
        servers[i].up = up
        if !up { credit[i] = 0 }
    }

    /// How many active and backup servers are up (for the DOWN/UP log lines).
    public var upCounts: (active: Int, backup: Int) {
        let up = servers.filter { $0.up && !$0.disabled }
        return (up.filter { !$0.backup }.count, up.filter(\.backup).count)
    }

    /// A 32-bit hash of the client address for `source`: a multiplicative hash of the bytes then Jenkins' integer
    /// avalanche, so that neighbouring addresses spread over the servers. Stable for a given address and server
    /// set, like HAProxy's map-based hashing, though not the same mapping as HAProxy's.
    static func hash(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0
        for b in bytes {
            h = h &* 31 &+ UInt32(b)
        }
        h = (h &+ 0x7ed5_5d16) &+ (h << 12)
        h = (h ^ 0xc761_c23c) ^ (h >> 19)
        h = (h &+ 0x1656_67b1) &+ (h << 5)
        h = (h &+ 0xd3a2_646c) ^ (h << 9)
        h = (h &+ 0xfd70_46c5) &+ (h << 3)
        h = (h ^ 0xb55a_4f09) ^ (h >> 16)
        return h
    }
}
