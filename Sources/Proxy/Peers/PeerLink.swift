import Foundation
import NIOCore

/// One session of the peers protocol (HAProxy's peer applet): the handshake (sending the hello on a connection it
/// opened, checking one on a connection it accepted), then the messages both ways: the tables' definitions and
/// updates, their acknowledgements, heartbeats, and the resynchronisation's lessons. It lives on its service's
/// event loop.
final class PeerLink: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase {
        /// Accepted: reading the three hello lines.
        case hello
        /// Connected: waiting for the status line.
        case status
        case messages
        case closed
    }

    /// Where this session stands with one table.
    struct Cursor {
        /// Our last update sent (`last_pushed`) and where a lesson started (`teaching_origin`).
        var lastPushed: UInt64 = 0
        var teachingOrigin: UInt64 = 0
        /// The peer's last update received (`last_get`) and acknowledged (`last_acked`).
        var lastGet: UInt32 = 0
        var lastAcked: UInt32 = 0
        /// The peer's id for the table (from its definition), for our acknowledgements.
        var remoteID: UInt64?
    }

    let service: PeersService
    private(set) var peer: PeersService.Peer?
    let outgoing: Bool
    private(set) var phase: Phase
    private(set) var channel: (any Channel)?
    private var context: ChannelHandlerContext?
    /// Runs when the session ends before its handshake succeeded (a connection this side opened).
    var onFailure: (@Sendable () -> Void)?

    private var input: [UInt8] = []
    private var helloLines: [String] = []
    private var cursors: [Cursor]
    /// The peer's definitions, by its id for them: our table's index (nil: none of ours, or not agreeing).
    private var remoteTables: [UInt64: (index: Int?, table: PeerTableFormat.RemoteTable)] = [:]
    /// The table the peer's next updates are for.
    private var current: (index: Int, table: PeerTableFormat.RemoteTable)?
    /// The table our last updates were for (a definition precedes updates of another one).
    private var lastDefined: Int?
    /// The peer's `server_key` dictionary (its entries by number, from 1).
    private var dictionary = [String?](repeating: nil, count: 128)

    /// A full lesson in progress (after the peer's resync request, or to the next process): the table and slot
    /// it has reached; `taught` once the end of it was sent.
    private var teaching: (table: Int, slot: Int)?
    private var taught = false
    /// This session was asked (or is expected) to teach us; `learnRequested` once the request left.
    var learning = false
    private var learnRequested = false
    /// Confirmations owed for the lessons received.
    private var confirmations = 0

    private var lastSent = NIODeadline.now()
    private var lastReceived = NIODeadline.now()
    var established: Bool { phase == .messages }

    init(service: PeersService, peer: PeersService.Peer?) {
        self.service = service
        self.peer = peer
        outgoing = peer != nil
        phase = peer != nil ? .status : .hello
        cursors = Array(repeating: Cursor(), count: service.tables.count)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        channel = context.channel
        // A handshake not done in 5 seconds ends (HAProxy's peers frontend's client timeout).
        context.eventLoop.scheduleTask(in: PeersService.reconnectTimeout) { [self] in
            if phase == .hello || phase == .status { close() }
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        guard outgoing, let peer else { return }
        peer.status = 110
        let hello = PeerWire.hello(
            remote: peer.definition.name, local: service.localName, pid: getpid(), downgraded: peer.downgraded)
        send(hello)
        writePending()
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        input += buffer.readBytes(length: buffer.readableBytes) ?? []
        lastReceived = .now()
        process()
        if phase == .messages { flush() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasEstablished = phase == .messages
        phase = .closed
        if learning, let peer { service.lessonAborted(peer) }
        service.closed(self, peer: peer)
        if !wasEstablished || (outgoing && peer?.definition.isLocal == true && service.handOver != nil) {
            onFailure?()
        }
        onFailure = nil
        self.context = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { flush() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func close() {
        guard phase != .closed else { return }
        context?.close(promise: nil)
    }

    // MARK: Reading

    /// Updates read and not applied yet: applied together, a table's lock taken once per read; their data side by
    /// side in `incomingValues`.
    private struct Incoming {
        var table: Int
        var key: StickKey
        var values: Range<Int>
        var serverKey: String?
        var expire: UInt32
    }
    private var incoming: [Incoming] = []
    private var incomingValues: [(StickData, SharedValue)] = []

    private func applyIncoming() {
        guard !incoming.isEmpty else { return }
        for (i, shared) in service.tables.enumerated() where incoming.contains(where: { $0.table == i }) {
            shared.table.with { t, now in
                for u in self.incoming where u.table == i {
                    t.applyShared(
                        u.key, values: self.incomingValues[u.values], serverKey: u.serverKey, expire: u.expire, now: now)
                }
            }
        }
        incoming.removeAll(keepingCapacity: true)
        incomingValues.removeAll(keepingCapacity: true)
    }

    private func process() {
        var index = 0
        defer {
            if index > 0 { input.removeFirst(min(index, input.count)) }
            applyIncoming()
        }
        while phase != .closed {
            switch phase {
            case .hello, .status:
                guard let end = input[index...].firstIndex(of: 0x0A) else {
                    if input.count - index > 1_024 { protocolError(status: .protocolError) }
                    return
                }
                let line = String(decoding: input[index..<end], as: UTF8.self)
                index = end + 1
                if phase == .hello { helloLine(line) } else { statusLine(line) }
            case .messages:
                let frame: PeerWire.Frame?
                do {
                    frame = try PeerWire.nextFrame(input, &index)
                } catch .tooLarge {
                    return sendErrorAndClose(PeerWire.errorClass, 1)
                } catch {
                    return protocolError()
                }
                guard let frame else { return }
                handle(frame)
            case .closed:
                return
            }
        }
    }

    /// The hello of a peer connecting to us: version, our name, its name.
    private func helloLine(_ line: String) {
        helloLines.append(line)
        switch helloLines.count {
        case 1:
            switch PeerWire.helloVersionAccepted(line) {
            case nil: return refuse(.protocolError)
            case false?: return refuse(.badVersion)
            case true?: return
            }
        case 2:
            if line != service.localName { refuse(.badHost) }
        default:
            guard let space = line.firstIndex(of: " ") else { return refuse(.protocolError) }
            let name = String(line[..<space])
            switch service.accept(self, name: name, from: channel?.remoteAddress) {
            case .failure(let status):
                refuse(status)
            case .success(let peer):
                self.peer = peer
                if helloLines[0].hasSuffix(".0") { peer.downgraded = true } else { peer.downgraded = false }
                send(Array("\(PeerWire.Status.success.rawValue)\n".utf8))
                start()
                writePending()
                context?.flush()
            }
        }
    }

    /// The status our hello got.
    private func statusLine(_ line: String) {
        guard let peer else { return close() }
        let code = Int(line.trimmingCharacters(in: .whitespaces)) ?? 0
        peer.status = code
        peer.lastHandshake = .now()
        guard code == PeerWire.Status.success.rawValue else {
            if code == PeerWire.Status.badVersion.rawValue { peer.downgraded = true }
            phase = .closed
            context?.close(promise: nil)
            return
        }
        onFailure = peer.definition.isLocal ? onFailure : nil
        start()
    }

    /// Refuses a hello with its status, then closes.
    private func refuse(_ status: PeerWire.Status) {
        send(Array("\(status.rawValue)\n".utf8))
        phase = .closed
        writePending()
        context?.flush()
        context?.close(promise: nil)
    }

    /// The handshake succeeded (`init_accepted_peer`, `init_connected_peer`): cursors from the peer's last
    /// acknowledgements, and a lesson to give or to ask for.
    private func start() {
        guard let peer else { return }
        phase = .messages
        for (i, shared) in service.tables.enumerated() {
            let local = shared.table.with { t, _ in t.localUpdate }
            let resume = min(peer.acked[i], local)
            cursors[i] = Cursor(lastPushed: resume, teachingOrigin: resume)
            peer.acked[i] = resume
        }
        service.established(self, peer: peer)
        if outgoing && peer.definition.isLocal {
            // The previous process (this one, stopping) teaches the next one everything.
            startTeaching()
        }
        flush()
    }

    /// Asks this peer for a full lesson (the start's resynchronisation).
    func learn() {
        guard let peer, established, service.learningFrom == nil else { return }
        service.learningFrom = peer
        learning = true
        learnRequested = false
        flush()
    }

    private func startTeaching() {
        for i in cursors.indices { cursors[i].teachingOrigin = cursors[i].lastPushed }
        teaching = (0, 0)
        taught = false
    }

    private func handle(_ frame: PeerWire.Frame) {
        switch frame.messageClass {
        case PeerWire.controlClass:
            control(frame.type)
        case PeerWire.tableClass:
            table(frame)
        case PeerWire.reservedClass:
            protocolError()
        default:
            // An error message: the peer closes after it.
            break
        }
    }

    private func control(_ type: UInt8) {
        guard let peer else { return }
        switch PeerWire.Control(rawValue: type) {
        case .resyncRequest?:
            startTeaching()
        case .resyncFinished?, .resyncPartial?:
            if learning {
                learning = false
                service.lessonEnded(peer, finished: type == PeerWire.Control.resyncFinished.rawValue)
            }
            confirmations += 1
        case .resyncConfirm?:
            // The process taking over has the lesson: this one may end once its sessions have, and until then
            // the session stays open and carries their updates too, as HAProxy's does.
            if service.stopping && peer.definition.isLocal { service.handOverDone() }
            for i in cursors.indices {
                cursors[i].lastPushed = cursors[i].teachingOrigin
                peer.acked[i] = cursors[i].teachingOrigin
            }
            teaching = nil
            taught = false
        case .heartbeat?:
            peer.receivedHeartbeats += 1
        case nil:
            break
        }
    }

    private func table(_ frame: PeerWire.Frame) {
        guard let type = PeerWire.TableMessage(rawValue: frame.type) else { return }
        switch type {
        case .define:
            let remote: PeerTableFormat.RemoteTable
            do {
                remote = try PeerTableFormat.readDefinition(frame.body)
            } catch .malformed {
                return protocolError()
            } catch {
                current = nil
                return
            }
            for (i, c) in cursors.enumerated() where c.remoteID == remote.remoteID { cursors[i].remoteID = nil }
            let index = service.tables.firstIndex {
                $0.schema.sharedName == remote.name && PeerTableFormat.keyType($0.schema.keyType) == remote.keyType
                    && UInt64($0.schema.wireKeySize) == remote.keySize
            }
            remoteTables[remote.remoteID] = (index, remote)
            if let index {
                cursors[index].remoteID = remote.remoteID
                current = (index, remote)
            } else {
                current = nil
            }
        case .switchTable:
            var i = frame.body.startIndex
            guard let id = PeerWire.readVarint(frame.body, &i) else { return protocolError() }
            if let known = remoteTables[id], let index = known.index { current = (index, known.table) } else { current = nil }
        case .update, .incrementalUpdate, .timedUpdate, .incrementalTimedUpdate:
            guard let current else { return }
            let withID = type == .update || type == .timedUpdate
            let timed = type == .timedUpdate || type == .incrementalTimedUpdate
            let shared = service.tables[current.index]
            let failed = incomingValues.count
            guard
                let update = PeerTableFormat.readUpdate(
                    frame.body, withID: withID, timed: timed, remote: current.table, schema: shared.schema,
                    values: &incomingValues)
            else {
                incomingValues.removeSubrange(failed...)
                return protocolError()
            }
            cursors[current.index].lastGet = update.update ?? (cursors[current.index].lastGet &+ 1)
            var serverKey: String?
            if let (id, text) = update.serverKey {
                if let text { dictionary[id - 1] = text }
                serverKey = dictionary[id - 1]
            }
            let expire = update.expire ?? shared.schema.expire ?? 0
            incoming.append(Incoming(table: current.index, key: update.key, values: update.values, serverKey: serverKey, expire: expire))
        case .ack:
            // Ignored during a lesson, as HAProxy ignores them.
            guard teaching == nil else { return }
            var i = frame.body.startIndex
            guard let id = PeerWire.readVarint(frame.body, &i), let update = PeerWire.readU32(frame.body, &i) else {
                return protocolError()
            }
            guard let peer, let index = service.tables.firstIndex(where: { UInt64($0.id) == id }) else { return }
            let local = service.tables[index].table.with { t, _ in t.localUpdate }
            peer.acked[index] = Self.widen(update, below: local)
        }
    }

    /// A 32-bit update number from the wire as our 64-bit one: the latest not after `local`.
    static func widen(_ update: UInt32, below local: UInt64) -> UInt64 {
        var candidate = (local & ~0xFFFF_FFFF) | UInt64(update)
        if candidate > local { candidate = candidate >= 1 << 32 ? candidate - (1 << 32) : 0 }
        return candidate
    }

    private func protocolError() {
        peer?.protocolErrors += 1
        sendErrorAndClose(PeerWire.errorClass, 0)
    }

    private func protocolError(status: PeerWire.Status) { refuse(status) }

    private func sendErrorAndClose(_ messageClass: UInt8, _ type: UInt8) {
        send([messageClass, type])
        phase = .closed
        writePending()
        context?.flush()
        context?.close(promise: nil)
    }

    // MARK: Writing

    private var pending: [UInt8] = []

    private func send(_ bytes: [UInt8]) {
        pending += bytes
        if pending.count >= 32_768 { writePending() }
    }

    private func writePending() {
        guard !pending.isEmpty, let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: pending.count)
        buffer.writeBytes(pending)
        pending.removeAll(keepingCapacity: true)
        context.write(wrapOutboundOut(buffer), promise: nil)
        lastSent = .now()
    }

    /// Sends what is owed (`peer_send_msgs`): the resync request, acknowledgements, local updates or the lesson,
    /// its end, the confirmations.
    func flush() {
        guard phase == .messages, let context, let peer else { return }
        if learning && !learnRequested && !peer.definition.isLocal {
            send(PeerWire.control(.resyncRequest))
            learnRequested = true
        }
        for (i, shared) in service.tables.enumerated() {
            if cursors[i].lastGet != cursors[i].lastAcked, let remoteID = cursors[i].remoteID {
                send(PeerWire.tableMessage(.ack, PeerTableFormat.ack(remoteID: remoteID, update: cursors[i].lastGet)))
                cursors[i].lastAcked = cursors[i].lastGet
            }
            guard context.channel.isWritable else { break }
            if teaching == nil && !learning {
                pushUpdates(i, shared)
            }
        }
        if let lesson = teaching, !taught {
            teach(from: lesson)
        }
        if teaching != nil && !taught && teaching?.table == service.tables.count {
            send(PeerWire.control(service.resyncFinished ? .resyncFinished : .resyncPartial))
            taught = true
        }
        while confirmations > 0 {
            send(PeerWire.control(.resyncConfirm))
            confirmations -= 1
        }
        writePending()
        context.flush()
    }

    /// The local changes after the cursor, in order (updates without their expiry).
    private func pushUpdates(_ i: Int, _ shared: PeersService.Shared) {
        guard let context else { return }
        var previous: UInt64?
        while context.channel.isWritable {
            let cursor = cursors[i].lastPushed
            let found = shared.table.with { t, now -> (batch: SharedBatch, through: UInt64)? in
                guard cursor < t.localUpdate else { return nil }
                return t.updates(after: cursor, limit: 512, now: now)
            }
            guard let (batch, through) = found else { return }
            if !batch.isEmpty && lastDefined != i { define(i, shared) }
            for item in batch.items {
                let withID = previous.map { item.update != $0 + 1 } ?? true
                appendUpdate(item, batch, shared, type: withID ? .update : .incrementalUpdate, withID: withID, timed: false)
                previous = item.update
            }
            cursors[i].lastPushed = through
            shared.table.with { t, _ in if through > t.commitUpdate { t.commitUpdate = through } }
            if batch.count < 512 { return }
        }
    }

    /// The lesson: every live entry of each table, with its expiry, a chunk at a time while the peer reads.
    private func teach(from start: (table: Int, slot: Int)) {
        guard let context, let peer else { return }
        var position = start
        let timed = !peer.downgraded
        while position.table < service.tables.count, context.channel.isWritable {
            let shared = service.tables[position.table]
            let from = position.slot
            let (batch, next) = shared.table.with { t, now in t.allEntries(from: from, limit: 1_024, now: now) }
            if !batch.isEmpty && lastDefined != position.table { define(position.table, shared) }
            for item in batch.items {
                appendUpdate(item, batch, shared, type: timed ? .timedUpdate : .update, withID: true, timed: timed)
            }
            writePending()
            position = next.map { (position.table, $0) } ?? (position.table + 1, 0)
        }
        teaching = position
    }

    private var body: [UInt8] = []

    /// One update message, straight into what is to be sent.
    private func appendUpdate(
        _ item: SharedBatch.Item, _ batch: SharedBatch, _ shared: PeersService.Shared, type: PeerWire.TableMessage,
        withID: Bool, timed: Bool
    ) {
        body.removeAll(keepingCapacity: true)
        PeerTableFormat.update(
            item.update, key: item.key, expiresIn: item.expiresIn, values: batch.values[item.values],
            serverKey: item.serverKey, layout: shared.layout, withID: withID, timed: timed, into: &body)
        PeerWire.appendTableMessage(type, body, to: &pending)
        if pending.count >= 65_536 { writePending() }
    }

    private func define(_ i: Int, _ shared: PeersService.Shared) {
        send(PeerWire.tableMessage(.define, PeerTableFormat.definition(shared.schema, id: shared.id)))
        lastDefined = i
    }

    /// The sync task's visit: a heartbeat after 3 seconds without sending, the end of a session that said nothing
    /// for 5 (HAProxy's reconnect period), the end of a handshake that takes longer than 5.
    func keepAlive(now: NIODeadline) {
        guard let peer, phase == .messages else { return }
        if now - lastReceived > PeersService.reconnectTimeout + .milliseconds(500) {
            peer.missedHeartbeats += 1
            return close()
        }
        if now - lastSent >= PeersService.heartbeatInterval {
            send(PeerWire.control(.heartbeat))
            peer.sentHeartbeats += 1
            flush()
        }
    }

    /// What `show peers` prints of this session's tables: its cursors and the peer's data bits.
    func tableState(_ i: Int) -> (cursor: Cursor, remoteData: UInt64) {
        let cursor = cursors[i]
        return (cursor, cursor.remoteID.flatMap { remoteTables[$0]?.table.bits } ?? 0)
    }

    /// The peer's `server_key` dictionary as received (`show peers dict`).
    var receivedDictionary: [String?] { dictionary }

    /// When the session ends if the peer says nothing more.
    var aliveUntil: NIODeadline { lastReceived + PeersService.reconnectTimeout }

    /// When the next heartbeat is due (nil before the handshake).
    var heartbeatDue: NIODeadline? { established ? lastSent + PeersService.heartbeatInterval : nil }
}
