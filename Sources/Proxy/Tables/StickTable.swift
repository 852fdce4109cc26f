/// The entries of one stick table and what HAProxy 2.6 does to them, as a value with no I/O: times come in as
/// milliseconds of a monotonic clock (wrapping, as HAProxy's `now_ms`).
///
/// An entry is a slot: its key, its data (the schema's stored types, laid out in 32-bit words), how many sessions
/// track it (they keep it from being removed), and when it expires. Every touch (a track, an update, the end of a
/// tracking) moves it to the front of a recency list and pushes its expiry `expire` later; entries expire from the
/// back of that list. A full table makes room by removing its oldest entries that no session tracks (HAProxy's
/// `stktable_trash_oldest`, size/256 + 1 at a time), or takes no new key (`nopurge`, or all tracked).
struct StickTable {
    let schema: StickTableSchema
    /// Where each stored type starts in an entry's words (-1: not stored), by `StickData.rawValue`.
    private let offsets: [Int]
    /// Words per entry.
    private let stride: Int

    /// The keys' index: open addressing over the slots (linear probing, at most 3/4 full), so that a key is held
    /// once, in `keys`. A place holds the key's 32-bit hash and its slot + 1 (0: empty): a lookup reads a key only
    /// when the hashes agree, and growing or erasing never hashes a key again.
    private var buckets: [UInt64] = []
    private var keys: [StickKey?] = []
    private var words: [UInt32] = []
    private var refs: [UInt32] = []
    private var expires: [UInt32] = []
    /// `server_key` (tables used by `stick` rules).
    private var serverKeys: [String?] = []
    /// The recency list (towards newer and older entries), -1 at its ends; `newer` also chains the free slots.
    private var newer: [Int32] = []
    private var older: [Int32] = []
    private var newest: Int32 = -1
    private var oldest: Int32 = -1
    private var free: Int32 = -1

    /// Entries in the table (`used` in `show table`).
    private(set) var count = 0

    /// A table shared through a `peers` section: each entry changed here takes the next update number (HAProxy's
    /// `localupdate`), and the peers' sessions push the entries in that order from where each one stands.
    let shared: Bool
    /// The last update number given.
    private(set) var localUpdate: UInt64 = 0
    /// The farthest any peer has been sent (`commitupdate`): an entry changed again after it was pushed takes a
    /// new number, one still waiting keeps its place.
    var commitUpdate: UInt64 = 0
    /// Each entry's update number (0: none, or only changed by the peers).
    private var updateIDs: [UInt64] = []
    /// The update numbers in order with their entries; an entry renumbered since leaves a stale pair, dropped
    /// when the log grows past twice the table.
    private var updateLog: [(id: UInt64, slot: Int32)] = []

    init(_ schema: StickTableSchema) {
        self.schema = schema
        var offsets = Array(repeating: -1, count: StickData.allCases.count)
        var next = 0
        for data in StickData.allCases where schema.stored[data] != nil {
            offsets[data.rawValue] = next
            next += data.words
        }
        self.offsets = offsets
        stride = next
        shared = schema.peers != nil
    }

    func stores(_ data: StickData) -> Bool { offsets[data.rawValue] >= 0 }

    // MARK: Entries

    /// The entry of `key`, made when there is none (`stktable_get_entry`); touched. Nil when the table is full and
    /// nothing can be removed.
    mutating func entry(_ key: StickKey, now: UInt32, local: Bool = true) -> Int32? {
        purge(now: now)
        let h = hash(key)
        if let slot = find(key, hash: h) {
            if local {
                touch(slot, now: now)
            } else if newest != slot {
                unlink(slot)
                link(slot)
            }
            return slot
        }
        if count >= schema.size {
            guard !schema.noPurge, evictOldest(now: now) > 0 else { return nil }
        }
        let slot: Int32
        if free >= 0 {
            slot = free
            free = newer[Int(slot)]
            keys[Int(slot)] = key
            if schema.storesServerKey { serverKeys[Int(slot)] = nil }
            for i in 0..<stride { words[Int(slot) * stride + i] = 0 }
            refs[Int(slot)] = 0
            if shared { updateIDs[Int(slot)] = 0 }
        } else {
            if keys.isEmpty { reserve() }
            slot = Int32(keys.count)
            keys.append(key)
            if schema.storesServerKey { serverKeys.append(nil) }
            words.append(contentsOf: repeatElement(0, count: stride))
            refs.append(0)
            expires.append(0)
            newer.append(-1)
            older.append(-1)
            if shared { updateIDs.append(0) }
        }
        count += 1
        insert(slot, hash: h)
        link(slot)
        expires[Int(slot)] = now &+ (schema.expire ?? 0)
        return slot
    }

