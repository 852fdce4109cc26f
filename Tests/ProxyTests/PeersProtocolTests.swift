import LogCore
import Testing

@testable import Proxy

/// The peers protocol as HAProxy 2.6 writes it (doc/peers-v2.0.txt and src/peers.c), and the stick table's side of
/// it: update numbers, what a peer is sent, what a peer's update changes.
@Suite("Peers protocol")
struct PeersProtocolTests {
    func schema(
        _ type: StickTableSchema.KeyType = .ip, expire: UInt32? = 60_000, store: [StickData: UInt32] = [:],
        name: String = "rates"
    ) -> StickTableSchema {
        var s = StickTableSchema(name: name, keyType: type, size: 1_000, location: SourceLocation(file: "t.cfg", line: 1))
        s.expire = expire
        s.stored = store
        s.peers = "mesh"
        return s
    }

    func encoded(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        PeerWire.appendVarint(value, to: &out)
        return out
    }

    // MARK: Encoded integers

    @Test func integersTakeTheDocumentedNumberOfBytesAtEachBoundary() {
        // doc/peers-v2.0.txt: 1 byte below 240, 2 below 2288, 3 below 264432, 4 below 33818864, 5 below 4328786160.
        let boundaries: [(UInt64, Int)] = [
            (0, 1), (239, 1), (240, 2), (2_287, 2), (2_288, 3), (264_431, 3), (264_432, 4), (33_818_863, 4),
            (33_818_864, 5), (4_328_786_159, 5), (4_328_786_160, 6),
        ]
        for (value, bytes) in boundaries {
            #expect(encoded(value).count == bytes, "\(value)")
        }
        #expect(encoded(240) == [0xF0, 0x00])
        #expect(encoded(241) == [0xF1, 0x00])
        #expect(encoded(256) == [0xF0, 0x01])
        #expect(encoded(2_288) == [0xF0, 0x80, 0x00])
    }

    @Test func everyIntegerReadsBackAndATruncatedOneIsNoInteger() {
        var values: [UInt64] = [0, 1, 239, 240, 1_000, 65_535, 1 << 32, UInt64.max]
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2_000 { values.append(UInt64.random(in: 0...UInt64.max, using: &g) >> UInt64.random(in: 0..<64, using: &g)) }
        for value in values {
            let bytes = encoded(value)
            var i = 0
            #expect(PeerWire.readVarint(bytes[...], &i) == value && i == bytes.count, "\(value)")
            if bytes.count > 1 {
                var j = 0
                #expect(PeerWire.readVarint(bytes.dropLast()[...], &j) == nil, "\(value) cut")
            }
        }
    }

    // MARK: Framing

    @Test func framesAreWholeOrWaitedFor() throws {
        let heartbeat = PeerWire.control(.heartbeat)
        let ack = PeerWire.tableMessage(.ack, PeerTableFormat.ack(remoteID: 1, update: 7))
        let bytes = heartbeat + ack
        var i = 0
        #expect(try PeerWire.nextFrame(bytes, &i) == PeerWire.Frame(messageClass: 0, type: 4, body: []))
        let frame = try PeerWire.nextFrame(bytes, &i)
        #expect(frame?.messageClass == 10 && frame?.type == 0x84 && Array(frame?.body ?? []) == [1, 0, 0, 0, 7])
        #expect(i == bytes.count)
        // Cut anywhere, the message is waited for and nothing is consumed.
        for cut in 1..<ack.count {
            var k = 0
            #expect(try PeerWire.nextFrame(Array(ack.prefix(cut)), &k) == nil && k == 0, "cut at \(cut)")
        }
    }

