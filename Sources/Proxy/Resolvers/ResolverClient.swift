import HAProxyLog
import LogCore
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One `resolvers` section at work, as HAProxy 2.6's: the names its servers resolve, each asked of every
/// nameserver at start and then `timeout resolve` after the previous resolution ended; a question unanswered is
/// sent again every `timeout retry`, `resolve_retries` times, the other family asked at once when every nameserver
/// answered without an address. A valid answer hands the addresses to the servers (`ResolvedAddresses`); an error
/// takes a server's address away only once its `hold` for that status has passed since the last valid answer.
/// Everything runs on one event loop.
final class ResolverClient: @unchecked Sendable {
    /// A server that resolves a name.
    struct Requester {
        let backend: ProxyRuntime.Backend
        let index: Int
        let log: LogEmitter?
        let wish: ResolvedAddresses.Wish
        /// The port its address takes (the line's, or its SRV record's).
        var port: Int
        /// The name it resolves (the line's, or its SRV record's target), as logs show it.
        var fqdn: String
        var line: ServerLine { backend.servers[index] }

        init(backend: ProxyRuntime.Backend, index: Int, log: LogEmitter?, wish: ResolvedAddresses.Wish) {
            self.backend = backend
            self.index = index
            self.log = log
            self.wish = wish
            port = backend.servers[index].port ?? 0
            fqdn = backend.servers[index].host
        }

        func same(_ other: Requester) -> Bool { other.backend === backend && other.index == index }
    }

    /// An SRV record's targets and the servers of its template (`server-template … _service._proto.name`).
    struct SRVState {
        struct Item {
            var target: String
            var port: Int
            var weight: Int
            var key: UInt32
            var lastSeen: Int64
            /// The template server that has it (an index into `slots`).
            var slot: Int?
        }
        var slots: [Requester] = []
        /// The slots without a target, in the order they take one (a slot set free goes last, as in HAProxy).
        var free: [Int] = []
        /// In HAProxy's tree order: XXH32 of the target's wire form, seeded with 33.
        var items: [Item] = []
    }

    /// The statuses a resolution ends with.
    enum Status {
        case valid, nx, refused, other, timeout

        /// The cause HAProxy gives when a server loses its address for it.
        var cause: String {
            switch self {
            case .nx: "DNS NX status"
            case .refused: "DNS refused status"
            case .timeout: "DNS timeout status"
            case .other, .valid: "unspecified DNS error"
            }
        }

        var hold: ResolversSection.HoldStatus {
            switch self {
            case .nx: .nx
            case .refused: .refused
            case .timeout: .timeout
            case .other: .other
            case .valid: .valid
            }
        }
    }

    /// One name asked for one family first, with the servers that share its answers (used on the client's loop
    /// only).
    final class Resolution: @unchecked Sendable {
        let name: String
        let preferred: DNSMessage.RecordType
        var requesters: [Requester] = []
        var addresses = ResolvedAddresses()
        /// When the last valid answer came (at start: when the resolution was made), monotonic milliseconds.
        var lastValid: Int64
        var id: UInt16 = 0
        var type: DNSMessage.RecordType
        var fallenBack = false
        var triesLeft = 0
        var errorAnswers = 0
        var lastError: Status?
        var pending = false
        var retry: Scheduled<Void>?
        /// An SRV record's resolution (nil: an address's).
        var srv: SRVState?

        init(name: String, preferred: DNSMessage.RecordType, now: Int64) {
            self.name = name
            self.preferred = preferred
            type = preferred
            lastValid = now
        }
    }

    /// `show resolvers`'s counters of one nameserver.
    struct Counters: Sendable {
        var sent = 0, sendError = 0, valid = 0, update = 0, cname = 0, cnameError = 0, anyError = 0, nx = 0
        var timeout = 0, refused = 0, other = 0, invalid = 0, tooBig = 0, truncated = 0, outdated = 0
    }

    let section: ResolversSection
    let loop: any EventLoop
    private var resolutions: [Resolution] = []
    private var channels: [(any Channel)?] = []
    private var destinations: [SocketAddress?] = []
    private var stopped = false
    /// While an SRV answer is handed out: the lines of the servers that lost their targets, sent at its end.
    private var held: [() -> Void]?
    /// The sockets opened so far (or that failed to), at start.
    private var opened = 0
    private var random = SystemRandomNumberGenerator()
    /// Read by the runtime API from any thread.
    let counters: Mutex<[Counters]>