    /// The entry of `key` if there is one that has not expired (`stktable_lookup_key`); not touched.
    func lookup(_ key: StickKey, now: UInt32) -> Int32? {
        guard let slot = find(key), !expired(slot, now: now) else { return nil }
        return slot
    }

    func key(of slot: Int32) -> StickKey? { keys[Int(slot)] }

    /// Sessions tracking the entry (`use` in `show table`, `sc_trackers`).
    func trackers(_ slot: Int32) -> UInt32 { refs[Int(slot)] }

    /// Milliseconds until the entry expires (0 for a table without `expire`), as `show table`'s `exp=`.
    func expiresIn(_ slot: Int32, now: UInt32) -> Int {
        guard schema.expire != nil else { return 0 }
        return max(0, Int(Int32(bitPattern: expires[Int(slot)] &- now)))
    }

    /// The live entries and their keys, in no order (copied out quickly, to be sorted without the table's lock).
    func entries(now: UInt32) -> [(slot: Int32, key: StickKey)] {
        var out: [(slot: Int32, key: StickKey)] = []
        out.reserveCapacity(count)
        var slot = newest
        while slot >= 0 {
            if !expired(slot, now: now) || refs[Int(slot)] > 0, let key = keys[Int(slot)] { out.append((slot, key)) }
            slot = older[Int(slot)]
        }
        return out
    }

    /// `entries` in their keys' order, as HAProxy's tree of keys lists them (numbers by value, bytes as strings).
    static func inKeyOrder(_ entries: [(slot: Int32, key: StickKey)]) -> [(slot: Int32, key: StickKey)] {
        entries.sorted { a, b in
            switch (a.key, b.key) {
            case (.number(let x), .number(let y)): return x < y
            default: return (a.key.byteValue ?? []).lexicographicallyPrecedes(b.key.byteValue ?? [])
            }
        }
    }

    /// Pushes the entry's expiry `expire` from now and makes it the newest (`stktable_touch_local`).
    mutating func touch(_ slot: Int32, now: UInt32) {
        expires[Int(slot)] = now &+ (schema.expire ?? 0)
        if shared { markUpdated(slot) }
        guard newest != slot else { return }
        unlink(slot)
        link(slot)
    }

    /// A session starts tracking the entry (it is not removed while tracked).
    mutating func retain(_ slot: Int32) { refs[Int(slot)] += 1 }

    /// A session stops tracking it; touched.
    mutating func release(_ slot: Int32, now: UInt32) {
        if refs[Int(slot)] > 0 { refs[Int(slot)] -= 1 }
        touch(slot, now: now)
    }

    /// Removes the entries that expired and nobody tracks, from the oldest on (a few at a time).
    mutating func purge(now: UInt32) {
        guard schema.expire != nil else { return }
        var slot = oldest
        var looked = 0
        while slot >= 0 && looked < 64 {
            let next = newer[Int(slot)]
            guard expired(slot, now: now) else { return }
            if refs[Int(slot)] == 0 { remove(slot) }
            slot = next
            looked += 1
        }
    }

    /// Removes every entry nobody tracks (`clear table`); returns how many.
    @discardableResult
    mutating func clear() -> Int {
        var removed = 0
        var slot = oldest
        while slot >= 0 {
            let next = newer[Int(slot)]
            if refs[Int(slot)] == 0 {
                remove(slot)
                removed += 1
            }
            slot = next
        }
        return removed
    }

    /// Removes one entry nobody tracks (`clear table … key K`); false when it is tracked or absent.
    mutating func remove(_ key: StickKey) -> Bool {
        guard let slot = find(key), refs[Int(slot)] == 0 else { return false }
        remove(slot)
        return true
    }

    private func expired(_ slot: Int32, now: UInt32) -> Bool {
        guard schema.expire != nil else { return false }
        return Int32(bitPattern: expires[Int(slot)] &- now) <= 0
    }

    /// A full table's room: the oldest untracked entries, up to size/256 + 1, looking at twice as many at most.
    private mutating func evictOldest(now: UInt32) -> Int {
        let batch = schema.size >> 8 + 1
        var searched = 0
        var removed = 0
        var slot = oldest
        while slot >= 0 && removed < batch && searched < batch * 2 {
            let next = newer[Int(slot)]
            if refs[Int(slot)] == 0 {
                remove(slot)
                removed += 1
            }
            searched += 1
            slot = next
        }
        return removed
    }

