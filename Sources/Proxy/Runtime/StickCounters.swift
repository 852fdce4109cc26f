import NIOCore
import NIOHTTP1
import Synchronization

/// The stick tables' clock: milliseconds of the monotonic clock, wrapping in 32 bits as HAProxy's `now_ms`.
enum StickClock {
    static func now() -> UInt32 { UInt32(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds / 1_000_000) }
}

/// One stick table of the running proxy, shared by every event loop behind its lock (held for one table
/// operation, never across I/O).
final class SharedStickTable: Sendable {
    let schema: StickTableSchema
    private let table: Mutex<StickTable>

    init(_ schema: StickTableSchema) {
        self.schema = schema
        table = Mutex(StickTable(schema))
        shared = schema.peers != nil
    }

    /// `body` on the table, with the clock read once. A shared table's local changes wake its peers' sessions.
    func with<R: Sendable>(_ body: (inout StickTable, UInt32) -> R) -> R {
        let now = StickClock.now()
        guard shared else { return table.withLock { body(&$0, now) } }
        let (result, changed) = table.withLock { t -> (R, Bool) in
            let before = t.localUpdate
            let result = body(&t, now)
            return (result, t.localUpdate != before)
        }
        if changed, let hook = localUpdateHook.withLock({ $0 }) { hook() }
        return result
    }

    private let shared: Bool
    private let localUpdateHook = Mutex<(@Sendable () -> Void)?>(nil)

    /// What runs after a local change (the peers' sync task's wake-up).
    func setLocalUpdateHook(_ hook: @escaping @Sendable () -> Void) {
        localUpdateHook.withLock { $0 = hook }
    }
}

/// The running proxy's stick tables, by name.
final class StickTables: Sendable {
    let tables: [String: SharedStickTable]
    /// In the order the sections declare them (`show table`).
    let order: [String]

    init?(_ configuration: ProxyConfiguration) {
        let schemas = configuration.stickTableList
        guard !schemas.isEmpty else { return nil }
        var tables: [String: SharedStickTable] = [:]
        for schema in schemas where tables[schema.name] == nil { tables[schema.name] = SharedStickTable(schema) }
        self.tables = tables
        order = schemas.map(\.name)
    }

    subscript(name: String) -> SharedStickTable? { tables[name] }
}

/// The entries a session tracks (HAProxy's `sc0`…`sc2`), on its event loop: those its connection tracks
/// (`tcp-request connection|session`, for the whole connection) and those its current request or stream tracks
/// (`tcp-request content`, `http-request`; in HTTP mode they end with the request). A counter's fetches read the
/// request's entry first, then the connection's, as HAProxy's do.
final class TrackedCounters {
    struct Entry {
        let table: SharedStickTable
        let slot: Int32
    }
    enum Level { case connection, request }

    let tables: StickTables
    private var connection: [Entry?] = [nil, nil, nil]
    private var request: [Entry?] = [nil, nil, nil]

    init(_ tables: StickTables) { self.tables = tables }

    /// A session that ended without saying so (its client left while `maxconn` held it back) lets go too.
    deinit { endSession() }

    func entry(_ counter: Int) -> Entry? {
        guard (0..<3).contains(counter) else { return nil }
        return request[counter] ?? connection[counter]
    }

    /// `track-scN`: the key's entry (made if new) is tracked from now, unless the counter already tracks one at
    /// this level; nil when nothing is tracked (no key, a full table). `countsRequest`: an `http-request` track
    /// counts the request in progress on it (HAProxy counted the request before the entry was known).
    @discardableResult
    func track(_ tracking: StickTracking, _ sample: StickSample?, level: Level, countsRequest: Bool = false) -> Entry? {
        let n = tracking.counter
        guard (0..<3).contains(n), (level == .request ? request[n] : connection[n]) == nil,
            let table = tables[tracking.table], let sample, let key = table.schema.key(sample)
        else { return nil }
        let slot: Int32? = table.with { t, now in
            guard let slot = t.entry(key, now: now) else { return nil }
            t.startTracking(slot, now: now)
            if countsRequest { t.count(.request, slot, now: now) }
            return slot
        }
        guard let slot else { return nil }
        let entry = Entry(table: table, slot: slot)
        if level == .request { request[n] = entry } else { connection[n] = entry }
        return entry
    }

