import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension ProxyRuntime {
    /// A backend as the sessions share it: its servers' addresses, its balancer and its queues, behind one lock.
    final class Backend: Sendable {
        /// Called (on any thread) when a queued session leaves its queue for a server (nil: choose again, its
        /// server went down), with its positions in the server's and the backend's queue.
        typealias Resume = @Sendable (_ server: Int?, _ serverPosition: Int, _ backendPosition: Int) -> Void
        typealias Ticket = PendingQueues<Resume>.Ticket
        typealias Departure = PendingQueues<Resume>.Departure

        /// The servers' state, in one place behind one lock: whether each is up and its share (the balancer), the
        /// sessions waiting for one (the queues), each one's health counter (`HealthState`) and what the stats page
        /// shows of its checks (`ServerHealth`). The health checker, the sessions and the stats page all go
        /// through it.
        struct Shared: Sendable {
            var balancer: Balancer
            var queues: PendingQueues<Resume>
            var checks: [HealthState]
            /// The check details; `up` there is the balancer's, copied in when read.
            var health: [ServerHealth]
            /// Whether each server's health checks run (`disable health` stops them; maintenance pauses them).
            var checksEnabled: [Bool]
        }

        enum Assignment {
            /// A slot on this server is the session's.
            case server(Int)
            case queued(Ticket)
            case unavailable
        }

        let name: String
        let servers: [ServerLine]
        /// Each server's address now: the one the file gave, or what its `resolvers` found since (nil: none, the
        /// server is in maintenance for it).
        private let addresses: Mutex<[SocketAddress?]>
        /// Each server's TLS (`ssl`, `check-ssl`), nil for a server spoken to in clear.
        let serverTLS: [ServerTLSClient?]
        let shared: Mutex<Shared>
        let retries: Int
        /// `retry-on`.
        let retryOn: RetryOn
        let redispatch: Bool
        let connectTimeout: TimeAmount
        let serverTimeout: TimeAmount?
        /// `timeout queue`, else `timeout connect` (as HAProxy).
        let queueTimeout: TimeAmount
        let tcpKeepAlive: Bool
        /// `beconn` (queued sessions included), and each server's `srv_conn`.
        let sessions = Tally()
        let serverSessions: [Tally]
        /// The sessions open now, when something may look at them or end them from outside (`on-marked-down
        /// shutdown-sessions`, the runtime API); nil otherwise.
        let directory: SessionDirectory?
        /// HTTP mode: idle server connections, and `option forwardfor`.
        let pool = HTTPServerPool()
        let forwardFor: ForwardFor?
        let section: ProxySection
        /// HTTP mode: the section's `http-response` header rules and `errorfile` responses.
        let responseEdits: ResponseHeaderEdits
        let errorFiles: [Int: HTTPErrorFile]
        /// Its `deny` and `return` rules' `errorfile(s)` files, read once.
        let replyFiles: [[UInt8]: HTTPErrorFile]

        init(_ section: ProxySection, directory: SessionDirectory? = nil, serverVerifyRequired: Bool = true) throws {
            self.section = section
            serverTLS = try section.servers.map { try ServerTLSClient($0, globalVerifyRequired: serverVerifyRequired) }
            self.directory = directory
            name = section.name
            forwardFor = section.settings.forwardFor
            responseEdits = ResponseHeaderEdits(section.rules.responseRules)
            errorFiles = HTTPErrorFile.load(section.settings.errorFiles)
            replyFiles = HTTPErrorFile.replyFiles(section.rules)
            serverSessions = section.servers.map { _ in Tally() }
            servers = section.servers
            addresses = Mutex(
                section.servers.map { s in
                    // The address `init-addr` found when the file was read (none: the server is in maintenance).
                    if let local = s.localSocket { return try? SocketAddress(unixDomainSocketPath: local.sunPath) }
                    return s.noAddress
                        ? nil
                        : s.port.flatMap { try? SocketAddress.makeAddressResolvingHost(s.resolvedIP ?? s.host, port: $0) }
                })
            srvTargets = Mutex(section.servers.map { _ in nil })
            fqdns = Mutex(section.servers.map { _ in nil })
            let now = time(nil)
            shared = Mutex(
                Shared(
                    balancer: Balancer(section), queues: PendingQueues(servers: section.servers.count),
                    checks: section.servers.map(HealthState.init),
                    health: section.servers.map { ServerHealth($0, now: now) },
                    checksEnabled: section.servers.map(\.check)))
            retries = section.settings.retries
            retryOn = section.settings.retryOn
            redispatch = section.settings.option(.redispatch)
            connectTimeout = ProxyRuntime.amount(section.settings.timeouts.connect) ?? .seconds(5)
            // `timeout tunnel` replaces the client and server timeouts of an established TCP session.
            serverTimeout = ProxyRuntime.amount(section.settings.timeouts.tunnel ?? section.settings.timeouts.server)
            queueTimeout =
                ProxyRuntime.amount(section.settings.timeouts.queue ?? section.settings.timeouts.connect)
                ?? .seconds(5)
            tcpKeepAlive = section.settings.option(.tcpka) || section.settings.option(.srvtcpka)
        }

        /// A slot on a server for a new session, or a place in a queue when every server is at its maxconn.
        /// `resume` makes what the queue calls when a slot comes; it is called only for a queued session (no closure
        /// is made for the common case).
        func assign(
            client: SocketAddress?, request: HTTPRequestHead? = nil, excluding: Int?, resume: () -> Resume
        ) -> Assignment {
            let key = hashKey(request)
            let load = sessions.open
            return shared.withLock { s in
                s.balancer.backendLoad = load
                // A server warming up (`slowstart`) gets its share of the weight as of now.
                if s.balancer.warming { s.balancer.updateWarmup(at: Backend.milliseconds()) }
                // Only `balance source` needs the client's address.
                let address = s.balancer.algorithm == .source ? Backend.addressBytes(client) : []
                switch s.balancer.choose(client: address, key: key, excluding: excluding) {
                case .server(let i):
                    s.balancer.opened(i)
                    return .server(i)
                case .queue(let server):
                    // `maxqueue`: a server whose own queue is full sends the session elsewhere (another server
                    // with a slot, else the backend's queue), as HAProxy.
                    if let server, let limit = servers[server].maxQueue, limit > 0, s.queues.count(server: server) >= limit {
                        if case .server(let other) = s.balancer.choose(client: address, key: key, excluding: server) {
                            s.balancer.opened(other)
                            return .server(other)
                        }
                        return .queued(s.queues.enqueue(resume(), server: nil))
                    }
                    return .queued(s.queues.enqueue(resume(), server: server))
                case .unavailable:
                    return .unavailable
                }
            }
        }

        /// A slot on server `i`, which a persistence cookie names, or a place in its own queue when it is at its
        /// maxconn; nil when it may not take the session (down or in maintenance: a drained server keeps the clients
        /// that persist on it, as HAProxy), and the balancer chooses.
        func assign(direct i: Int, forced: Bool = false, resume: () -> Resume) -> Assignment? {
            shared.withLock { s in
                guard s.balancer.servers.indices.contains(i), forced || Backend.persists(s.balancer.servers[i]) else {
                    return nil
                }
                guard s.balancer.hasSlot(i) else { return .queued(s.queues.enqueue(resume(), server: i)) }
                s.balancer.opened(i)
                return .server(i)
            }
        }

        /// A slot on server `i` for `option prefer-last-server`, or a place in its queue when it is at its maxconn
        /// (HAProxy's default `max-keep-alive-queue`); nil when it is not usable now (down, drained, in maintenance,
        /// no weight), and the balancer chooses.
        func assign(preferring i: Int, resume: () -> Resume) -> Assignment? {
            shared.withLock { s in
                guard s.balancer.servers.indices.contains(i), s.balancer.servers[i].available else { return nil }
                guard s.balancer.hasSlot(i) else { return .queued(s.queues.enqueue(resume(), server: i)) }
                s.balancer.opened(i)
                return .server(i)
            }
        }

        /// The servers as cookie persistence sees them now (their cookie values, and whether each may take a
        /// session).
        func persistenceServers() -> [PersistenceCookies.Server] {
            shared.withLock { s in
                servers.indices.map { i in
                    PersistenceCookies.Server(cookie: servers[i].cookie, usable: Backend.persists(s.balancer.servers[i]))
                }
            }
        }

        /// How many servers serve the backend now (HAProxy's `nbsrv`): its available active servers, else the
        /// backups that would take over.
        func usableServers() -> Int { shared.withLock { $0.balancer.candidates().count } }

        /// Whether a server takes the sessions a cookie sends it: not stopped (HAProxy's test), drained or not.
        static func persists(_ server: Balancer.Server) -> Bool { server.up && !server.admin.maintenance }

        /// A monotonic clock in milliseconds, for `slowstart`.
        static func milliseconds() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

        /// The client's address as `balance source` hashes it.
        /// The client's address in network order (4 or 16 bytes), as `balance source` hashes it.
        static func addressBytes(_ address: SocketAddress?) -> [UInt8] {
            switch address {
            case .v4(let a)?: return withUnsafeBytes(of: a.address.sin_addr) { Array($0) }
            case .v6(let a)?: return withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            default: return []
            }
        }

        /// What `balance uri|url_param|hdr` hashes of `request` (nil: nothing, or not one of them).
        func hashKey(_ request: HTTPRequestHead?) -> ArraySlice<UInt8>? {
            guard let input = section.settings.hashInput, let request else { return nil }
            var header: Substring?
            if case .header(let name, _) = input, let value = request.headers[name].first {
                // HAProxy's first value: up to the first comma, without the spaces around it.
                header = value.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).first
                    .map { $0.drop { $0 == " " || $0 == "\t" } }
                    .map { $0.reversed().drop { $0 == " " || $0 == "\t" }.reversed() }
                    .map { Substring(String($0)) }
            }
            return input.key(uri: Substring(request.uri), header: header)
        }

        /// A session gives up its slot on server `i`: the oldest session waiting for it takes the slot.
        func release(_ i: Int) {
            let load = sessions.open
            let next = shared.withLock { s -> Departure? in
                s.balancer.backendLoad = load
                s.balancer.closed(i)
                return Backend.handOut(i, &s)
            }
            if let next { next.element(i, next.serverPosition, next.backendPosition) }
        }

        /// A queued session leaves its queue without a slot (timeout, abort); nil when a slot reached it first.
        func withdraw(_ ticket: Ticket) -> Departure? {
            shared.withLock { $0.queues.remove(ticket) }
        }

        /// The next waiting session for server `i`, which takes a slot there, if the server can serve it now.
        private static func handOut(_ i: Int, _ s: inout Shared) -> Departure? {
            guard s.queues.count(server: i) > 0 || s.queues.backendCount > 0 else { return nil }
            let server = s.balancer.servers[i]
            guard server.available, s.balancer.hasSlot(i),
                let next = s.queues.next(for: i, backendToo: s.balancer.servesBackend(i))
            else { return nil }
            s.balancer.opened(i)
            return next
        }

        /// The figures of HAProxy's DOWN/UP lines after a change of state.
        struct StateChange {
            var up: Bool
            /// Into NOLB (`http-check disable-on-404`), and whether the server was in it before.
            var stopping = false
            var wasStopping = false
            var active: Int
            var backup: Int
            var sessions: Int
            var requeued: Int
            var queued: Int
        }

        /// Server `i`'s address now (nil: it has none).
        func address(_ i: Int) -> SocketAddress? { addresses.withLock { $0[i] } }

        /// The target and port an SRV record gave each server (nil: none, or not a server of an SRV record).
        private let srvTargets: Mutex<[(target: String, port: Int)?]>

        func srvTarget(_ i: Int) -> (target: String, port: Int)? { srvTargets.withLock { $0[i] } }

        /// The name each server resolves when the runtime API changed it (`set server … fqdn`; nil: its line's).
        private let fqdns: Mutex<[String?]>

        /// The name server `i` resolves now.
        func fqdn(_ i: Int) -> String { fqdns.withLock { $0[i] } ?? servers[i].host }

        func setFQDN(_ i: Int, _ name: String) { fqdns.withLock { $0[i] = name } }

        /// Server `i` takes an SRV record's target, port and weight (HAProxy's HMAINT flag from then on), or leaves
        /// it (nil).
        func setSRVTarget(_ i: Int, _ target: (target: String, port: Int, weight: Int?)?) {
            srvTargets.withLock { $0[i] = target.map { ($0.target, $0.port) } }
            if target != nil { shared.withLock { $0.balancer.markFromSRVRecord(i) } }
            if let weight = target?.weight { adjust(i, weight: weight) }
        }

        /// Gives server `i` the address its resolvers found (nil: none); its idle connections to the old one go.
        func setAddress(_ i: Int, _ address: SocketAddress?) {
            addresses.withLock { $0[i] = address }
            pool.closeIdle(server: i)
        }

        /// What a change of a server's administrative state did, with the figures HAProxy's lines give.
        struct AdminChange<Event> {
            var events: [Event]
            var counts: StateChange
            /// No server of the backend takes traffic any more (HAProxy's "has no server available!").
            var noneLeft: Bool
        }

        /// An operator's `set server … state` on server `i`, under the one lock: the balancer takes the server in or
        /// out; leaving it sends the sessions queued for it to choose again ("requeued"), joining it lets it take
        /// sessions from the backend's queue; leaving maintenance restarts a checked server's health at `rise` (UP,
        /// one failed check from DOWN), as HAProxy does.
        func setAdmin(_ i: Int, _ request: ServerAdmin.Request, now: Int) -> AdminChange<ServerAdmin.AdminEvent> {
            changeAdmin(i, now: now) { $0.setAdmin(i, request) }
        }

        /// The resolvers' verdict on server `i`: it lost its address (`lost`), or has one again (see
        /// `ServerAdmin.setResolution`); the balancer and the queues follow as for an operator's change.
        func setResolution(_ i: Int, lost: Bool, now: Int) -> AdminChange<ServerAdmin.ResolutionEvent> {
            changeAdmin(i, now: now) { $0.setResolution(i, lost: lost) }
        }

        private func changeAdmin<Event>(_ i: Int, now: Int, _ apply: (inout Balancer) -> [Event]) -> AdminChange<Event> {
            var moved: [(Departure, Int?)] = []
            let change = shared.withLock { s -> AdminChange<Event> in
                let wasAvailable = s.balancer.servers[i].available
                let wasMaintenance = s.balancer.servers[i].admin.maintenance
                let events = apply(&s.balancer)
                if s.balancer.servers[i].admin.maintenance { s.health[i].uncheckedHealth = 0 }
                if wasMaintenance && !s.balancer.servers[i].admin.maintenance && servers[i].check {
                    s.checks[i] = HealthState(servers[i])
                    s.balancer.setUp(i, true)
                    let progress = s.checks[i].progress
                    s.health[i].health = s.checks[i].health
                    s.health[i].transition =
                        s.checks[i].health == s.checks[i].rise + s.checks[i].fall - 1
                        ? nil : "UP \(progress.value)/\(progress.threshold)"
                    if let since = s.health[i].downSince { s.health[i].downtime += now - since }
                    s.health[i].downSince = nil
                }
                // Out of maintenance, a server with `slowstart` warms up.
                if wasMaintenance && !s.balancer.servers[i].admin.maintenance {
                    s.balancer.startWarmup(i, at: Backend.milliseconds())
                }
                let available = s.balancer.servers[i].available
                if available != wasAvailable { s.health[i].lastChange = now }
                if available && !wasAvailable {
                    while let next = Backend.handOut(i, &s) { moved.append((next, i)) }
                } else if !available && wasAvailable {
                    moved = s.queues.takeAll(server: i).map { ($0, nil) }
                }
                let upCounts = s.balancer.upCounts
                let counts = StateChange(
                    up: available, active: upCounts.active, backup: upCounts.backup,
                    sessions: s.balancer.servers[i].connections, requeued: moved.count,
                    queued: s.queues.count(server: i))
                return AdminChange(
                    events: events, counts: counts, noneLeft: wasAvailable && upCounts.active + upCounts.backup == 0)
            }
            for (departure, server) in moved {
                departure.element(server, departure.serverPosition, departure.backendPosition)
            }
            return change
        }

        /// `set server … health up|stopping|down` on server `i`: its health forced (a checked server's counter, an
        /// unchecked one's shown health), the balancer and the queues following; the change when its state changed.
        func forceHealth(_ i: Int, up: Bool, stopping: Bool, now: Int) -> StateChange? {
            var moved: [(Departure, Int?)] = []
            let change = shared.withLock { s -> StateChange? in
                let (wasUp, wasStopping) = (s.balancer.servers[i].up, s.balancer.servers[i].stopping)
                s.checks[i].force(up: up, stopping: stopping)
                let top = servers[i].rise + servers[i].fall - 1
                var h = s.health[i]
                h.health = s.checks[i].health
                if !servers[i].check { h.uncheckedHealth = up ? top : 0 }
                h.transition = up && stopping ? "NOLB" : nil
                guard up != wasUp || (up && stopping != wasStopping) else {
                    s.health[i] = h
                    return nil
                }
                h.lastChange = now
                if up && !wasUp {
                    if let since = h.downSince { h.downtime += now - since }
                    h.downSince = nil
                } else if !up {
                    h.downTransitions += 1
                    h.downSince = now
                }
                s.health[i] = h
                s.balancer.setUp(i, up, at: Backend.milliseconds())
                s.balancer.setStopping(i, up && stopping)
                if s.balancer.servers[i].available {
                    while let next = Backend.handOut(i, &s) { moved.append((next, i)) }
                } else {
                    moved = s.queues.takeAll(server: i).map { ($0, nil) }
                }
                let upCounts = s.balancer.upCounts
                return StateChange(
                    up: up, stopping: up && stopping, wasStopping: wasStopping, active: upCounts.active,
                    backup: upCounts.backup, sessions: s.balancer.servers[i].connections, requeued: moved.count,
                    queued: s.queues.count(server: i))
            }
            for (departure, server) in moved {
                departure.element(server, departure.serverPosition, departure.backendPosition)
            }
            return change
        }

        /// An operator's `set weight` or `set maxconn server` on server `i`: a server coming back into the
        /// balancing, or given more slots, takes sessions waiting in the queues.
        func adjust(_ i: Int, weight: Int? = nil, maxconn: Int? = nil) {
            var moved: [Departure] = []
            shared.withLock { s in
                if let weight { s.balancer.setWeight(i, weight) }
                if let maxconn { s.balancer.setMaxconn(i, maxconn) }
                while let next = Backend.handOut(i, &s) { moved.append(next) }
            }
            for departure in moved { departure.element(i, departure.serverPosition, departure.backendPosition) }
        }

        /// One health check's result on server `i`, recorded under the one lock: the health counter moves, the check
        /// details change, and when the server changes state the balancer takes it in or out (a server going down
        /// sends the sessions queued for it to choose again, "requeued"; one coming up takes sessions from the
        /// backend's queue while it has slots). Returns the state change if any, and when to check next.
        func recordCheck(
            _ i: Int, passed: Bool, conditional: Bool = false, status: String, code: Int?, milliseconds: Int, now: Int
        )
            -> (
                change: StateChange?, next: ConfigTime, before: Int, after: HealthState, weight: Int,
                previousStatus: String
            )
        {
            var moved: [(Departure, Int?)] = []
            var before = 0
            var after = HealthState(servers[i])
            var weight = 0
            var previousStatus = ""
            let result = shared.withLock { s -> (StateChange?, ConfigTime) in
                before = s.checks[i].health
                previousStatus = s.health[i].checkStatus
                defer {
                    after = s.checks[i]
                    weight = s.balancer.servers[i].weight
                }
                // HAProxy's `chkfail` counts the checks that failed while the server was UP.
                let wasUp = s.checks[i].isUp
                let wasStopping = s.checks[i].stopping
                let transition = s.checks[i].record(success: passed, conditional: conditional)
                let state = s.checks[i]
                var h = s.health[i]
                h.checkStatus = status
                h.checkInProgress = false
                h.checkCode = code
                h.checkDuration = milliseconds
                if !passed && wasUp { h.failedChecks += 1 }
                h.health = state.health
                let progress = state.progress
                let steady = state.isUp ? state.health == state.rise + state.fall - 1 : state.health == 0
                let word = state.isUp ? (state.stopping ? "NOLB" : "UP") : "DOWN"
                h.transition = steady ? (state.stopping ? "NOLB" : nil) : "\(word) \(progress.value)/\(progress.threshold)"
                guard transition != .none else {
                    s.health[i] = h
                    return (nil, state.nextInterval)
                }
                if transition == .wentStopping || (transition == .wentUp && wasStopping) {
                    // NOLB and back: the server stays UP; the balancer leaves it out, or takes it in again.
                    h.lastChange = now
                    s.health[i] = h
                    s.balancer.setStopping(i, transition == .wentStopping)
                    if transition == .wentStopping {
                        moved = s.queues.takeAll(server: i).map { ($0, nil) }
                    } else {
                        while let next = Backend.handOut(i, &s) { moved.append((next, i)) }
                    }
                    let upCounts = s.balancer.upCounts
                    let change = StateChange(
                        up: true, stopping: transition == .wentStopping, wasStopping: wasStopping,
                        active: upCounts.active, backup: upCounts.backup, sessions: s.balancer.servers[i].connections,
                        requeued: moved.count, queued: s.queues.count(server: i))
                    return (change, state.nextInterval)
                }
                let up = transition == .wentUp
                h.lastChange = now
                if up {
                    if let since = h.downSince { h.downtime += now - since }
                    h.downSince = nil
                } else {
                    h.downTransitions += 1
                    h.downSince = now
                }
                s.health[i] = h
                s.balancer.setUp(i, up, at: Backend.milliseconds())
                if up {
                    while let next = Backend.handOut(i, &s) { moved.append((next, i)) }
                } else {
                    moved = s.queues.takeAll(server: i).map { ($0, nil) }
                }
                let upCounts = s.balancer.upCounts
                let change = StateChange(
                    up: up, wasStopping: wasStopping, active: upCounts.active, backup: upCounts.backup,
                    sessions: s.balancer.servers[i].connections, requeued: moved.count, queued: s.queues.count(server: i))
                return (change, state.nextInterval)
            }
            for (departure, server) in moved {
                departure.element(server, departure.serverPosition, departure.backendPosition)
            }
            return (result.0, result.1, before, after, weight, previousStatus)
        }
    }
}