    private mutating func remove(_ slot: Int32) {
        if let key = keys[Int(slot)] { erase(key) }
        if shared { updateIDs[Int(slot)] = 0 }
        keys[Int(slot)] = nil
        unlink(slot)
        newer[Int(slot)] = free
        free = slot
        count -= 1
    }

    // MARK: The index

    /// The slots' arrays reserved for the table's size up front (at most 4M entries): memory the system gives
    /// only as pages are written, and no copy each time they would have doubled.
    private mutating func reserve() {
        let n = min(schema.size, 1 << 22)
        keys.reserveCapacity(n)
        words.reserveCapacity(n * stride)
        refs.reserveCapacity(n)
        expires.reserveCapacity(n)
        newer.reserveCapacity(n)
        older.reserveCapacity(n)
        if schema.storesServerKey { serverKeys.reserveCapacity(n) }
        if shared { updateIDs.reserveCapacity(n) }
    }

    private func hash(_ key: StickKey) -> UInt32 { UInt32(truncatingIfNeeded: key.hashValue) }

    private func find(_ key: StickKey) -> Int32? { find(key, hash: hash(key)) }

    private func find(_ key: StickKey, hash h: UInt32) -> Int32? {
        guard !buckets.isEmpty else { return nil }
        let mask = buckets.count - 1
        var i = Int(h) & mask
        while true {
            let place = buckets[i]
            if place == 0 { return nil }
            if UInt32(truncatingIfNeeded: place >> 32) == h {
                let slot = Int32(truncatingIfNeeded: place & 0xFFFF_FFFF) - 1
                if keys[Int(slot)] == key { return slot }
            }
            i = (i + 1) & mask
        }
    }

    private mutating func insert(_ slot: Int32, hash h: UInt32) {
        if count * 4 > buckets.count * 3 { grow() }
        let mask = buckets.count - 1
        var i = Int(h) & mask
        while buckets[i] != 0 { i = (i + 1) & mask }
        buckets[i] = UInt64(h) << 32 | UInt64(UInt32(slot) + 1)
    }

    private mutating func grow() {
        let old = buckets
        buckets = Array(repeating: 0, count: max(16, old.count * 2))
        let mask = buckets.count - 1
        for place in old where place != 0 {
            var i = Int(UInt32(truncatingIfNeeded: place >> 32)) & mask
            while buckets[i] != 0 { i = (i + 1) & mask }
            buckets[i] = place
        }
    }