    /// Each tracked counter's entry (the request's, else the connection's), once.
    private func each(_ body: (inout StickTable, Int32, UInt32) -> Void) {
        for n in 0..<3 {
            guard let entry = entry(n) else { continue }
            entry.table.with { t, now in body(&t, entry.slot, now) }
        }
    }

    /// The connection became a session (`sess_cnt`, `sess_rate` of what it tracks).
    func countSession() {
        for n in 0..<3 {
            guard let entry = connection[n] else { continue }
            entry.table.with { t, now in t.count(.session, entry.slot, now: now) }
        }
    }

    /// An HTTP request arrived (`http_req_cnt`, `http_req_rate`).
    func countRequest() { each { $0.count(.request, $1, now: $2) } }

    /// A response's status: a 4xx is an error (`http_err_*`), a 5xx but 501 and 505 a failure (`http_fail_*`).
    func countResponse(status: Int) {
        if (400..<500).contains(status) {
            countError()
        } else if (500..<600).contains(status) && status != 501 && status != 505 {
            each { $0.count(.failure, $1, now: $2) }
        }
    }

    /// A denied or malformed request (`http_err_*`).
    func countError() { each { $0.count(.error, $1, now: $2) } }

    /// Bytes exchanged (`bytes_in_*`: from the client; `bytes_out_*`: to it).
    func countBytes(in bytesIn: Int64, out bytesOut: Int64) {
        guard bytesIn > 0 || bytesOut > 0 else { return }
        each { $0.countBytes($1, in: UInt64(max(0, bytesIn)), out: UInt64(max(0, bytesOut)), now: $2) }
    }

    /// The request (or stream) ends: what it tracked is let go (`conn_cur` down).
    func endRequest() {
        for n in 0..<3 {
            guard let entry = request[n] else { continue }
            request[n] = nil
            entry.table.with { t, now in t.stopTracking(entry.slot, now: now) }
        }
    }

    /// The connection ends: everything it tracked is let go.
    func endSession() {
        endRequest()
        for n in 0..<3 {
            guard let entry = connection[n] else { continue }
            connection[n] = nil
            entry.table.with { t, now in t.stopTracking(entry.slot, now: now) }
        }
    }

    /// `sc-inc-gpc0|1(N)`, `sc-set-gpt0(N) V` on counter N's entry (nothing when it tracks none).
    func perform(incrementGPC which: Int, counter: Int) {
        guard let entry = entry(counter) else { return }
        _ = entry.table.with { t, now in t.incrementGPC(which, entry.slot, now: now) }
    }

    func perform(setGPT0 value: Int64, counter: Int) {
        guard let entry = entry(counter) else { return }
        entry.table.with { t, now in
            guard t.stores(.gpt0) else { return }
            t.set(.gpt0, entry.slot, value)
            t.touch(entry.slot, now: now)
        }
    }

