/// Chooses the server for each new session as HAProxy's `balance` algorithms do, over the servers of one backend:
///
/// - active servers first; backup servers only when no active server is usable (only the first usable backup,
///   in declaration order, unless `option allbackups`);
/// - a server is available when it is up, neither in maintenance nor drained (`ServerAdmin`) and has a weight
///   above 0; with `maxconn` it takes a new session only while it has a free slot, otherwise the session queues
///   (see `Choice`);
/// - `roundrobin` / `static-rr`: smooth weighted round-robin (each server gets its weight's share, spread
///   evenly rather than in bursts); `leastconn`: the lowest (connections + 1) / weight, round-robin among equals;
///   `source`, `uri`, `url_param`, `hdr`: the client's address or the request's part hashed onto the servers as
///   HAProxy hashes it (its map by weight, or its ring with `hash-type consistent`: see `HashBalancing`), so the
///   same key reaches the same server through Tollgate as through HAProxy; a request without the part goes round
///   robin; `first`: the first server in declaration order with a free slot;
///   `random(N)`: N servers drawn at random in proportion to their weights, the least loaded (connections / weight)
///   taken, the first drawn among equals (HAProxy's "power of two choices" with its default N = 2).
///
/// Shared by the sessions of a backend behind a lock (see `ProxyRuntime`).
public struct Balancer: Sendable {
    public struct Server: Hashable, Sendable {
        public var name: String
        public var weight: Int
        public var backup: Bool
        public var maxconn: Int?
        /// `minconn` (with `maxconn` above it: a dynamic limit, see `Balancer.limit`).
        public var minconn: Int?
        public var up = true
        /// `http-check disable-on-404` found it stopping (NOLB): no new sessions from the balancer.
        public var stopping = false
        /// Maintenance and drain, set by `disabled` in the configuration or by an operator.
        public var admin = ServerAdmin(disabled: false)
        /// The weight in the configuration (`set weight` percentages are of it; `show servers state` shows it).
        public var initialWeight: Int
        /// `slowstart` (milliseconds): after coming UP, the weight ramps up from a little to all of it over this
        /// long; 0: at once.
        public var slowStart: Int64 = 0
        /// While ramping up: when it began (milliseconds on a monotonic clock) and the share reached (percent).
        public var warmupStart: Int64?
        public var warmup: Int?

        /// The weight the balancer uses: `weight`, or its share while warming up (at least 1, as HAProxy).
        public var effectiveWeight: Int {
            guard let warmup, weight > 0 else { return weight }
            return max(1, (weight * warmup + 99) / 100)
        }
        /// Sessions open on this server now.
        public var connections = 0

        public init(name: String, weight: Int, backup: Bool = false, maxconn: Int? = nil) {
            self.name = name
            self.weight = weight
            initialWeight = weight
            self.backup = backup
            self.maxconn = maxconn
        }

        public var available: Bool { up && !stopping && !admin.maintenance && !admin.drain && weight > 0 }
        /// Below its `maxconn`.
        public var hasSlot: Bool { maxconn.map { $0 == 0 || connections < $0 } ?? true }
    }

    public let algorithm: BalanceAlgorithm
    /// `fullconn`, and the backend's load (its sessions now, queued ones included) that the `minconn` limits follow.
    public var fullconn: Int?
    public var backendLoad = 0
    /// `hash-type`, for `source`, `uri`, `url_param` and `hdr` (see `HashBalancing`).
    public let hashType: HashType
    /// The greatest common divisor of the configured weights: the map's weights are divided by it, as HAProxy's.
    private let weightDivisor: Int
    /// The map or ring last built, and the servers and weights it was built for (rebuilt when they change).
    private var map: ServerMap?
    private var ring: ConsistentRing?
    public let allBackups: Bool
    public private(set) var servers: [Server]
    /// Smooth round-robin state: each server's current credit.
    private var credit: [Int]
    /// Where leastconn's round-robin among equals continues.
    private var nextIndex = 0
    /// `random(N)`: the draws, and the generator (seeded, so a test can replay it).
    public let draws: Int
    private var generator: SplitMix

