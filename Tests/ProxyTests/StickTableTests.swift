import LogCore
import NIOHTTP1
import Testing

@testable import Proxy

@Suite("Stick tables")
struct StickTableTests {
    func schema(
        _ type: StickTableSchema.KeyType = .ip, size: Int = 100, expire: UInt32? = 10_000,
        store: [StickData: UInt32] = [:]
    ) -> StickTableSchema {
        var s = StickTableSchema(name: "t", keyType: type, size: size, location: SourceLocation(file: "t.cfg", line: 1))
        s.expire = expire
        s.stored = store
        return s
    }

    let v4 = AddressSet.mapped(0x7F00_0001)

    // MARK: HAProxy's freq_ctr

    @Test func aRateCountsTheCurrentPeriodAndTheOverlapOfThePreviousOne() {
        var c = FreqCounter()
        let start: UInt32 = 1_000_000
        for i in 0..<20 { c.add(1, period: 10_000, now: start + UInt32(i) * 100) }
        #expect(c.rate(period: 10_000, now: start + 2_000) == 20, "all within the first period")
        // Half-way through the next period: the 20 of the previous one weigh half.
        c.add(4, period: 10_000, now: start + 10_000)
        #expect(c.rate(period: 10_000, now: start + 15_000) == 4 + 10)
        // Two periods later nothing is left of them.
        #expect(c.rate(period: 10_000, now: start + 30_001) == 0)
    }

    @Test func aCounterIdleForTwoPeriodsStartsAfresh() {
        var c = FreqCounter()
        c.add(5, period: 1_000, now: 50_000)
        c.add(1, period: 1_000, now: 53_500)
        #expect(c.previous == 0 && c.current == 1 && c.tick == 53_500)
        #expect(c.rate(period: 1_000, now: 53_600) == 1)
    }

    @Test func aRateLimitSaysHowManyMoreAndHowLongToWait() {
        // `rate-limit sessions 10`: ten at once fill the window; HAProxy then looks again 1 ms later, until the
        // window has slid a tenth of a second past them.
        var c = FreqCounter()
        for _ in 0..<10 { c.add(1, period: 1_000, now: 5_000) }
        #expect(c.remaining(freq: 10, now: 5_000) == 0)
        #expect(c.nextEventDelay(freq: 10, now: 5_000) == 1)
        c.add(5, period: 1_000, now: 5_500)
        #expect(c.nextEventDelay(freq: 10, now: 5_500) == 500, "five over: half a second")
        var d = FreqCounter()
        for _ in 0..<10 { d.add(1, period: 1_000, now: 5_000) }
        #expect(d.nextEventDelay(freq: 10, now: 6_100) == 0 && d.remaining(freq: 10, now: 6_100) == 1)
        c = d
        #expect(c.remaining(freq: 10, now: 6_500) == 5)
        #expect(c.remaining(freq: 10, now: 7_000) == 10)
    }

    @Test func lowRatesDoNotFlap() {
        // One event last period and none now reads 1 until the window has moved past it (HAProxy's correction).
        var c = FreqCounter()
        c.add(1, period: 10_000, now: 100_000)
        #expect(c.rate(period: 10_000, now: 115_000) == 1)
    }

    @Test func theClockMayWrap() {
        var c = FreqCounter()
        let start = UInt32.max - 500
        c.add(3, period: 1_000, now: start)
        c.add(2, period: 1_000, now: start &+ 700)
        #expect(c.rate(period: 1_000, now: start &+ 900) == 5)
    }

    // MARK: Entries