    /// A counter criterion's value; nil when it has none (the counter tracks nothing, the table does not store
    /// the datum): the ACL does not match.
    func fetch(_ fetch: StickCounterFetch, client: UInt128?) -> Int64? {
        switch fetch.source {
        case .tracked(let n):
            let tracked = entry(n)
            if fetch.value == .tracked { return tracked == nil ? 0 : 1 }
            guard let tracked else { return nil }
            guard let name = fetch.table, name != tracked.table.schema.name else {
                return tracked.table.with { t, now in Self.value(fetch.value, &t, tracked.slot, now, tracked: true) }
            }
            // Another table: the same key looked up there (0 when it has none).
            guard let other = tables[name], let key = tracked.table.with({ t, _ in t.key(of: tracked.slot) }) else {
                return nil
            }
            return other.with { t, now in
                Self.value(fetch.value, &t, t.lookup(key, now: now), now, tracked: false)
            }
        case .client:
            guard let name = fetch.table, let table = tables[name], let client,
                let key = table.schema.key(.address(client))
            else { return nil }
            return table.with { t, now in
                var slot = t.lookup(key, now: now)
                // `src_inc_gpc0` makes the entry it counts in.
                if slot == nil, case .incrementGPC = fetch.value { slot = t.entry(key, now: now) }
                return Self.value(fetch.value, &t, slot, now, tracked: false)
            }
        }
    }

    /// HAProxy's fetch on an entry (nil: none; the data then reads 0).
    private static func value(
        _ value: StickCounterFetch.Value, _ t: inout StickTable, _ slot: Int32?, _ now: UInt32, tracked: Bool
    ) -> Int64? {
        guard let slot else {
            switch value {
            case .data(let d): return t.stores(d) ? 0 : nil
            case .kilobytes(let out): return t.stores(out ? .bytesOutCount : .bytesInCount) ? 0 : nil
            case .getGPC(let w): return t.stores(w == 0 ? .gpc0 : .gpc1) ? 0 : nil
            case .getGPT0: return t.stores(.gpt0) ? 0 : nil
            case .incrementGPC, .clearGPC, .trackers: return 0
            case .tracked: return 1
            }
        }
        switch value {
        case .data(let d): return t.read(d, slot, now: now)
        case .kilobytes(let out): return t.read(out ? .bytesOutCount : .bytesInCount, slot, now: now).map { $0 >> 10 }
        case .getGPC(let w): return t.read(w == 0 ? .gpc0 : .gpc1, slot, now: now)
        case .getGPT0: return t.read(.gpt0, slot, now: now)
        case .incrementGPC(let w): return t.incrementGPC(w, slot, now: now)
        case .clearGPC(let w): return t.clearGPC(w, slot, now: now)
        case .tracked: return 1
        case .trackers: return Int64(t.trackers(slot))
        }
    }
}

/// What a session knows to make a key from (`StickKeyFetch`).
struct StickSampleSource {
    var client: SocketAddress?
    var frontend: SocketAddress?
    var head: HTTPRequestHead?
    var sni: String?
    /// A request's sample expressions (`StickKeyFetch.expression`); nil outside an HTTP request.
    var evaluate: ((LogFormatValue) -> VariableValue?)? = nil

    func sample(_ fetch: StickKeyFetch) -> StickSample? {
        switch fetch {
        case .source: return AddressSet.key(client).map { .address($0) }
        case .destination: return AddressSet.key(frontend).map { .address($0) }
        case .sourcePort: return client?.port.map { .integer(Int64($0)) }
        case .destinationPort: return frontend?.port.map { .integer(Int64($0)) }
        case .tlsSNI: return sni.map { .text(Array($0.utf8)) }
        case .expression(let value):
            switch evaluate?(value) {
            case .integer(let n)?: return .integer(n)
            case .text(let t)?: return .text(Array(t.utf8))
            case nil: return nil
            }
        default: break
        }
        guard let head else { return nil }
        switch fetch {
        case .header(let name):
            // A sample's `hdr()`: the last value (values split at commas).
            return head.headers[name].last.map { .text(Array(HeaderValue.last(ofLine: $0).utf8)) }
        case .fullHeader(let name):
            return head.headers[name].last.map { .text(Array($0.utf8)) }
        case .path: return .text(Array(head.path.utf8))
        case .url: return .text(Array(head.uri.utf8))
        case .query:
            guard let mark = head.uri.firstIndex(of: "?") else { return nil }
            return .text(Array(head.uri[head.uri.index(after: mark)...].utf8))
        case .base:
            guard let host = head.headers["host"].first else { return .text(Array(head.path.utf8)) }
            return .text(Array((host + head.path).utf8))
        case .base32: return .integer(Int64(Self.hash32(head, wholeURL: false)))
        case .url32: return .integer(Int64(Self.hash32(head, wholeURL: true)))
        case .base32Source, .url32Source:
            guard let address = AddressSet.key(client) else { return nil }
            let hash = Self.hash32(head, wholeURL: fetch == .url32Source)
            return .binary(withUnsafeBytes(of: hash.bigEndian) { Array($0) } + StickKeyText.bytes(address))
        case .source, .destination, .sourcePort, .destinationPort, .tlsSNI, .expression: return nil
        }
    }