    public init(
        algorithm: BalanceAlgorithm, servers: [Server], allBackups: Bool = false, draws: Int = 2,
        hashType: HashType = HashType(), seed: UInt64 = UInt64.random(in: 0...UInt64.max)
    ) {
        self.algorithm = algorithm
        self.hashType = hashType
        var divisor = 0
        for s in servers where s.weight > 0 {
            var (a, b) = (divisor, s.weight)
            while b != 0 { (a, b) = (b, a % b) }
            divisor = a
        }
        weightDivisor = max(divisor, 1)
        self.servers = servers
        self.allBackups = allBackups
        self.draws = max(1, draws)
        generator = SplitMix(state: seed)
        credit = Array(repeating: 0, count: servers.count)
    }

    public init(_ section: ProxySection) {
        self.init(
            algorithm: section.settings.balance,
            servers: section.servers.map {
                // HAProxy's reading: a `minconn` above `maxconn` (or without it) is the limit; `maxconn` alone is both.
                var (maxconn, minconn) = ($0.maxconn ?? 0, $0.minconn ?? 0)
                if minconn > maxconn { maxconn = minconn } else if maxconn > 0 && minconn == 0 { minconn = maxconn }
                var s = Server(name: $0.name, weight: $0.weight, backup: $0.backup, maxconn: maxconn == 0 ? $0.maxconn : maxconn)
                s.minconn = minconn == 0 ? nil : minconn
                s.slowStart = $0.slowStart.map { $0.microseconds / 1000 } ?? 0
                s.admin = ServerAdmin(disabled: $0.disabled, noAddress: $0.noAddress)
                return s
            }, allBackups: section.settings.option(.allbackups), draws: section.settings.randomDraws,
            hashType: section.settings.hashType)
        fullconn = section.settings.fullconn
    }

    /// Server `i`'s limit now (nil: none): its `maxconn`, or while the backend's load is below `fullconn`, the
    /// share of it the load reaches, never below `minconn` (HAProxy's `srv_dynamic_maxconn`).
    public func limit(_ i: Int) -> Int? {
        let s = servers[i]
        guard let maxconn = s.maxconn, maxconn > 0 else { return nil }
        guard let minconn = s.minconn, minconn < maxconn, let fullconn, backendLoad < fullconn else { return maxconn }
        return max(minconn, backendLoad * maxconn / fullconn)
    }

    /// Whether server `i` is below its limit now.
    public func hasSlot(_ i: Int) -> Bool { limit(i).map { servers[i].connections < $0 } ?? true }

    /// The servers that serve the backend now: the available active ones, else the available backups (the first
    /// one only, unless `allbackups`), full or not.
    public func candidates() -> [Int] {
        let active = servers.indices.filter { !servers[$0].backup && servers[$0].available }
        if !active.isEmpty { return active }
        let backups = servers.indices.filter { servers[$0].backup && servers[$0].available }
        return allBackups ? backups : Array(backups.prefix(1))
    }

    /// Where a new session goes.
    public enum Choice: Equatable, Sendable {
        /// This server, which has a free slot.
        case server(Int)
        /// Every candidate is at its `maxconn`: wait in the backend's queue (nil), or in this server's queue when
        /// the algorithm chose the server itself (`source`).
        case queue(server: Int?)
        /// No server is available: HAProxy's 503 / `SC` with `<NOSRV>`.
        case unavailable
    }

    /// Picks a server with a free slot, or nil (see `choose` for why).
    public mutating func pick(client: [UInt8] = [], excluding: Int? = nil) -> Int? {
        if case .server(let i) = choose(client: client, excluding: excluding) { return i }
        return nil
    }

    /// Chooses for a session from `client` (its address bytes, for `source`), or with `key` (what `uri`,
    /// `url_param` or `hdr` hashes of its request; nil: the request has none, and the session goes round robin, as
    /// HAProxy sends it). `excluding` skips a server (redispatch away from a failed one) when there is another.
    public mutating func choose(client: [UInt8] = [], key: ArraySlice<UInt8>? = nil, excluding: Int? = nil) -> Choice {
        switch algorithm {
        case .roundrobin, .staticRoundRobin, .first: return chooseInPlace(excluding: excluding)
        case .leastconn, .source, .random, .uri, .urlParameter, .header: break
        }
        var all = candidates()
        if let excluding, all.count > 1 { all.removeAll { $0 == excluding } }
        guard !all.isEmpty else { return .unavailable }
        if algorithm.hashes {
            let hash = algorithm == .source ? hashType.hash(address: client) : key.map { hashType.hash($0) }
            if let hash {
                guard let i = hashed(hash, over: all) else { return .unavailable }
                return hasSlot(i) ? .server(i) : .queue(server: i)
            }
        }
        let pool = all.filter { hasSlot($0) }
        guard !pool.isEmpty else { return .queue(server: nil) }
        return .server(pick(from: pool))
    }

