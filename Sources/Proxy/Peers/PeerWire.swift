/// HAProxy's peers protocol (v2.1, as HAProxy 2.6 speaks it) on the wire, as values with no I/O: its integers, the
/// handshake's lines, the messages' framing, and the stick-table messages (definition, switch, update,
/// acknowledgement).
enum PeerWire {
    static let protocolName = "HAProxyS"
    static let version = "2.1"

    /// Handshake status codes (`PEER_SESS_SC_*`).
    enum Status: Int, Error, Sendable {
        case success = 200
        case tryAgain = 300
        case protocolError = 501
        case badVersion = 502
        case badHost = 503
        case unknownPeer = 504
    }

    /// Message classes and the control types.
    static let controlClass: UInt8 = 0
    static let errorClass: UInt8 = 1
    static let tableClass: UInt8 = 10
    static let reservedClass: UInt8 = 255

    enum Control: UInt8, Sendable {
        case resyncRequest = 0
        case resyncFinished = 1
        case resyncPartial = 2
        case resyncConfirm = 3
        case heartbeat = 4
    }

    enum TableMessage: UInt8, Sendable {
        case update = 0x80
        case incrementalUpdate = 0x81
        case define = 0x82
        case switchTable = 0x83
        case ack = 0x84
        case timedUpdate = 0x85
        case incrementalTimedUpdate = 0x86
    }

    /// The largest message body HAProxy takes (its buffer, `tune.bufsize`); a longer one is a size-limit error.
    static let maxBody = 16_384

    // MARK: Integers