    @Test func anOversizedOrUnreadableLengthIsRefused() {
        var big: [UInt8] = [10, 0x80]
        PeerWire.appendVarint(100_000, to: &big)
        var i = 0
        #expect(throws: PeerWire.FrameError.tooLarge) { try PeerWire.nextFrame(big, &i) }
        // Six bytes of length (all with their top bit set) is no length at all.
        var j = 0
        #expect(throws: PeerWire.FrameError.malformed) {
            try PeerWire.nextFrame([10, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], &j)
        }
    }

    // MARK: Handshake

    @Test func theHelloIsHAProxysThreeLines() {
        #expect(String(decoding: PeerWire.hello(remote: "lb2", local: "lb1", pid: 42), as: UTF8.self) == "HAProxyS 2.1\nlb2\nlb1 42 1\n")
        #expect(PeerWire.helloVersionAccepted("HAProxyS 2.1") == true)
        #expect(PeerWire.helloVersionAccepted("HAProxyS 2.0") == true)
        #expect(PeerWire.helloVersionAccepted("HAProxyS 2.2") == false)
        #expect(PeerWire.helloVersionAccepted("HAProxyS 3.0") == false)
        #expect(PeerWire.helloVersionAccepted("GET / HTTP/1.1") == nil)
    }

    // MARK: Definitions

    @Test func aDefinitionCarriesHAProxysTypeNumbersAndDataBits() throws {
        // The table of the interop test: HAProxy's `show peers` gives its remote_data as 0x414.
        let s = schema(store: [.httpReqRate: 10_000, .gpc0: 0, .connCount: 0])
        let body = PeerTableFormat.definition(s, id: 1)
        var expected: [UInt8] = [1, 5] + Array("rates".utf8) + [4, 4]
        PeerWire.appendVarint(0x414, to: &expected)
        PeerWire.appendVarint(60_000, to: &expected)
        PeerWire.appendVarint(10, to: &expected)
        PeerWire.appendVarint(10_000, to: &expected)
        #expect(body == expected)
        let read = try PeerTableFormat.readDefinition(body[...])
        #expect(read.remoteID == 1 && read.name == "rates" && read.keyType == 4 && read.keySize == 4 && read.bits == 0x414)
    }

    @Test func keySizesAreHAProxys() {
        var string = schema(.string)
        #expect(string.wireKeySize == 32, "the default string key holds 31 bytes and its NUL")
        string.keyLength = 8
        string.explicitLength = true
        #expect(string.wireKeySize == 9)
        var binary = schema(.binary)
        binary.keyLength = 8
        binary.explicitLength = true
        #expect(binary.wireKeySize == 8)
        #expect(schema(.ipv6).wireKeySize == 16 && schema(.integer).wireKeySize == 4)
        #expect(PeerTableFormat.keyType(.integer) == 2 && PeerTableFormat.keyType(.binary) == 7)
    }

    @Test func aPeersSectionTablesSharedNameLeavesOutTheSection() {
        #expect(schema(name: "mesh/rates").sharedName == "rates")
        #expect(schema(name: "be_rates").sharedName == "be_rates")
    }

    @Test func serverKeyTakesHAProxysBitBetweenGPC1RateAndHTTPFailCount() {
        #expect(PeerTableFormat.wireType(.gpc1Rate) == 18)
        #expect(PeerTableFormat.wireType(.httpFailCount) == 20)
        #expect(PeerTableFormat.wireType(.httpFailRate) == 21)
        #expect(PeerTableFormat.data(wireType: 19) == nil && PeerTableFormat.data(wireType: 20) == .httpFailCount)
    }

    @Test func aDefinitionWithArraysButNoLengthsIsUnusableAndGarbageIsMalformed() {
        var noLengths: [UInt8] = [3, 1, 0x74, 4, 4]
        PeerWire.appendVarint(1 << 23, to: &noLengths)
        #expect(throws: PeerTableFormat.DefinitionProblem.unusable) { try PeerTableFormat.readDefinition(noLengths[...]) }
        #expect(throws: PeerTableFormat.DefinitionProblem.malformed) { try PeerTableFormat.readDefinition([1, 40, 0x61][...]) }
    }

    // MARK: Updates

    func roundTrip(_ s: StickTableSchema, _ entry: SharedEntry, timed: Bool = false) throws -> PeerTableFormat.ReceivedUpdate? {
        var body: [UInt8] = []
        PeerTableFormat.update(entry, schema: s, withID: true, timed: timed, into: &body)
        let remote = try PeerTableFormat.readDefinition(PeerTableFormat.definition(s, id: 3)[...])
        return PeerTableFormat.readUpdate(body[...], withID: true, timed: timed, remote: remote, schema: s)
    }

    @Test func anUpdateOfEachKeyTypeReadsBack() throws {
        let keys: [(StickTableSchema.KeyType, StickKey)] = [
            (.ip, .number(0x7F00_0001)), (.integer, .number(123_456)), (.ipv6, .number(UInt128(1) << 100 | 5)),
            (.string, .bytes(Array("/login".utf8))), (.binary, .bytes([1, 2, 3, 0, 0, 0, 0, 0])),
        ]
        for (type, key) in keys {
            var s = schema(type, store: [.gpc0: 0, .httpReqRate: 10_000, .bytesInCount: 0])
            if type == .binary {
                s.keyLength = 8
                s.explicitLength = true
            }
            let entry = SharedEntry(
                update: 9, key: key, expiresIn: 5_000,
                values: [.number(3), .rate(elapsed: 700, current: 12, previous: 40), .number(1 << 40)])
            let read = try roundTrip(s, entry, timed: true)
            #expect(read?.key == key, "\(type)")
            #expect(read?.update == 9 && read?.expire == 5_000)
            #expect(read?.values.map(\.0) == [.gpc0, .httpReqRate, .bytesInCount])
            #expect(read?.values.map(\.1) == entry.values)
        }
    }

    @Test func theServerKeyTravelsAsADictionaryEntry() throws {
        var s = schema(store: [.serverID: 0])
        s.storesServerKey = true
        let read = try roundTrip(s, SharedEntry(update: 1, key: .number(1), expiresIn: 0, values: [.number(2)], serverKey: "app2"))
        #expect(read?.serverKey?.id == 1 && read?.serverKey?.text == "app2")
        #expect(read?.values.first?.1 == .number(2))
        let none = try roundTrip(s, SharedEntry(update: 1, key: .number(1), expiresIn: 0, values: [.number(0)], serverKey: nil))
        #expect(none?.serverKey == nil)
    }

    @Test func aTruncatedUpdateIsNoUpdate() throws {
        let s = schema(store: [.httpReqRate: 10_000])
        var body: [UInt8] = []
        PeerTableFormat.update(
            SharedEntry(update: 1, key: .number(1), expiresIn: 0, values: [.rate(elapsed: 1, current: 300, previous: 2)]),
            schema: s, withID: true, timed: false, into: &body)
        let remote = try PeerTableFormat.readDefinition(PeerTableFormat.definition(s, id: 1)[...])
        for cut in 0..<body.count {
            #expect(PeerTableFormat.readUpdate(body.prefix(cut)[...], withID: true, timed: false, remote: remote, schema: s) == nil)
        }
    }

    @Test func theAcknowledgementNumberWidensToTheLatestLocalUpdate() {
        #expect(PeerLink.widen(5, below: 10) == 5)
        #expect(PeerLink.widen(0xFFFF_FFFF, below: 1 << 32 | 3) == 0xFFFF_FFFF)
        #expect(PeerLink.widen(2, below: 1 << 32 | 3) == 1 << 32 | 2)
        #expect(PeerLink.widen(7, below: 3) == 0)
    }

    // MARK: The table's side

    @Test func eachLocalChangeTakesTheNextUpdateNumberUnlessItStillWaits() {
        var t = StickTable(schema(store: [.httpReqCount: 0]))
        let now: UInt32 = 1_000
        guard let a = t.entry(.number(1), now: now), let b = t.entry(.number(2), now: now) else {
            Issue.record("no entry")
            return
        }
        t.count(.request, a, now: now)
        t.count(.request, b, now: now)
        // `a` has not been pushed yet: it keeps its place.
        t.count(.request, a, now: now)
        #expect(t.localUpdate == 2)
        var sent = t.updates(after: 0, limit: 10, now: now)
        #expect(sent.batch.entries.map(\.key) == [.number(1), .number(2)] && sent.through == 2)
        // Once pushed, a change takes a new number and comes after `b`.
        t.commitUpdate = 2
        t.count(.request, a, now: now)
        sent = t.updates(after: 2, limit: 10, now: now)
        #expect(sent.batch.entries.map(\.key) == [.number(1)] && sent.batch.entries.first?.update == 3)
        #expect(sent.batch.entries.first?.values == [.number(3)])
        // Limited answers go on from where they stopped.
        let first = t.updates(after: 0, limit: 1, now: now)
        #expect(first.batch.entries.map(\.key) == [.number(2)] && first.through == 2)
    }

    @Test func theLogStaysBoundedAndInOrderUnderManyChanges() {
        var t = StickTable(schema(store: [.gpc0: 0]))
        var now: UInt32 = 1_000
        for round in 0..<50 {
            for k in 0..<200 {
                guard let slot = t.entry(.number(UInt128(k)), now: now) else { continue }
                _ = t.incrementGPC(0, slot, now: now)
            }
            t.commitUpdate = t.localUpdate
            now += 1
            _ = round
        }
        let all = t.updates(after: 0, limit: 1_000, now: now).batch.entries
        #expect(all.count == 200)
        #expect(all.map(\.update) == all.map(\.update).sorted())
        #expect(all.allSatisfy { $0.values == [.number(50)] })
    }

    @Test func aPeersUpdateSetsTheDataWithoutALocalNumberAndKeepsConnCur() {
        var t = StickTable(schema(store: [.connCurrent: 0, .httpReqRate: 10_000, .gpc0: 0]))
        let now: UInt32 = 50_000
        t.applyShared(
            .number(9), values: [(.connCurrent, .number(4)), (.gpc0, .number(7)), (.httpReqRate, .rate(elapsed: 1_000, current: 6, previous: 0))],
            serverKey: nil, expire: 2_000, now: now)
        #expect(t.localUpdate == 0, "a peer's change is not pushed back")
        guard let slot = t.lookup(.number(9), now: now) else {
            Issue.record("no entry")
            return
        }
        #expect(t.read(.gpc0, slot, now: now) == 7)
        #expect(t.read(.connCurrent, slot, now: now) == 0, "conn_cur is each process's own")
        #expect(t.read(.httpReqRate, slot, now: now) == 6)
        #expect(t.expiresIn(slot, now: now) == 2_000)
        // Its lesson (a full resynchronisation) carries it, rate and expiry as they are now.
        let lesson = t.allEntries(from: 0, limit: 10, now: now + 500)
        #expect(lesson.next == nil && lesson.batch.entries.count == 1)
        #expect(lesson.batch.entries.first?.expiresIn == 1_500)
        #expect(lesson.batch.entries.first?.values.contains(.rate(elapsed: 1_500, current: 6, previous: 0)) == true)
    }
}