    /// `choose` for round-robin and `first` without building the lists (it runs for every request): the same
    /// candidates, in the same order, with the same ties.
    private mutating func chooseInPlace(excluding: Int?) -> Choice {
        let useBackups = !servers.contains { !$0.backup && $0.available }
        let onlyBackup = useBackups && !allBackups ? servers.firstIndex { $0.backup && $0.available } : nil
        func isCandidate(_ i: Int) -> Bool {
            guard servers[i].available, servers[i].backup == useBackups else { return false }
            return onlyBackup.map { $0 == i } ?? true
        }
        var count = 0
        for i in servers.indices where isCandidate(i) { count += 1 }
        guard count > 0 else { return .unavailable }
        let skipped = count > 1 ? excluding : nil
        var total = 0
        var best: Int?
        for i in servers.indices where isCandidate(i) && hasSlot(i) {
            if algorithm == .first && i != skipped { return .server(i) }
            // The server left out (a redispatch away from it) still takes its step, as HAProxy's weighted round
            // robin does: the next request goes back to it.
            credit[i] += servers[i].effectiveWeight
            total += servers[i].effectiveWeight
            if i != skipped, best.map({ credit[i] > credit[$0] }) ?? true { best = i }
        }
        if algorithm == .first { return .queue(server: nil) }
        guard let best else { return .queue(server: nil) }
        credit[best] -= total
        return .server(best)
    }

    /// Whether server `i` takes sessions from the backend's queue when it frees a slot: it is one of the servers
    /// the backend uses now.
    public func servesBackend(_ i: Int) -> Bool { candidates().contains(i) }

    /// The server `hash` lands on among `pool` (HAProxy's map, or its ring with `hash-type consistent`), built
    /// again only when the servers or their weights changed.
    private mutating func hashed(_ hash: UInt32, over pool: [Int]) -> Int? {
        if hashType.consistent {
            // The ring's weights are the servers' own (HAProxy's consistent hashing does not divide them).
            let members = pool.map { ConsistentRing.Member(server: $0, puid: $0 + 1, weight: servers[$0].effectiveWeight) }
            if ring?.weights != members { ring = ConsistentRing(members) }
            return ring?.server(for: hash)
        }
        let weights = pool.map {
            ServerMap.Weight(server: $0, weight: (servers[$0].effectiveWeight + weightDivisor - 1) / weightDivisor)
        }
        if map?.weights != weights { map = ServerMap(weights) }
        return map?.server(for: hash)
    }

    /// The algorithm's pick among `pool` (not empty; source is handled by `choose`).
    private mutating func pick(from pool: [Int]) -> Int {
        switch algorithm {
        case .roundrobin, .staticRoundRobin, .uri, .urlParameter, .header:
            // The hashing algorithms go round robin for a request without what they hash.
            var total = 0
            var best = pool[0]
            for i in pool {
                credit[i] += servers[i].effectiveWeight
                total += servers[i].effectiveWeight
                if credit[i] > credit[best] { best = i }
            }
            credit[best] -= total
            return best
        case .leastconn:
            // Lowest (connections + 1) / weight, compared without division; ties go round-robin.
            func load(_ i: Int) -> (Int, Int) { (servers[i].connections + 1, servers[i].effectiveWeight) }
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
        case .random:
            // Drawn in proportion to the weights; the least loaded of the draws, the first among equals.
            let total = pool.reduce(0) { $0 + servers[$1].effectiveWeight }
            var best: Int?
            for _ in 0..<draws {
                var slot = Int(generator.next() % UInt64(max(total, 1)))
                var drawn = pool[pool.count - 1]
                for i in pool {
                    if slot < servers[i].effectiveWeight {
                        drawn = i
                        break
                    }
                    slot -= servers[i].effectiveWeight
                }
                if let current = best {
                    let lighter =
                        servers[drawn].connections * servers[current].effectiveWeight
                        < servers[current].connections * servers[drawn].effectiveWeight
                    if lighter { best = drawn }
                } else {
                    best = drawn
                }
            }
            return best ?? pool[0]
        case .source, .first:
            return pool[0]
        }
    }