    /// Takes `key` out of the index, shifting back the places after it that probed past it.
    private mutating func erase(_ key: StickKey) {
        guard !buckets.isEmpty else { return }
        let mask = buckets.count - 1
        let h = hash(key)
        var hole = Int(h) & mask
        while true {
            let place = buckets[hole]
            if place == 0 { return }
            if UInt32(truncatingIfNeeded: place >> 32) == h,
                keys[Int(Int32(truncatingIfNeeded: place & 0xFFFF_FFFF) - 1)] == key
            {
                break
            }
            hole = (hole + 1) & mask
        }
        var i = hole
        while true {
            i = (i + 1) & mask
            let place = buckets[i]
            if place == 0 { break }
            let home = Int(UInt32(truncatingIfNeeded: place >> 32)) & mask
            // It may fill the hole unless its home lies cyclically after the hole and at or before it.
            let between = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i)
            if !between {
                buckets[hole] = place
                hole = i
            }
        }
        buckets[hole] = 0
    }

    private mutating func link(_ slot: Int32) {
        older[Int(slot)] = newest
        newer[Int(slot)] = -1
        if newest >= 0 { newer[Int(newest)] = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int32) {
        let (n, o) = (newer[Int(slot)], older[Int(slot)])
        if n >= 0 { older[Int(n)] = o } else { newest = o }
        if o >= 0 { newer[Int(o)] = n } else { oldest = n }
        newer[Int(slot)] = -1
        older[Int(slot)] = -1
    }

    // MARK: Data

    /// A stored datum as HAProxy's fetches read it (a rate over its period as of `now`); nil when not stored.
    func read(_ data: StickData, _ slot: Int32, now: UInt32) -> Int64? {
        let offset = offsets[data.rawValue]
        guard offset >= 0 else { return nil }
        let base = Int(slot) * stride + offset
        if data.isRate {
            return Int64(counter(at: base).rate(period: schema.stored[data] ?? 0, now: now))
        }
        if data.isWide { return Int64(UInt64(words[base]) << 32 | UInt64(words[base + 1])) }
        if data == .serverID { return Int64(Int32(bitPattern: words[base])) }
        return Int64(words[base])
    }

    /// Adds `amount` to a counter or counts `amount` events in a rate (nothing when not stored).
    mutating func add(_ data: StickData, _ slot: Int32, _ amount: UInt64 = 1, now: UInt32) {
        let offset = offsets[data.rawValue]
        guard offset >= 0 else { return }
        let base = Int(slot) * stride + offset
        if data.isRate {
            var c = counter(at: base)
            c.add(UInt32(truncatingIfNeeded: amount), period: schema.stored[data] ?? 0, now: now)
            store(c, at: base)
        } else if data.isWide {
            let value = (UInt64(words[base]) << 32 | UInt64(words[base + 1])) &+ amount
            words[base] = UInt32(truncatingIfNeeded: value >> 32)
            words[base + 1] = UInt32(truncatingIfNeeded: value)
        } else {
            words[base] &+= UInt32(truncatingIfNeeded: amount)
        }
    }

    /// Sets a plain datum (`gpt0`, `gpc0`, `conn_cur`, `server_id`).
    mutating func set(_ data: StickData, _ slot: Int32, _ value: Int64) {
        let offset = offsets[data.rawValue]
        guard offset >= 0, !data.isRate else { return }
        let base = Int(slot) * stride + offset
        if data.isWide {
            words[base] = UInt32(truncatingIfNeeded: UInt64(bitPattern: value) >> 32)
            words[base + 1] = UInt32(truncatingIfNeeded: value)
        } else {
            words[base] = UInt32(truncatingIfNeeded: value)
        }
    }

    /// `stick store`: the server's place (from 1) and name.
    mutating func setServer(_ slot: Int32, id: Int64, name: String, now: UInt32) {
        set(.serverID, slot, id)
        if schema.storesServerKey { serverKeys[Int(slot)] = name }
        touch(slot, now: now)
    }

    /// A rate's current period count (HAProxy's `inc_gpc0` answers it when the table has no `gpc0`).
    func currentCount(_ data: StickData, _ slot: Int32) -> Int64? {
        let offset = offsets[data.rawValue]
        guard offset >= 0, data.isRate else { return nil }
        return Int64(counter(at: Int(slot) * stride + offset).current)
    }

    private func counter(at base: Int) -> FreqCounter {
        FreqCounter(tick: words[base], current: words[base + 1], previous: words[base + 2])
    }

    private mutating func store(_ c: FreqCounter, at base: Int) {
        words[base] = c.tick
        words[base + 1] = c.current
        words[base + 2] = c.previous
    }
}

// MARK: HAProxy's events

extension StickTable {
    /// A session starts tracking the entry (`stream_start_counters`): `conn_cur`, `conn_cnt`, `conn_rate`.
    mutating func startTracking(_ slot: Int32, now: UInt32) {
        retain(slot)
        add(.connCurrent, slot, now: now)
        add(.connCount, slot, now: now)
        add(.connRate, slot, now: now)
        touch(slot, now: now)
    }

    /// The tracking ends (`stream_store_counters`): `conn_cur` down, the entry touched and let go.
    mutating func stopTracking(_ slot: Int32, now: UInt32) {
        if let current = read(.connCurrent, slot, now: now), current > 0 { set(.connCurrent, slot, current - 1) }
        release(slot, now: now)
    }

    /// One event in a counter and its rate, the entry touched: a session (`sess_*`: the connection became one),
    /// a request (`http_req_*`), an error (`http_err_*`: a 4xx answer, a denied or a bad request), a failure
    /// (`http_fail_*`: a 5xx answer other than 501 and 505).
    enum Event {
        case session, request, error, failure
        var data: (count: StickData, rate: StickData) {
            switch self {
            case .session: (.sessCount, .sessRate)
            case .request: (.httpReqCount, .httpReqRate)
            case .error: (.httpErrCount, .httpErrRate)
            case .failure: (.httpFailCount, .httpFailRate)
            }
        }
    }

    mutating func count(_ event: Event, _ slot: Int32, now: UInt32) {
        add(event.data.count, slot, now: now)
        add(event.data.rate, slot, now: now)
        touch(slot, now: now)
    }