    /// HAProxy's encoded integer: below 240 one byte; else the low 4 bits with the top four set, then 7 bits a
    /// byte, each but the last with its top bit set.
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var i = value
        guard i >= 240 else {
            out.append(UInt8(i))
            return
        }
        out.append(UInt8(truncatingIfNeeded: i) | 0xF0)
        i = (i - 240) >> 4
        while i >= 128 {
            out.append(UInt8(truncatingIfNeeded: i) | 0x80)
            i = (i - 128) >> 7
        }
        out.append(UInt8(i))
    }

    /// Reads an encoded integer at `index` (moved past it); nil when the bytes end first or it runs past 64 bits.
    static func readVarint(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> UInt64? {
        guard index < bytes.endIndex else { return nil }
        var value = UInt64(bytes[index])
        index += 1
        guard value >= 240 else { return value }
        var shift: UInt64 = 4
        while true {
            guard index < bytes.endIndex, shift < 64 else { return nil }
            let b = bytes[index]
            index += 1
            value &+= UInt64(b) << shift
            shift += 7
            if b < 128 { return value }
        }
    }

    static func appendU32(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    static func readU32(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> UInt32? {
        guard index + 4 <= bytes.endIndex else { return nil }
        defer { index += 4 }
        return UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16 | UInt32(bytes[index + 2]) << 8
            | UInt32(bytes[index + 3])
    }

    // MARK: Framing

    /// One message as received: its class, type and body (empty for types below 128, which have none).
    struct Frame: Equatable, Sendable {
        var messageClass: UInt8
        var type: UInt8
        var body: ArraySlice<UInt8>
    }

    enum FrameError: Error, Equatable {
        /// A length that cannot be read (HAProxy's protocol error).
        case malformed
        /// A body larger than HAProxy takes (its size-limit error).
        case tooLarge
    }

    /// The next whole message in `bytes` from `index` (moved past it); nil when more bytes are needed.
    static func nextFrame(_ bytes: [UInt8], _ index: inout Int) throws(FrameError) -> Frame? {
        guard bytes.count - index >= 2 else { return nil }
        let messageClass = bytes[index]
        let type = bytes[index + 1]
        guard type >= 0x80 else {
            index += 2
            return Frame(messageClass: messageClass, type: type, body: [])
        }
        var cursor = index + 2
        let available = bytes[cursor...]
        guard let length = readVarint(available, &cursor) else {
            // A length of more than 5 bytes is malformed; a shorter one may still be coming.
            if bytes.count - (index + 2) >= 5 { throw .malformed }
            return nil
        }
        guard length <= UInt64(maxBody) else { throw .tooLarge }
        guard bytes.count - cursor >= Int(length) else { return nil }
        let body = bytes[cursor..<(cursor + Int(length))]
        index = cursor + Int(length)
        return Frame(messageClass: messageClass, type: type, body: body)
    }

    static func control(_ type: Control) -> [UInt8] { [controlClass, type.rawValue] }

    /// A stick-table message: class, type, the body's length, the body.
    static func tableMessage(_ type: TableMessage, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + 7)
        appendTableMessage(type, body, to: &out)
        return out
    }

    static func appendTableMessage(_ type: TableMessage, _ body: [UInt8], to out: inout [UInt8]) {
        out.append(tableClass)
        out.append(type.rawValue)
        appendVarint(UInt64(body.count), to: &out)
        out += body
    }

    // MARK: Handshake

    /// The hello a connecting peer sends: the protocol and version, the name it expects the other to have, its
    /// own name with its process id and HAProxy's relative pid (1).
    static func hello(remote: String, local: String, pid: Int32, downgraded: Bool = false) -> [UInt8] {
        Array("\(protocolName) \(downgraded ? "2.0" : version)\n\(remote)\n\(local) \(pid) 1\n".utf8)
    }

    /// What the first hello line says: nil when it is another protocol, else whether the version is one this
    /// side speaks (major 2, minor 0 or 1).
    static func helloVersionAccepted(_ line: String) -> Bool? {
        guard line.hasPrefix(protocolName + " ") else { return nil }
        let version = line.dropFirst(protocolName.count + 1).split(separator: ".", omittingEmptySubsequences: false)
        guard version.count == 2, let major = Int(version[0]), let minor = Int(version[1]) else { return false }
        return major == 2 && minor <= 1
    }
}

// MARK: Tables on the wire

/// How the peers protocol carries a table's keys and data: HAProxy's key type numbers and data type bits.
enum PeerTableFormat {
    /// The key type's number (`PEER_KT_*`).
    static func keyType(_ type: StickTableSchema.KeyType) -> UInt64 {
        switch type {
        case .integer: 2
        case .ip: 4
        case .ipv6: 5
        case .string: 6
        case .binary: 7
        }
    }

    /// A datum's bit in the definition and its place in updates: HAProxy 2.6's `STKTABLE_DT_*` numbers, where
    /// `server_key` (19) comes between `gpc1_rate` and `http_fail_cnt`.
    static func wireType(_ data: StickData) -> Int {
        data.rawValue < 19 ? data.rawValue : data.rawValue + 1
    }

    static let serverKeyType = 19

    /// The data a wire type number stands for in this build (nil: `server_key` or HAProxy's arrays).
    static func data(wireType: Int) -> StickData? {
        switch wireType {
        case 0..<19: StickData(rawValue: wireType)
        case 20, 21: StickData(rawValue: wireType - 1)
        default: nil
        }
    }

    /// How a wire type's values are written: an integer, a rate (three integers), a dictionary entry, or an
    /// array of either (its length from the definition).
    enum Kind: Equatable {
        case integer, rate, dictionary
        case integers, rates
    }

    static func kind(wireType: Int) -> Kind? {
        switch wireType {
        case 3, 5, 8, 10, 12, 14, 16, 18, 21: .rate
        case 0, 1, 2, 4, 6, 7, 9, 11, 13, 15, 17, 20: .integer
        case 19: .dictionary
        case 22, 23: .integers
        case 24: .rates
        default: nil
        }
    }

    /// The table definition message's body (`peer_prepare_switchmsg`): the sender's id for the table, its shared
    /// name, key type and size, the data bits, the expiry, then each rate's type and period.
    static func definition(_ schema: StickTableSchema, id: Int) -> [UInt8] {
        var out: [UInt8] = []
        PeerWire.appendVarint(UInt64(id), to: &out)
        let name = Array(schema.sharedName.utf8)
        PeerWire.appendVarint(UInt64(name.count), to: &out)
        out += name
        PeerWire.appendVarint(keyType(schema.keyType), to: &out)
        PeerWire.appendVarint(UInt64(schema.wireKeySize), to: &out)
        var bits: UInt64 = 0
        var periods: [UInt8] = []
        var types: [(Int, StickData?)] = schema.stored.keys.map { (wireType($0), $0) }
        if schema.storesServerKey { types.append((serverKeyType, nil)) }
        for (type, data) in types.sorted(by: { $0.0 < $1.0 }) {
            bits |= 1 << UInt64(type)
            if let data, data.isRate {
                PeerWire.appendVarint(UInt64(type), to: &periods)
                PeerWire.appendVarint(UInt64(schema.stored[data] ?? 0), to: &periods)
            }
        }
        PeerWire.appendVarint(bits, to: &out)
        PeerWire.appendVarint(UInt64(schema.expire ?? 0), to: &out)
        return out + periods
    }

    /// A received definition: which of our tables it names and whether its key agrees (else its updates are
    /// ignored, as HAProxy ignores them).
    struct RemoteTable: Equatable, Sendable {
        var remoteID: UInt64
        var name: String
        var keyType: UInt64
        var keySize: UInt64
        var bits: UInt64
        /// The element count of each array type.
        var arrayLengths: [Int: Int] = [:]
    }

    enum DefinitionProblem: Error, Equatable {
        /// Not a definition at all (HAProxy's protocol error: the connection ends).
        case malformed
        /// Well formed, but its arrays lack their lengths (HAProxy ignores the table).
        case unusable
    }

    static func readDefinition(_ body: ArraySlice<UInt8>) throws(DefinitionProblem) -> RemoteTable {
        var i = body.startIndex
        guard let id = PeerWire.readVarint(body, &i), let nameLength = PeerWire.readVarint(body, &i),
            nameLength > 0, i + Int(nameLength) < body.endIndex
        else { throw .malformed }
        let name = String(decoding: body[i..<(i + Int(nameLength))], as: UTF8.self)
        i += Int(nameLength)
        guard let type = PeerWire.readVarint(body, &i), let size = PeerWire.readVarint(body, &i),
            let bits = PeerWire.readVarint(body, &i)
        else { throw .malformed }
        var table = RemoteTable(remoteID: id, name: name, keyType: type, keySize: size, bits: bits)
        // The expiry, then the parameters (HAProxy 1.x sent neither: then no arrays are allowed).
        guard PeerWire.readVarint(body, &i) != nil else {
            for t in 22...24 where bits & (1 << UInt64(t)) != 0 { throw .unusable }
            return table
        }
        for t in 0..<64 where bits & (1 << UInt64(t)) != 0 {
            switch kind(wireType: t) {
            case .integers, .rates:
                guard PeerWire.readVarint(body, &i) == UInt64(t), let n = PeerWire.readVarint(body, &i),
                    n <= 1_000
                else { throw .unusable }
                table.arrayLengths[t] = Int(n)
                if kind(wireType: t) == .rates { guard PeerWire.readVarint(body, &i) != nil else { throw .unusable } }
            case .rate:
                guard PeerWire.readVarint(body, &i) == UInt64(t), PeerWire.readVarint(body, &i) != nil else {
                    throw .unusable
                }
            default:
                continue
            }
        }
        return table
    }

    // MARK: Updates

    /// An update message's body (`peer_prepare_updatemsg`): the update number unless it follows the previous one,
    /// the expiry for a timed update, the key, each datum in the definition's order.
    static func update(
        _ entry: SharedEntry, schema: StickTableSchema, withID: Bool, timed: Bool, into out: inout [UInt8]
    ) {
        update(
            entry.update, key: entry.key, expiresIn: entry.expiresIn, values: entry.values[...],
            serverKey: entry.serverKey, layout: Layout(schema), withID: withID, timed: timed, into: &out)
    }

    /// A table's data in the order updates carry them, worked out once: where `server_key` goes among them.
    struct Layout: Sendable {
        let schema: StickTableSchema
        /// The stored data's count before `server_key` (nil: the table keeps none).
        let serverKeyAt: Int?
        let count: Int

        init(_ schema: StickTableSchema) {
            self.schema = schema
            let stored = StickData.allCases.filter { schema.stored[$0] != nil }
            count = stored.count
            serverKeyAt = schema.storesServerKey ? stored.filter { wireType($0) < serverKeyType }.count : nil
        }
    }

    static func update(
        _ update: UInt64, key: StickKey, expiresIn: UInt32, values: ArraySlice<SharedValue>, serverKey: String?,
        layout: Layout, withID: Bool, timed: Bool, into out: inout [UInt8]
    ) {
        if withID { PeerWire.appendU32(UInt32(truncatingIfNeeded: update), to: &out) }
        if timed { PeerWire.appendU32(expiresIn, to: &out) }
        appendKey(key, schema: layout.schema, to: &out)
        var values = values.makeIterator()
        for i in 0..<layout.count {
            if i == layout.serverKeyAt { appendServerKey(serverKey, to: &out) }
            switch values.next() {
            case .number(let n): PeerWire.appendVarint(n, to: &out)
            case .rate(let elapsed, let current, let previous):
                PeerWire.appendVarint(UInt64(elapsed), to: &out)
                PeerWire.appendVarint(UInt64(current), to: &out)
                PeerWire.appendVarint(UInt64(previous), to: &out)
            case nil: PeerWire.appendVarint(0, to: &out)
            }
        }
        if layout.serverKeyAt == layout.count { appendServerKey(serverKey, to: &out) }
    }

    /// `server_key` as a dictionary entry sent whole (entry 1, its length, its text); 0 for none.
    private static func appendServerKey(_ name: String?, to out: inout [UInt8]) {
        guard let name else { return PeerWire.appendVarint(0, to: &out) }
        var entry: [UInt8] = []
        PeerWire.appendVarint(1, to: &entry)
        let bytes = Array(name.utf8)
        PeerWire.appendVarint(UInt64(bytes.count), to: &entry)
        entry += bytes
        PeerWire.appendVarint(UInt64(entry.count), to: &out)
        out += entry
    }

    static func appendKey(_ key: StickKey, schema: StickTableSchema, to out: inout [UInt8]) {
        switch (schema.keyType, key) {
        case (.ip, .number(let n)), (.integer, .number(let n)):
            PeerWire.appendU32(UInt32(truncatingIfNeeded: n), to: &out)
        case (.ipv6, .number(let n)):
            for shift in stride(from: 120, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n >> UInt128(shift))) }
        case (.string, _):
            let bytes = key.byteValue ?? []
            PeerWire.appendVarint(UInt64(bytes.count), to: &out)
            out += bytes
        default:
            let bytes = key.byteValue ?? []
            out += bytes.prefix(schema.wireKeySize)
            if bytes.count < schema.wireKeySize { out += repeatElement(0, count: schema.wireKeySize - bytes.count) }
        }
    }

    /// A received update, read against the sender's definition and our table.
    struct ReceivedUpdate: Equatable {
        var update: UInt32?
        var expire: UInt32?
        var key: StickKey
        var values: [(StickData, SharedValue)]
        /// `server_key`: an entry of the sender's dictionary, with its text when sent whole.
        var serverKey: (id: Int, text: String?)?

        static func == (a: ReceivedUpdate, b: ReceivedUpdate) -> Bool {
            a.update == b.update && a.expire == b.expire && a.key == b.key && a.values.elementsEqual(b.values, by: { $0 == $1 })
                && a.serverKey?.id == b.serverKey?.id && a.serverKey?.text == b.serverKey?.text
        }
    }

    static func readUpdate(
        _ body: ArraySlice<UInt8>, withID: Bool, timed: Bool, remote: RemoteTable, schema: StickTableSchema
    ) -> ReceivedUpdate? {
        var values: [(StickData, SharedValue)] = []
        guard let head = readUpdate(body, withID: withID, timed: timed, remote: remote, schema: schema, values: &values)
        else { return nil }
        return ReceivedUpdate(update: head.update, expire: head.expire, key: head.key, values: values, serverKey: head.serverKey)
    }

    /// A received update's head; its data appended to `values` (one array for many updates: no allocation per
    /// update). Nil when the body is not an update of this definition.
    struct UpdateHead {
        var update: UInt32?
        var expire: UInt32?
        var key: StickKey
        var serverKey: (id: Int, text: String?)?
        var values: Range<Int>
    }

    static func readUpdate(
        _ body: ArraySlice<UInt8>, withID: Bool, timed: Bool, remote: RemoteTable, schema: StickTableSchema,
        values: inout [(StickData, SharedValue)]
    ) -> UpdateHead? {
        let first = values.count
        var i = body.startIndex
        var update: UInt32?
        var expire: UInt32?
        if withID {
            guard let id = PeerWire.readU32(body, &i) else { return nil }
            update = id
        }
        if timed {
            guard let e = PeerWire.readU32(body, &i) else { return nil }
            expire = e
        }
        let key: StickKey
        switch schema.keyType {
        case .string:
            guard let length = PeerWire.readVarint(body, &i), length <= UInt64(body.endIndex - i) else { return nil }
            let stored = min(Int(length), schema.explicitLength ? schema.keyLength : schema.keyLength - 1)
            key = .bytes(Array(body[i..<(i + stored)]))
            i += Int(length)
        case .ip, .integer:
            guard let n = PeerWire.readU32(body, &i) else { return nil }
            key = .number(UInt128(n))
        case .ipv6:
            guard i + 16 <= body.endIndex else { return nil }
            var n: UInt128 = 0
            for b in body[i..<(i + 16)] { n = n << 8 | UInt128(b) }
            i += 16
            key = .number(n)
        case .binary:
            guard i + schema.wireKeySize <= body.endIndex else { return nil }
            key = .bytes(Array(body[i..<(i + schema.wireKeySize)]))
            i += schema.wireKeySize
        }
        var serverKey: (id: Int, text: String?)?
        var bits = remote.bits
        while bits != 0 {
            let t = bits.trailingZeroBitCount
            bits &= bits - 1
            guard let kind = kind(wireType: t) else { return nil }
            switch kind {
            case .integer:
                guard let n = PeerWire.readVarint(body, &i) else { return nil }
                if let data = data(wireType: t) { values.append((data, .number(n))) }
            case .rate:
                guard let elapsed = PeerWire.readVarint(body, &i), let current = PeerWire.readVarint(body, &i),
                    let previous = PeerWire.readVarint(body, &i)
                else { return nil }
                if let data = data(wireType: t) {
                    values.append(
                        (data, .rate(
                            elapsed: UInt32(truncatingIfNeeded: elapsed), current: UInt32(truncatingIfNeeded: current),
                            previous: UInt32(truncatingIfNeeded: previous))))
                }
            case .integers:
                for _ in 0..<(remote.arrayLengths[t] ?? 0) { guard PeerWire.readVarint(body, &i) != nil else { return nil } }
            case .rates:
                for _ in 0..<(3 * (remote.arrayLengths[t] ?? 0)) {
                    guard PeerWire.readVarint(body, &i) != nil else { return nil }
                }
            case .dictionary:
                guard let length = PeerWire.readVarint(body, &i) else { return nil }
                guard length > 0 else { continue }
                guard length <= UInt64(body.endIndex - i) else { return nil }
                let end = i + Int(length)
                let entry = body[i..<end]
                var j = entry.startIndex
                guard let id = PeerWire.readVarint(entry, &j), id > 0, id <= 128 else { return nil }
                if j == end {
                    serverKey = (Int(id), nil)
                } else {
                    guard let textLength = PeerWire.readVarint(entry, &j), textLength == UInt64(end - j) else {
                        return nil
                    }
                    serverKey = (Int(id), String(decoding: entry[j..<end], as: UTF8.self))
                }
                i = end
            }
        }
        return UpdateHead(update: update, expire: expire, key: key, serverKey: serverKey, values: first..<values.count)
    }

    /// The acknowledgement's body: the sender's id for the table, the last update received.
    static func ack(remoteID: UInt64, update: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        PeerWire.appendVarint(remoteID, to: &out)
        PeerWire.appendU32(update, to: &out)
        return out
    }
}