    /// HAProxy's `base32` (Host and the path before `?`) and `url32` (Host and the whole target) hashes.
    static func hash32(_ head: HTTPRequestHead, wholeURL: Bool) -> UInt32 {
        var hash: UInt32 = 0
        func mix<S: Sequence<UInt8>>(_ bytes: S) {
            for b in bytes { hash = UInt32(b) &+ (hash << 6) &+ (hash << 16) &- hash }
        }
        if let host = wholeURL ? head.headers["host"].last : head.headers["host"].first { mix(host.utf8) }
        let target = head.uri.utf8
        if target.first == UInt8(ascii: "/") {
            mix(wholeURL ? Array(target) : Array(target.prefix { $0 != UInt8(ascii: "?") }))
        }
        return HashType.fullHash(hash)
    }
}

extension TrackedCounters {
    /// A `tcp-request` rule's action other than accept and reject.
    func perform(_ action: TCPRequestRule.Action, level: Level, samples: StickSampleSource) {
        switch action {
        case .track(let tracking): track(tracking, samples.sample(tracking.key), level: level)
        case .incrementGPC(let counter, let which): perform(incrementGPC: which, counter: counter)
        case .setGPT0(let counter, let value): perform(setGPT0: value, counter: counter)
        case .accept, .reject, .silentDrop, .expectProxy: break
        }
    }
}

/// A backend's `stick` rules for one session or request, as HAProxy 2.6 applies them: in order, the first
/// `stick match|on` whose key has an entry gives the server its `server_id` names (when nothing chose one
/// already); the first `stick store-request|on` of each table whose condition holds keeps its key, written with
/// the server once the session has one.
struct StickPersistence {
    private var stores: [(table: SharedStickTable, key: StickKey)] = []
    /// The server (its index) a match found.
    private(set) var server: Int?

    init(
        _ rules: [StickRule], tables: StickTables?, samples: StickSampleSource, servers: Int,
        holds: (RuleCondition?) -> Bool
    ) {
        guard let tables else { return }
        for rule in rules {
            guard let table = tables[rule.table] else { continue }
            if rule.kind.stores && stores.contains(where: { $0.table === table }) { continue }
            guard holds(rule.condition), let sample = samples.sample(rule.key), let key = table.schema.key(sample)
            else { continue }
            if rule.kind.matches && server == nil {
                let id: Int64? = table.with { t, now in
                    guard let slot = t.lookup(key, now: now) else { return nil }
                    t.touch(slot, now: now)
                    return t.read(.serverID, slot, now: now)
                }
                if let id, id >= 1, id <= Int64(servers) { server = Int(id) - 1 }
            }
            if rule.kind.stores && stores.count < 8 {
                stores.append((table, key))
            }
        }
    }

    /// The session reached `server` (its index, and `name`): each kept key now names it.
    func commit(server: Int, name: String) {
        for (table, key) in stores {
            table.with { t, now in
                guard let slot = t.entry(key, now: now) else { return }
                t.setServer(slot, id: Int64(server + 1), name: name, now: now)
                t.touch(slot, now: now)
            }
        }
    }
}