    /// `bytes_in_*` (from the client), `bytes_out_*` (to it).
    mutating func countBytes(_ slot: Int32, in bytesIn: UInt64, out bytesOut: UInt64, now: UInt32) {
        guard bytesIn > 0 || bytesOut > 0 else { return }
        add(.bytesInCount, slot, bytesIn, now: now)
        add(.bytesInRate, slot, bytesIn, now: now)
        add(.bytesOutCount, slot, bytesOut, now: now)
        add(.bytesOutRate, slot, bytesOut, now: now)
        touch(slot, now: now)
    }

    /// `sc-inc-gpc0`, `sc_inc_gpc0`: `gpc0_rate` counts one, `gpc0` goes up; the new `gpc0` (else the rate's current
    /// count, else 0).
    mutating func incrementGPC(_ which: Int, _ slot: Int32, now: UInt32) -> Int64 {
        let (counter, rate): (StickData, StickData) = which == 0 ? (.gpc0, .gpc0Rate) : (.gpc1, .gpc1Rate)
        var result: Int64 = 0
        if stores(rate) {
            add(rate, slot, now: now)
            result = currentCount(rate, slot) ?? 0
        }
        if stores(counter) {
            add(counter, slot, now: now)
            result = read(counter, slot, now: now) ?? 0
        }
        if stores(rate) || stores(counter) { touch(slot, now: now) }
        return result
    }

    /// `sc_clr_gpc0`: `gpc0` back to 0; its value before (0 when not stored).
    mutating func clearGPC(_ which: Int, _ slot: Int32, now: UInt32) -> Int64 {
        let counter: StickData = which == 0 ? .gpc0 : .gpc1
        guard let before = read(counter, slot, now: now) else { return 0 }
        set(counter, slot, 0)
        touch(slot, now: now)
        return before
    }

    /// One `show table` line after the address (`key=… use=… exp=…` and each stored datum).
    func dumpLine(_ slot: Int32, now: UInt32) -> String {
        var line = "key=" + (key(of: slot).map(schema.text) ?? "")
        line += " use=\(trackers(slot)) exp=\(expiresIn(slot, now: now))"
        var keyShown = !schema.storesServerKey
        func serverKey() {
            line += " server_key=" + (serverKeys[Int(slot)] ?? "-")
            keyShown = true
        }
        for data in StickData.allCases where stores(data) {
            // HAProxy's order puts `server_key` between `gpc1_rate` and `http_fail_cnt`.
            if !keyShown && data.rawValue >= StickData.httpFailCount.rawValue { serverKey() }
            line += " " + data.name
            if data.isRate { line += "(\(schema.stored[data] ?? 0))" }
            line += "=\(read(data, slot, now: now) ?? 0)"
        }
        if !keyShown { serverKey() }
        return line
    }
}

// MARK: Sharing (the peers protocol)

/// A datum as the peers protocol carries it.
enum SharedValue: Equatable, Sendable {
    case number(UInt64)
    /// A rate: milliseconds since its current period began, the events of that period and of the one before.
    case rate(elapsed: UInt32, current: UInt32, previous: UInt32)
}

/// One entry as the peers are sent it.
struct SharedEntry: Equatable, Sendable {
    /// Its update number (0 for one only the peers changed, sent in a full resynchronisation).
    var update: UInt64
    var key: StickKey
    /// Milliseconds before it expires.
    var expiresIn: UInt32
    /// The stored data, in `StickData` order.
    var values: [SharedValue]
    /// `server_key`, for a table that keeps it.
    var serverKey: String?
}

/// Entries copied out under the table's lock for the peers, their data side by side in one array (no allocation
/// per entry).
struct SharedBatch: Sendable {
    struct Item: Sendable {
        var update: UInt64
        var key: StickKey
        var expiresIn: UInt32
        var serverKey: String?
        var values: Range<Int>
    }
    var items: [Item] = []
    var values: [SharedValue] = []

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }

    /// The entries one by one (tests).
    var entries: [SharedEntry] {
        items.map {
            SharedEntry(
                update: $0.update, key: $0.key, expiresIn: $0.expiresIn, values: Array(values[$0.values]),
                serverKey: $0.serverKey)
        }
    }
}

extension StickTable {
    /// A local change (`stktable_touch_local`): the entry takes the next update number, unless it still waits to
    /// be pushed to some peer.
    fileprivate mutating func markUpdated(_ slot: Int32) {
        let id = updateIDs[Int(slot)]
        if id != 0 && id > commitUpdate { return }
        localUpdate += 1
        updateIDs[Int(slot)] = localUpdate
        updateLog.append((localUpdate, slot))
        if updateLog.count > max(4_096, count * 2) {
            updateLog.removeAll { updateIDs[Int($0.slot)] != $0.id }
        }
    }