    init(section: ResolversSection, loop: any EventLoop) {
        self.section = section
        self.loop = loop
        counters = Mutex(section.nameservers.map { _ in Counters() })
        destinations = section.nameservers.map { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
    }

    /// Adds a server resolving `name` (before `start`): servers of the same name and preferred family share one
    /// resolution, as in HAProxy.
    func add(_ requester: Requester, name: String) {
        let dn = name.lowercased().hasSuffix(".") ? String(name.lowercased().dropLast()) : name.lowercased()
        if requester.line.srvRecord != nil {
            // One SRV resolution per record and backend: its servers are the template's slots.
            let existing = resolutions.first {
                $0.name == dn && $0.srv?.slots.first.map { $0.backend === requester.backend } == true
            }
            let r = existing ?? Resolution(name: dn, preferred: .srv, now: Self.now())
            if existing == nil {
                r.srv = SRVState()
                resolutions.append(r)
            }
            let slot = r.srv?.slots.count ?? 0
            r.srv?.free.append(slot)
            r.srv?.slots.append(requester)
            return
        }
        let preferred: DNSMessage.RecordType = requester.wish.preferIPv4 ? .a : .aaaa
        if let existing = resolutions.first(where: { $0.name == dn && $0.preferred == preferred }) {
            existing.requesters.append(requester)
            return
        }
        let resolution = Resolution(name: dn, preferred: preferred, now: Self.now())
        resolution.requesters.append(requester)
        resolutions.append(resolution)
    }

    var isEmpty: Bool { resolutions.isEmpty }

    /// Server `index` of `backend` resolves `name` from now on (`set server … fqdn`): it leaves its resolution
    /// and joins (or starts at once) the one of the new name, as HAProxy's `srv_set_fqdn`.
    func rename(_ backend: ProxyRuntime.Backend, _ index: Int, to name: String) {
        loop.execute { [self] in
            guard let from = resolutions.first(where: { r in r.requesters.contains { $0.backend === backend && $0.index == index } }),
                var requester = from.requesters.first(where: { $0.backend === backend && $0.index == index })
            else { return }
            from.requesters.removeAll { $0.same(requester) }
            requester.fqdn = name
            let before = resolutions.count
            add(requester, name: name)
            if resolutions.count > before, let new = resolutions.last { begin(new) }
        }
    }

    /// Opens a socket per nameserver and sends the first questions.
    func start() {
        loop.execute { [self] in
            channels = destinations.map { _ in nil }
            opened = 0
            for (n, destination) in destinations.enumerated() {
                guard let destination else { continue }
                let bootstrap = DatagramBootstrap(group: loop).channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Reader(client: self, nameserver: n))
                    }
                }
                let any = destination.protocol == .inet6 ? "::" : "0.0.0.0"
                bootstrap.bind(host: any, port: 0).whenComplete { [self] result in
                    opened += 1
                    if case .success(let channel) = result {
                        if stopped { channel.close(promise: nil) } else { channels[n] = channel }
                    }
                    if opened == destinations.count { beginAll() }
                }
            }
            if destinations.allSatisfy({ $0 == nil }) { beginAll() }
        }
    }

    func stop() {
        loop.execute { [self] in
            stopped = true
            for r in resolutions { r.retry?.cancel() }
            for channel in channels { channel?.close(promise: nil) }
        }
    }

    private func beginAll() {
        for r in resolutions { begin(r) }
    }

    static func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    // MARK: questions

    /// A new resolution of `r`: a new id, the preferred family, all its tries.
    private func begin(_ r: Resolution) {
        guard !stopped else { return }
        // A target's resolution whose SRV entry went is not asked again.
        guard r.srv != nil || !r.requesters.isEmpty else {
            resolutions.removeAll { $0 === r }
            return
        }
        var id = UInt16.random(in: 1...UInt16.max, using: &random)
        while resolutions.contains(where: { $0 !== r && $0.pending && $0.id == id }) {
            id = UInt16.random(in: 1...UInt16.max, using: &random)
        }
        r.id = id
        r.type = r.preferred
        r.fallenBack = false
        r.triesLeft = section.retries
        r.lastError = nil
        r.pending = true
        send(r)
        armRetry(r)
    }

    private func send(_ r: Resolution) {
        r.errorAnswers = 0
        if r.type == r.preferred { r.triesLeft -= 1 }
        guard let query = DNSMessage.query(id: r.id, name: r.name, type: r.type, payloadSize: section.payloadSize) else {
            return
        }
        for (n, channel) in channels.enumerated() {
            guard let channel, let destination = destinations[n] else {
                counters.withLock { $0[n].sendError += 1 }
                continue
            }
            counters.withLock { $0[n].sent += 1 }
            let buffer = channel.allocator.buffer(bytes: query)
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: destination, data: buffer)).whenFailure { [self] _ in
                counters.withLock { $0[n].sendError += 1 }
            }
        }
    }

    private func armRetry(_ r: Resolution) {
        r.retry?.cancel()
        r.retry = loop.scheduleTask(in: .milliseconds(section.retryInterval.milliseconds)) { [self] in
            guard r.pending, !stopped else { return }
            if r.triesLeft <= 0 {
                finish(r, r.lastError ?? .timeout, nameserver: nil, response: nil)
            } else {
                r.type = r.preferred
                r.fallenBack = false
                send(r)
                armRetry(r)
            }
        }
    }

    // MARK: answers

    /// A datagram from nameserver `n`.
    fileprivate func received(_ bytes: [UInt8], from n: Int, address: SocketAddress) {
        guard !stopped, n < destinations.count, destinations[n] == address else { return }
        guard bytes.count <= section.payloadSize else { return counters.withLock { $0[n].tooBig += 1 } }
        guard let response = DNSMessage.parse(bytes) else {
            // Unreadable: which question it answers is unknown.
            return counters.withLock { $0[n].invalid += 1 }
        }
        guard let r = resolutions.first(where: { $0.pending && $0.id == response.id }) else {
            return counters.withLock { $0[n].outdated += 1 }
        }
        let status = classify(response, r, nameserver: n)
        if case .some(.valid) = status { return finish(r, .valid, nameserver: n, response: response) }
        r.lastError = status ?? .other
        r.errorAnswers += 1
        guard r.errorAnswers >= channels.compactMap({ $0 }).count else { return }
        if !r.fallenBack && r.srv == nil {
            // Every nameserver answered without an address: the other family, at once, on the same try.
            r.fallenBack = true
            r.type = r.type == .a ? .aaaa : .a
            send(r)
        } else if r.triesLeft <= 0 {
            finish(r, r.lastError ?? .other, nameserver: n, response: nil)
        }
    }

    /// What an answer says for `r` (nil: invalid), its counters raised.
    private func classify(_ response: DNSMessage.Response, _ r: Resolution, nameserver n: Int) -> Status? {
        func count(_ key: WritableKeyPath<Counters, Int>) { counters.withLock { $0[n][keyPath: key] += 1 } }
        guard response.questionName == r.name, response.questionType == r.type.rawValue else {
            count(\.invalid)
            return nil
        }
        switch response.rcode {
        case 0: break
        case 3:
            count(\.nx)
            return .nx
        case 5:
            count(\.refused)
            return .refused
        default:
            count(\.other)
            return .other
        }
        // A truncated SRV answer is still read (HAProxy's rule); an address's is an error.
        if response.truncated && r.srv == nil {
            count(\.truncated)
            return .other
        }
        guard !response.answers.isEmpty else {
            count(\.anyError)
            return .other
        }
        // The answers name the question, or the names of its CNAME chain.
        var names: Set<String> = [r.name]
        var addresses = 0
        for (k, record) in response.answers.enumerated() {
            guard names.contains(record.name) else {
                count(k == 0 ? \.invalid : \.cnameError)
                return k == 0 ? nil : .other
            }
            switch record.data {
            case .cname(let target): names.insert(target)
            case .address(let bytes) where bytes.count == (r.type == .a ? 4 : 16): addresses += 1
            case .srv where r.type == .srv: addresses += 1
            default: break
            }
        }
        guard addresses > 0 else {
            count(\.cnameError)
            return .other
        }
        count(\.valid)
        return .valid
    }

    /// The end of a resolution: a valid answer's addresses handed out, or an error's consequences; the next one
    /// `timeout resolve` from now.
    private func finish(_ r: Resolution, _ status: Status, nameserver: Int?, response: DNSMessage.Response?) {
        r.pending = false
        r.retry?.cancel()
        r.retry = nil
        let now = Self.now()
        if status == .valid, let response, r.srv != nil {
            r.lastValid = now
            handOutTargets(r, response, now: now)
        } else if status == .valid, let response, let nameserver {
            r.lastValid = now
            var chain: Set<String> = [r.name]
            var found: [[UInt8]] = []
            for record in response.answers where chain.contains(record.name) {
                switch record.data {
                case .cname(let target): chain.insert(target)
                case .address(let bytes) where bytes.count == (r.type == .a ? 4 : 16): found.append(bytes)
                default: break
                }
            }
            r.addresses.update(with: found, now: now, obsolete: section.hold[.obsolete]?.milliseconds ?? 0)
            handOut(r, by: "\(section.name)/\(section.nameservers[nameserver].name)", nameserver: nameserver)
        } else if status != .valid {
            let hold = section.hold[status.hold]?.milliseconds ?? 0
            if now > r.lastValid + hold {
                for requester in r.requesters { lose(requester, cause: status.cause) }
                // An SRV record's servers all leave their targets.
                let count = r.srv?.items.count ?? 0
                for k in (0..<count).reversed() { removeTarget(r, k, cause: status.cause) }
            }
        }
        loop.scheduleTask(in: .milliseconds(section.resolveInterval.milliseconds)) { [self] in begin(r) }
    }

    /// Each server of `r` takes its address from the answer (in server order; the first one's change is said to
    /// be the nameserver's, the others' the cache's, as HAProxy words it).
    private func handOut(_ r: Resolution, by updater: String, nameserver: Int) {
        for (k, requester) in r.requesters.enumerated() {
            let backend = requester.backend
            let current = backend.address(requester.index).flatMap(Self.bytes(_:))
            let taken = Set(
                r.requesters.enumerated().compactMap { j, other -> [UInt8]? in
                    guard j != k, other.backend === backend else { return nil }
                    return backend.address(other.index).flatMap(Self.bytes)
                })
            guard let chosen = r.addresses.choose(for: requester.wish, current: current, taken: taken) else {
                lose(requester, cause: "No IP for server ")
                continue
            }
            guard chosen != current else { continue }
            guard let address = Self.socketAddress(chosen, port: requester.port) else { continue }
            backend.setAddress(requester.index, address)
            if k == 0 { counters.withLock { $0[nameserver].update += 1 } }
            let from = current.flatMap { Self.socketAddress($0, port: 0)?.ipAddress } ?? "(none)"
            requester.log?.send(
                "\(backend.name)/\(requester.line.name) changed its IP from \(from) to \(address.ipAddress ?? "") by "
                    + (k == 0 ? updater : "DNS cache") + ".", severity: .notice)
            regain(requester)
        }
    }

    /// A server without an address: in maintenance (RMAINT) with HAProxy's lines.
    private func lose(_ requester: Requester, cause: String) {
        let backend = requester.backend
        let hadAddress = backend.address(requester.index) != nil
        let change = backend.setResolution(requester.index, lost: true, now: Int(time(nil)))
        if hadAddress { backend.setAddress(requester.index, nil) }
        let line = requester.line
        let prefix = (line.backup ? "Backup Server " : "Server ") + "\(backend.name)/\(line.name)"
        let counts = change.counts
        // The servers left are counted when the lines are sent: after the rest of the answer was handed out when
        // they are held (HAProxy commits a server's new state after the answer's processing).
        let emit = {
            let left = backend.shared.withLock { $0.balancer.upCounts }
            for event in change.events {
                switch event {
                case .goingDownForMaintenance(let wasServing):
                    var text = prefix + " is going DOWN for maintenance (\(cause)). \(left.active) active and "
                    text += "\(left.backup) backup servers left."
                    if left.active == 0 && left.backup > 0 { text += " Running on backup." }
                    text += " \(counts.sessions) sessions active, \(counts.requeued) requeued, "
                    text += "\(counts.queued) remaining in queue."
                    requester.log?.send(text, severity: wasServing ? .alert : .notice)
                case .downEntersMaintenance:
                    requester.log?.send(prefix + " was DOWN and now enters maintenance (\(cause)).", severity: .notice)
                case .resolvesAgain, .resolvesAgainButRemainsInMaintenance:
                    break
                }
            }
            if change.noneLeft && left.active + left.backup == 0 {
                let kind: HAProxyEvent.ProxyKind = backend.section.kind == .listen ? .proxy : .backend
                requester.log?.send(
                    HAProxyEvent.noServerAvailable(kind: kind, name: backend.name).message, severity: .emergency)
            }
        }
        if held != nil { held?.append(emit) } else { emit() }
    }

    /// A server that has an address again leaves its maintenance for want of one.
    private func regain(_ requester: Requester, administratively: Bool = true) {
        let backend = requester.backend
        let change = backend.setResolution(requester.index, lost: false, now: Int(time(nil)))
        guard !change.events.isEmpty else { return }
        let line = requester.line
        let prefix = (line.backup ? "Backup Server " : "Server ") + "\(backend.name)/\(line.name)"
        for event in change.events {
            switch event {
            case .resolvesAgain(let up, let drain):
                requester.log?.send(
                    prefix + " ('\(requester.fqdn)') is \(up ? "UP" : "DOWN")/\(drain ? "DRAIN" : "READY") (resolves again).",
                    severity: .notice)
            case .resolvesAgainButRemainsInMaintenance:
                requester.log?.send(
                    prefix + " ('\(requester.fqdn)') resolves again but remains in maintenance.", severity: .notice)
            case .goingDownForMaintenance, .downEntersMaintenance:
                break
            }
        }
        if administratively {
            requester.log?.send(prefix + " administratively READY thanks to valid DNS answer.", severity: .notice)
        }
    }

    // MARK: SRV records

    /// A valid SRV answer: targets gone past `hold obsolete` leave their servers (in maintenance, "entry removed
    /// from SRV record"); new ones go to the first free servers of the template, with the record's port and
    /// weight, and the address the additional section gives (else a resolution of the target's own).
    private func handOutTargets(_ r: Resolution, _ response: DNSMessage.Response, now: Int64) {
        guard var state = r.srv else { return }
        for record in response.answers where record.name == r.name {
            guard case .srv(_, let weight, let port, let target) = record.data else { continue }
            if let k = state.items.firstIndex(where: { $0.target == target && $0.port == Int(port) }) {
                state.items[k].lastSeen = now
                state.items[k].weight = Int(weight)
                continue
            }
            let key = XXH32.hash(DNSMessage.encode(name: target) ?? [], seed: 33)
            let item = SRVState.Item(
                target: target, port: Int(port), weight: Int(weight), key: key, lastSeen: now, slot: nil)
            state.items.insert(item, at: state.items.firstIndex(where: { $0.key > key }) ?? state.items.count)
        }
        r.srv = state
        let obsolete = section.hold[.obsolete]?.milliseconds ?? 0
        let stale = state.items.indices.filter { now - state.items[$0].lastSeen > obsolete }
        held = []
        defer {
            let lines = held ?? []
            held = nil
            for line in lines { line() }
        }
        for k in stale.reversed() { removeTarget(r, k, cause: "entry removed from SRV record") }
        let count = r.srv?.items.count ?? 0
        for k in 0..<count {
            guard let item = r.srv?.items[k], item.slot == nil, let slot = r.srv?.free.first,
                var requester = r.srv?.slots[slot]
            else { continue }
            r.srv?.free.removeFirst()
            r.srv?.items[k].slot = slot
            let backend = requester.backend
            requester.fqdn = item.target
            requester.port = item.port
            r.srv?.slots[slot] = requester
            let weight = requester.wish.ignoresWeight ? nil : (item.weight + 255) / 256
            backend.setSRVTarget(requester.index, (item.target, item.port, weight))
            let named = "\(backend.name)/\(requester.line.name) changed its FQDN from (null) to \(item.target) by 'SRV record'"
            let additional = response.additional.compactMap { record -> [UInt8]? in
                guard record.name == item.target, case .address(let bytes) = record.data else { return nil }
                return bytes
            }
            let preferred = additional.first { ($0.count == 4) == requester.wish.preferIPv4 } ?? additional.first
            if let preferred, let address = Self.socketAddress(preferred, port: item.port) {
                backend.setAddress(requester.index, address)
                requester.log?.send(
                    "\(backend.name)/\(requester.line.name) changed its IP from (none) to \(address.ipAddress ?? "") by DNS "
                        + "additional record.", severity: .notice)
                // HAProxy says the address first, then the name.
                requester.log?.send(named, severity: .notice)
                regain(requester, administratively: false)
            } else {
                requester.log?.send(named, severity: .notice)
                // No address given with it: the target is resolved as a name of its own.
                let type: DNSMessage.RecordType = requester.wish.preferIPv4 ? .a : .aaaa
                let target = item.target
                let shared = resolutions.first { other in
                    other.srv == nil && other.name == target && other.preferred == type
                }
                if let shared {
                    shared.requesters.append(requester)
                } else {
                    let own = Resolution(name: item.target, preferred: type, now: now)
                    own.requesters.append(requester)
                    resolutions.append(own)
                    begin(own)
                }
            }
        }
    }

    /// The target at `k` leaves `r`'s SRV entries; its server, if it had one, loses its address, name and port
    /// (in maintenance for `cause`) and goes last among the free ones.
    private func removeTarget(_ r: Resolution, _ k: Int, cause: String) {
        guard let item = r.srv?.items.remove(at: k), let slot = item.slot, var requester = r.srv?.slots[slot] else {
            return
        }
        for other in resolutions where other.srv == nil {
            other.requesters.removeAll { $0.same(requester) }
        }
        lose(requester, cause: cause)
        requester.backend.setSRVTarget(requester.index, nil)
        requester.fqdn = ""
        requester.port = 0
        r.srv?.slots[slot] = requester
        r.srv?.free.append(slot)
    }

    /// An address's bytes in network order (nil: not IPv4 or IPv6), as `balance source` reads them.
    static func bytes(_ address: SocketAddress) -> [UInt8]? {
        let bytes = ProxyRuntime.Backend.addressBytes(address)
        return bytes.isEmpty ? nil : bytes
    }

    static func socketAddress(_ bytes: [UInt8], port: Int) -> SocketAddress? {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        guard bytes.count == 4 || bytes.count == 16,
            bytes.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }) != nil
        else { return nil }
        let ip = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return try? SocketAddress(ipAddress: ip, port: port)
    }

    /// `show resolvers [NAME]`'s block for this section.
    func report() -> String {
        let all = counters.withLock { $0 }
        var out = "Resolvers section \(section.name)\n"
        for (n, server) in section.nameservers.enumerated() {
            let c = n < all.count ? all[n] : Counters()
            out += " nameserver \(server.name):\n"
            let rows: [(String, Int)] = [
                ("sent", c.sent), ("snd_error", c.sendError), ("valid", c.valid), ("update", c.update),
                ("cname", c.cname), ("cname_error", c.cnameError), ("any_err", c.anyError), ("nx", c.nx),
                ("timeout", c.timeout), ("refused", c.refused), ("other", c.other), ("invalid", c.invalid),
                ("too_big", c.tooBig), ("truncated", c.truncated), ("outdated", c.outdated),
            ]
            for (label, value) in rows {
                let key = label + ":"
                out += "  " + key + String(repeating: " ", count: max(1, 13 - key.count)) + "\(value)\n"
            }
        }
        return out
    }
}