    @Test func trackingCountsConnectionsAndKeepsTheEntryWhileTracked() {
        var t = StickTable(schema(store: [.connCurrent: 0, .connCount: 0, .connRate: 1_000]))
        let key = StickKey.number(1)
        guard let slot = t.entry(key, now: 1_000) else { return #expect(Bool(false)) }
        t.startTracking(slot, now: 1_000)
        t.startTracking(slot, now: 1_001)
        #expect(t.read(.connCurrent, slot, now: 1_002) == 2)
        #expect(t.read(.connCount, slot, now: 1_002) == 2)
        #expect(t.read(.connRate, slot, now: 1_002) == 2)
        #expect(t.read(.httpReqRate, slot, now: 1_002) == nil, "not stored: no value")
        // Expired but tracked: kept.
        t.purge(now: 60_000)
        #expect(t.count == 1)
        t.stopTracking(slot, now: 60_000)
        t.stopTracking(slot, now: 60_000)
        #expect(t.read(.connCurrent, slot, now: 60_000) == 0)
        #expect(t.lookup(key, now: 69_999) == slot, "the end of the tracking touched it")
        #expect(t.lookup(key, now: 70_000) == nil)
        t.purge(now: 70_000)
        #expect(t.count == 0)
    }

    @Test func aFullTableRemovesItsOldestUntrackedEntries() {
        var t = StickTable(schema(size: 4, expire: nil))
        var slots: [Int32] = []
        for k in 0..<4 { if let s = t.entry(.number(UInt128(k)), now: 10) { slots.append(s) } }
        t.retain(slots[0])
        // Key 1 is touched: key 2 is now the oldest untracked one.
        _ = t.entry(.number(1), now: 11)
        #expect(t.entry(.number(9), now: 12) != nil)
        #expect(t.count == 4)
        #expect(t.lookup(.number(0), now: 12) != nil, "tracked: kept")
        #expect(t.lookup(.number(1), now: 12) != nil, "recently used: kept")
        #expect(t.lookup(.number(2), now: 12) == nil)
    }

    @Test func noPurgeRefusesNewKeysWhenFull() {
        var s = schema(size: 2, expire: nil)
        s.noPurge = true
        var t = StickTable(s)
        _ = t.entry(.number(1), now: 0)
        _ = t.entry(.number(2), now: 0)
        #expect(t.entry(.number(3), now: 0) == nil)
        #expect(t.entry(.number(1), now: 0) != nil, "a known key is still found")
    }

    @Test func gpcCountersAndTheirRates() {
        var t = StickTable(schema(store: [.gpc0: 0, .gpc0Rate: 1_000, .gpt0: 0]))
        guard let slot = t.entry(.number(5), now: 500) else { return #expect(Bool(false)) }
        #expect(t.incrementGPC(0, slot, now: 500) == 1)
        #expect(t.incrementGPC(0, slot, now: 600) == 2)
        #expect(t.read(.gpc0Rate, slot, now: 700) == 2)
        #expect(t.clearGPC(0, slot, now: 700) == 2)
        #expect(t.read(.gpc0, slot, now: 700) == 0)
        // Without gpc0, sc_inc_gpc0 answers the rate's current count.
        var r = StickTable(schema(store: [.gpc0Rate: 1_000]))
        guard let other = r.entry(.number(5), now: 500) else { return #expect(Bool(false)) }
        _ = r.incrementGPC(0, other, now: 500)
        #expect(r.incrementGPC(0, other, now: 501) == 2)
    }

    @Test func showTableLinesAreHAProxys() {
        var t = StickTable(schema(store: [.httpReqRate: 10_000, .gpc0: 0, .connCurrent: 0]))
        guard let slot = t.entry(.number(0x7F00_0001), now: 1_000) else { return #expect(Bool(false)) }
        t.count(.request, slot, now: 1_000)
        #expect(t.dumpLine(slot, now: 4_000) == "key=127.0.0.1 use=0 exp=7000 gpc0=0 conn_cur=0 http_req_rate(10000)=1")
    }

    // MARK: Keys

    @Test func keysAreMadeAsHAProxyCastsSamples() {
        #expect(schema(.ip).key(.address(v4)) == .number(0x7F00_0001))
        #expect(schema(.ip).key(.address(1)) == nil, "an IPv6 client has no key in an ip table")
        #expect(schema(.ipv6).key(.address(v4)) == .number(v4))
        #expect(schema(.ipv6).text(.number(v4)) == "::ffff:127.0.0.1")
        #expect(schema(.ipv6).text(.number(1)) == "::1")
        #expect(schema(.integer).key(.text(Array("42abc".utf8))) == .number(42))
        var string = schema(.string)
        string.keyLength = 4
        #expect(string.key(.text(Array("abcdefgh".utf8))) == .bytes(Array("abcd".utf8)))
        #expect(string.key(.address(v4)) == .bytes(Array("127.".utf8)))
        var binary = schema(.binary)
        binary.keyLength = 6
        #expect(binary.key(.binary([1, 2])) == .bytes([1, 2, 0, 0, 0, 0]))
        #expect(binary.text(.bytes([0xAB, 1])) == "AB01")
        let long = StickKey.bytes(Array(repeating: 7, count: 16))
        #expect(long == .long(Array(repeating: 7, count: 16)) && long.byteValue?.count == 16)
        #expect(StickKey.bytes([1, 2, 3]).byteValue == [1, 2, 3] && StickKey.bytes([]).byteValue == [])
        #expect(StickKey.bytes([1, 0]) != StickKey.bytes([1]), "the count is part of the key")
    }

    @Test func base32IsHAProxysHash() {
        // HAProxy 2.6: `http-request return … lf-string "%[base32]"` for `Host: example.com`, `GET /a/b?x=1`.
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/a/b?x=1")
        head.headers.add(name: "host", value: "example.com")
        #expect(StickSampleSource.hash32(head, wholeURL: false) == 2_306_047_707)
        #expect(StickSampleSource.hash32(head, wholeURL: true) == 33_776_310)
    }

    // MARK: Auditing limits

    @Test func aBlockedSourceIsAuditedOnceAMinute() {
        var schedule = LimitAuditSchedule()
        #expect(schedule.blocked("10.0.0.1 site", now: 1_000) == 1, "the first block: a line at once")
        for t in 1_001..<1_060 { #expect(schedule.blocked("10.0.0.1 site", now: UInt64(t)) == nil) }
        #expect(schedule.blocked("10.0.0.2 site", now: 1_030) == 1, "another source: its own line")
        #expect(schedule.blocked("10.0.0.1 site", now: 1_060) == 60, "a minute later: the 60 blocks since")
        #expect(schedule.blocked("10.0.0.1 site", now: 1_061) == nil)
        #expect(schedule.blocked("10.0.0.1 site", now: 5_000) == 2, "a block after a pause ends the minute")
    }

    @Test func theScheduleForgetsQuietSources() {
        var schedule = LimitAuditSchedule(interval: 60, capacity: 3)
        _ = schedule.blocked("a", now: 0)
        _ = schedule.blocked("b", now: 10)
        _ = schedule.blocked("c", now: 100)
        // a and b are quiet: forgotten to make room, so a's next block is a first one again.
        #expect(schedule.blocked("d", now: 101) == 1)
        #expect(schedule.blocked("a", now: 102) == 1)
    }

    @Test func theIndexAgreesWithASetThroughInsertsAndRemovals() {
        // 20,000 operations on 3,000 keys, against a Set: every key found exactly when the Set has it.
        var t = StickTable(schema(size: 100_000, expire: nil))
        var model = Set<UInt128>()
        var state: UInt64 = 42
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for _ in 0..<20_000 {
            let k = UInt128(next() % 3_000)
            if next() % 3 == 0 {
                #expect(t.remove(.number(k)) == model.contains(k))
                model.remove(k)
            } else {
                #expect(t.entry(.number(k), now: 0) != nil)
                model.insert(k)
            }
        }
        #expect(t.count == model.count)
        for k in 0..<UInt128(3_000) { #expect((t.lookup(.number(k), now: 0) != nil) == model.contains(k)) }
    }
}