    /// The entries changed here after update `cursor`, in update order, `limit` at most; and the update the
    /// answer goes through (the next call's cursor).
    func updates(after cursor: UInt64, limit: Int, now: UInt32) -> (batch: SharedBatch, through: UInt64) {
        var lo = 0
        var hi = updateLog.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if updateLog[mid].id <= cursor { lo = mid + 1 } else { hi = mid }
        }
        var out = SharedBatch()
        out.items.reserveCapacity(min(limit, updateLog.count - lo))
        var through = cursor
        for i in lo..<updateLog.count {
            let (id, slot) = updateLog[i]
            through = id
            guard updateIDs[Int(slot)] == id, keys[Int(slot)] != nil else { continue }
            append(slot, update: id, now: now, to: &out)
            if out.count == limit { return (out, id) }
        }
        return (out, max(through, localUpdate))
    }

    /// The live entries from slot `start` on, `limit` at most (a full resynchronisation, in slot order), and the
    /// slot to go on from (nil: done).
    func allEntries(from start: Int, limit: Int, now: UInt32) -> (batch: SharedBatch, next: Int?) {
        var out = SharedBatch()
        out.items.reserveCapacity(limit)
        var slot = start
        while slot < keys.count {
            defer { slot += 1 }
            guard keys[slot] != nil, !expired(Int32(slot), now: now) || refs[slot] > 0 else { continue }
            append(Int32(slot), update: shared ? updateIDs[slot] : 0, now: now, to: &out)
            if out.count == limit { return (out, slot + 1 < keys.count ? slot + 1 : nil) }
        }
        return (out, nil)
    }

    private func append(_ slot: Int32, update: UInt64, now: UInt32, to batch: inout SharedBatch) {
        let first = batch.values.count
        for data in StickData.allCases {
            let offset = offsets[data.rawValue]
            guard offset >= 0 else { continue }
            let base = Int(slot) * stride + offset
            if data.isRate {
                let c = counter(at: base)
                batch.values.append(.rate(elapsed: now &- c.tick, current: c.current, previous: c.previous))
            } else if data.isWide {
                batch.values.append(.number(UInt64(words[base]) << 32 | UInt64(words[base + 1])))
            } else if data == .serverID {
                batch.values.append(.number(UInt64(bitPattern: Int64(Int32(bitPattern: words[base])))))
            } else {
                batch.values.append(.number(UInt64(words[base])))
            }
        }
        let expiresIn = schema.expire == nil ? 0 : UInt32(max(0, Int32(bitPattern: expires[Int(slot)] &- now)))
        batch.items.append(
            SharedBatch.Item(
                update: update, key: keys[Int(slot)] ?? .number(0), expiresIn: expiresIn,
                serverKey: schema.storesServerKey ? serverKeys[Int(slot)] : nil, values: first..<batch.values.count))
    }

    /// A peer's update (`peer_treat_updatemsg`): the entry made or found, without a local update number, its data
    /// set (`conn_cur` stays this process's own), expiring `expire` milliseconds from now. False when the table
    /// is full.
    @discardableResult
    mutating func applyShared(
        _ key: StickKey, values: some Collection<(StickData, SharedValue)>, serverKey: String?, expire: UInt32,
        now: UInt32
    ) -> Bool {
        guard let slot = entry(key, now: now, local: false) else { return false }
        for (data, value) in values where data != .connCurrent {
            let offset = offsets[data.rawValue]
            guard offset >= 0 else { continue }
            let base = Int(slot) * stride + offset
            switch value {
            case .rate(let elapsed, let current, let previous) where data.isRate:
                store(FreqCounter(tick: now &- elapsed, current: current, previous: previous), at: base)
            case .number(let n) where !data.isRate:
                if data.isWide {
                    words[base] = UInt32(truncatingIfNeeded: n >> 32)
                    words[base + 1] = UInt32(truncatingIfNeeded: n)
                } else {
                    words[base] = UInt32(truncatingIfNeeded: n)
                }
            default:
                continue
            }
        }
        if let serverKey, schema.storesServerKey { serverKeys[Int(slot)] = serverKey }
        expires[Int(slot)] = now &+ expire
        return true
    }
}