/// Reads the answers of one nameserver's socket.
private final class Reader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let client: ResolverClient
    let nameserver: Int

    init(client: ResolverClient, nameserver: Int) {
        self.client = client
        self.nameserver = nameserver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        client.received(Array(envelope.data.readableBytesView), from: nameserver, address: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An ICMP port unreachable from a nameserver that is not there: the question goes unanswered (a timeout).
    }
}

extension ProxyRuntime {
    /// A client per `resolvers` section, with the servers that resolve a name through it (a server written with an
    /// address has nothing to resolve, as in HAProxy).
    static func resolverClients(
        _ configuration: ProxyConfiguration, state: ProxyState, logs: [String: LogEmitter],
        group: MultiThreadedEventLoopGroup
    ) -> [ResolverClient] {
        let clients = configuration.resolvers.map { ResolverClient(section: $0, loop: group.next()) }
        for p in configuration.proxies where p.isBackend {
            guard let backend = state.backendsByName[p.name] else { continue }
            for (i, server) in p.servers.enumerated() {
                guard let name = server.resolve.resolvers, AddressSet.address(server.host) == nil, server.localSocket == nil,
                    let client = clients.first(where: { $0.section.name == name })
                else { continue }
                let wish = ResolvedAddresses.Wish(
                    preferIPv4: server.resolve.preferIPv4,
                    // Read (and checked) as `resolve-net` was when the file was.
                    networks: (try? AddressSet.parse(server.resolve.networks).get()) ?? AddressSet(),
                    allowDuplicates: server.resolve.allowDuplicateIP, ignoresWeight: server.resolve.ignoreWeight)
                client.add(.init(backend: backend, index: i, log: logs[p.name], wish: wish), name: server.host)
            }
        }
        return clients
    }
}