    /// A small seeded generator (SplitMix64): `random`'s draws, replayable in tests.
    struct SplitMix: Sendable {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A session starts on server `i` (after `pick`) or ends there.
    public mutating func opened(_ i: Int) { servers[i].connections += 1 }
    public mutating func closed(_ i: Int) { servers[i].connections = max(0, servers[i].connections - 1) }

    /// A health check's verdict, or an operator's. A server that comes UP at `now` (milliseconds, monotonic) with
    /// `slowstart` begins its warm-up.
    public mutating func setUp(_ i: Int, _ up: Bool, at now: Int64? = nil) {
        let wasUp = servers[i].up
        servers[i].up = up
        if !servers[i].available { credit[i] = 0 }
        if up && !wasUp, let now { startWarmup(i, at: now) }
        if !up {
            (servers[i].warmupStart, servers[i].warmup) = (nil, nil)
            servers[i].stopping = false
        }
    }

    /// The server starts taking traffic again (UP, or out of maintenance) with `slowstart`: its weight ramps up.
    public mutating func startWarmup(_ i: Int, at now: Int64) {
        guard servers[i].slowStart > 0 else { return }
        servers[i].warmupStart = now
        servers[i].warmup = 1
    }

    /// Whether a server is warming up (`updateWarmup` then has work).
    public var warming: Bool { servers.contains { $0.warmupStart != nil } }

    /// The warm-up shares at `now` (milliseconds, monotonic): elapsed over `slowstart`, in percent, until all of it.
    public mutating func updateWarmup(at now: Int64) {
        for i in servers.indices {
            guard let start = servers[i].warmupStart else { continue }
            let elapsed = max(0, now - start)
            if elapsed >= servers[i].slowStart {
                (servers[i].warmupStart, servers[i].warmup) = (nil, nil)
            } else {
                servers[i].warmup = max(1, Int(elapsed * 100 / servers[i].slowStart))
            }
        }
    }

    /// An operator's `set server … state` on server `i`: what HAProxy logs for it (see `ServerAdmin`).
    public mutating func setAdmin(_ i: Int, _ request: ServerAdmin.Request) -> [ServerAdmin.AdminEvent] {
        let serving = servers[i].available
        let events = servers[i].admin.apply(request, up: servers[i].up, serving: serving)
        if !servers[i].available { credit[i] = 0 }
        return events
    }

    /// Server `i` is stopping (NOLB, `http-check disable-on-404`) or no longer.
    public mutating func setStopping(_ i: Int, _ stopping: Bool) {
        servers[i].stopping = stopping
        if !servers[i].available { credit[i] = 0 }
    }

    /// Server `i` takes its address from an SRV record (HAProxy's HMAINT flag, only reported).
    public mutating func markFromSRVRecord(_ i: Int) { servers[i].admin.fromSRVRecord = true }

    /// The resolvers' verdict on server `i` (see `ServerAdmin.setResolution`).
    public mutating func setResolution(_ i: Int, lost: Bool) -> [ServerAdmin.ResolutionEvent] {
        let events = servers[i].admin.setResolution(lost: lost, up: servers[i].up, serving: servers[i].available)
        if !servers[i].available { credit[i] = 0 }
        return events
    }

    /// An operator's `set weight` (0…256); 0 takes the server out of the balancing without marking it down.
    public mutating func setWeight(_ i: Int, _ weight: Int) {
        servers[i].weight = max(0, min(256, weight))
        if !servers[i].available { credit[i] = 0 }
    }

    /// A reload's saved state for server `i`: its administrative flags, and the weight an operator had set.
    public mutating func restore(_ i: Int, admin: ServerAdmin, weight: Int?) {
        servers[i].admin = admin
        if let weight { servers[i].weight = max(0, min(256, weight)) }
        if !servers[i].available { credit[i] = 0 }
    }

    /// An operator's `set maxconn server` (0: no limit).
    public mutating func setMaxconn(_ i: Int, _ maxconn: Int) { servers[i].maxconn = maxconn }

    /// How many active and backup servers take traffic (for the DOWN/UP and maintenance log lines): up, neither in
    /// maintenance nor drained, with a weight.
    public var upCounts: (active: Int, backup: Int) {
        let usable = servers.filter(\.available)
        return (usable.filter { !$0.backup }.count, usable.filter(\.backup).count)
    }

}
