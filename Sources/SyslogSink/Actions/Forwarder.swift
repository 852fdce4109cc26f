import Foundation
import NIOCore
import NIOSSL
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A TCP forward action (`@@host:port`, `@@(o)host:port`, `action(type="omfwd" protocol="tcp" …)`) with its queue,
/// on a thread of its own so that a slow or absent collector never holds up the files.
///
/// - The queue: messages wait in memory (`queue.size`; a Direct action holds up to the main queue's 100,000), and
///   with `queue.filename` spill to a `DiskQueue` from `queue.highWatermark` on (a `Disk` queue keeps them all on
///   disk). While the disk part holds anything, new messages go behind it, so they leave in the order they came.
/// - The connection: made when there is something to send; a failure suspends the action for
///   `action.resumeInterval` (longer after every 10 failures, at most `action.resumeIntervalMax`), as rsyslog's omfwd.
///   After `action.resumeRetryCount` failed tries (0 by default) what could not be sent is dropped and counted; -1
///   keeps it for ever. A collector that takes no byte for `writeTimeout` seconds is treated as gone.
/// - Delivery is at least once: plain TCP syslog has no acknowledgement, and a collector that stops may lose what
///   its kernel had accepted. So every write is kept (the replay window) until the collector's kernel has
///   acknowledged all of it and a second has passed with the connection up; when the connection breaks, the window is
///   sent again first on the next one. The collector may see those messages twice; none is lost.
/// - At stop, with `queue.saveOnShutdown`, what is still in memory (the window included) is written in front of the
///   disk part and sent first after the next start.
final class Forwarder: @unchecked Sendable {
    struct Counts {
        /// Messages written to a connection (a message sent again after a break counts again).
        var sent = 0
        /// Messages dropped: the queue was full, the disk limit reached, or the retries were used up.
        var dropped = 0
        /// Connections that failed or broke.
        var failed = 0
        /// Messages sent again after a break (the at-least-once window).
        var resent = 0
        /// Times the action was suspended (the collector could not be reached).
        var suspended = 0
        /// Messages lost at stop (in memory without `queue.saveOnShutdown`).
        var lostAtStop = 0
        var queued = 0
        var diskBytes = 0
        var lastError: String?
    }

    private struct Entry {
        var sequence: UInt64
        var bytes: [UInt8]
        var fromDisk: Bool
    }

    /// One write: its messages, where it ends in the connection's byte stream, and when it was written.
    private struct Batch {
        var entries: [Entry]
        var end: UInt64 = 0
        var writtenAt = ContinuousClock.now
    }

    let host: String
    let port: Int
    let framing: SyslogFrameEncoder.Framing
    let settings: ActionQueueSettings
    /// TLS (RFC 5425) to the collector, checked as `PeerAuthorization` says; nil: plain TCP.
    let tls: StreamTLS?
    private let tlsContext: NIOSSLContext?
    /// RELP (omrelp): each message a `syslog` frame that the collector answers; nil: syslog over plain framing.
    let relp: RELPSettings?
    var name: String { "\(relp != nil ? "relp" : tls == nil ? "tcp" : "tls")@\(host):\(port)" }

    /// omrelp's settings: `windowSize` (frames sent and not yet answered), `timeout` (for an answer), `conn.timeout`
    /// (for the session's opening).
    struct RELPSettings: Hashable, Sendable {
        var window = 128
        var timeout = 90
        var connectTimeout = 10
    }

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var memory: [Entry] = []
    private var memoryHead = 0
    private var disk: DiskQueue?
    private var nextSequence: UInt64 = 1
    private var stopping = false
    private var finished = false
    private var workerWaiting = false
    private var countsStorage = Counts()
    /// Whether the collector cannot be reached now (rsyslog's suspended action), for failover actions.
    private var suspendedFlag = false
    private var leftover: [Entry] = []
    /// What the sender thread holds (taken and not yet written, or in the replay window), as of its last turn.
    private var holding = 0

    /// How long a written batch stays in the replay window after the collector's kernel acknowledged it.
    static let confirmDelay: Duration = .seconds(1)
    /// How long the sender goes on at stop while the collector takes what is queued.
    static let drainAtStop: Duration = .seconds(2)
    static let writeLimit = 256 * 1024

    /// Opens the queue (and its disk part, reading what an earlier run left) and starts the sender thread.
    init(
        host: String, port: Int, framing: SyslogFrameEncoder.Framing, settings: ActionQueueSettings, root: String?,
        tls: StreamTLS? = nil, relp: RELPSettings? = nil
    ) throws {
        self.host = host
        self.port = port
        self.framing = framing
        self.settings = settings
        suspension = ActionSuspension(settings)
        self.tls = tls
        self.relp = relp
        // The certificates and keys are read once, at start: a bad file disables the action with the reason.
        self.tlsContext = try tls.map { try TLSContexts.client($0) }
        if settings.kind != .direct, let file = settings.fileName, let work = settings.workDirectory {
            let directory = root.map { $0 + (work.hasPrefix("/") ? work : "/" + work) } ?? work
            let queue = try DiskQueue(
                directory: directory, name: file, maxFileSize: settings.maxFileSize,
                maxDiskSpace: settings.maxDiskSpace)
            disk = queue
            nextSequence = queue.highestStored + 1
        }
        let thread = Thread { [self] in run() }
        thread.name = "syslog-sink omfwd \(host):\(port)"
        thread.start()
    }

    /// Whether the action is suspended (its collector could not be reached): what
    /// `action.execOnlyWhenPreviousIsSuspended` looks at.
    var isSuspended: Bool {
        condition.lock()
        defer { condition.unlock() }
        return suspendedFlag
    }

    var counts: Counts {
        condition.lock()
        defer { condition.unlock() }
        var c = countsStorage
        c.queued = memory.count - memoryHead + (disk?.unread ?? 0) + holding
        c.diskBytes = disk?.bytesOnDisk ?? 0
        return c
    }

    /// Messages taken from the ruleset's thread and not yet in the queue: they go in together (one lock per batch
    /// of input, not per message) at the end of the batch, or every 512. Only the ruleset's thread touches it.
    private var staged: [[UInt8]] = []

    /// Queues one rendered message (never waits: a full queue drops it and counts it). Called on the ruleset's
    /// thread, which calls `flush()` at the end of each batch of input.
    func enqueue(_ message: [UInt8]) {
        staged.append(message)
        if staged.count >= 512 { push() }
    }

    private func push() {
        guard !staged.isEmpty else { return }
        condition.lock()
        defer { condition.unlock() }
        for message in staged {
            guard !stopping else {
                countsStorage.dropped += 1
                continue
            }
            let sequence = nextSequence
            nextSequence += 1
            let inMemory = memory.count - memoryHead
            if let disk, settings.kind == .disk || disk.unread > 0 || inMemory >= settings.spillMark {
                if !disk.append(sequence, message) { countsStorage.dropped += 1 }
            } else if inMemory >= settings.memoryLimit {
                countsStorage.dropped += 1
            } else {
                memory.append(Entry(sequence: sequence, bytes: message, fromDisk: false))
            }
        }
        staged.removeAll(keepingCapacity: true)
        if workerWaiting { condition.signal() }
    }

    /// End of a batch of input: the staged messages go into the queue, what the disk part buffers to its file.
    func flush() {
        push()
        condition.lock()
        disk?.flush()
        condition.unlock()
    }

    /// Stops the sender: it goes on for up to two seconds while the collector takes what is queued, then what is
    /// left is saved (`queue.saveOnShutdown`) or counted as lost.
    func stop() {
        push()
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        let fromMemory = Array(memory[memoryHead...])
        memory.removeAll()
        memoryHead = 0
        let unsent = leftover + fromMemory
        if let disk {
            if settings.saveOnShutdown {
                do {
                    try disk.prepend(unsent.map { DiskQueue.Record(sequence: $0.sequence, bytes: $0.bytes) })
                } catch {
                    countsStorage.lostAtStop += unsent.count
                    countsStorage.lastError = "\(error)"
                }
            } else {
                countsStorage.lostAtStop += unsent.filter { !$0.fromDisk }.count
            }
            disk.close()
        } else {
            countsStorage.lostAtStop += unsent.count
        }
        condition.unlock()
    }

    // MARK: The sender thread

    private var connection: Int32 = -1
    /// The TLS over `connection` (which it then owns), when the forward speaks TLS.
    private var stream: TLSClientStream?
    /// Bytes written on the current connection (with TLS: bytes on the wire, records and handshake).
    private var written: UInt64 = 0
    private var window: [Batch] = []
    /// Taken from the queue (or brought back from the window after a break) and not written yet.
    private var held: [Batch] = []
    private var suspension: ActionSuspension
    /// Since when the collector could not be reached (nil while it can).
    private var lastAcknowledged: UInt64 = 0
    /// Whether the collector has confirmed a batch on the current connection: one that breaks before that (a TLS
    /// collector that refuses us after the handshake, a port that accepts and closes) suspends the action rather
    /// than being tried again at once.
    private var confirmedOnConnection = false
    /// RELP: the next transaction number, the last one the collector answered, the bytes read and not yet framed.
    private var relpNext = 1
    private var relpAnswered = 0
    private var relpInbound = ByteBuffer()
    private var relpAnsweredAt = ContinuousClock.now
    private var acknowledgedAt = ContinuousClock.now
    /// When the connection was last looked at (at most every 5 ms while there is work).
    private var checkedAt = ContinuousClock.now

    private func run() {
        var stopAt: ContinuousClock.Instant?
        while true {
            condition.lock()
            if stopping && stopAt == nil { stopAt = .now + Self.drainAtStop }
            holding = (held + window).reduce(0) { $0 + $1.entries.count }
            let idle = held.isEmpty && (memory.count - memoryHead) == 0 && (disk?.unread ?? 0) == 0
            if idle && !stopping {
                if window.isEmpty {
                    workerWaiting = true
                    condition.wait()
                    workerWaiting = false
                } else {
                    workerWaiting = true
                    _ = condition.wait(until: Date(timeIntervalSinceNow: 0.1))
                    workerWaiting = false
                }
            }
            if held.isEmpty, let batch = takeBatch() { held.append(batch) }
            let stop = stopping
            condition.unlock()

            if connection >= 0 && (held.isEmpty || ContinuousClock.now - checkedAt > .milliseconds(5)) {
                checkConnection()
                checkedAt = .now
            }
            if stop, let stopAt,
                held.isEmpty || connection < 0 && suspension.until != nil || ContinuousClock.now >= stopAt
            {
                finish()
                return
            }
            guard !held.isEmpty else { continue }
            if connection < 0 && !reconnect() { continue }
            let batch = held.removeFirst()
            if !write(batch) {
                held.insert(batch, at: 0)
                broken("write to \(name) failed or stalled")
            }
        }
    }

    /// The next messages from the queue: memory first (older), then disk, up to 256 KiB.
    private func takeBatch() -> Batch? {
        var entries: [Entry] = []
        var bytes = 0
        let most = relp?.window ?? Int.max
        while bytes < Self.writeLimit && entries.count < most {
            if memoryHead < memory.count {
                entries.append(memory[memoryHead])
                bytes += memory[memoryHead].bytes.count + 8
                memoryHead += 1
            } else if let disk, disk.unread > 0, let record = disk.next() {
                entries.append(Entry(sequence: record.sequence, bytes: record.bytes, fromDisk: true))
                bytes += record.bytes.count + 8
            } else {
                break
            }
        }
        if memoryHead > 4096 && memoryHead * 2 > memory.count {
            memory.removeFirst(memoryHead)
            memoryHead = 0
        }
        return entries.isEmpty ? nil : Batch(entries: entries)
    }

    /// Connects unless the action is suspended; false (having waited or dropped) when there is no connection.
    private func reconnect() -> Bool {
        if suspension.isWaiting(at: .now), let until = suspension.until {
            if suspension.retriesUsedUp {
                // Retries used up: what waits is dropped while the action stays suspended.
                let n = held.reduce(0) { $0 + $1.entries.count }
                held.removeAll()
                condition.lock()
                countsStorage.dropped += n
                condition.unlock()
                return false
            }
            condition.lock()
            if !stopping { _ = condition.wait(until: suspension.nextLook(until: until)) }
            condition.unlock()
            return false
        }
        var result = Self.connect(host: host, port: port, timeout: 5)
        if case .success(let fd) = result, let tls, let tlsContext {
            switch TLSClientStream.open(descriptor: fd, context: tlsContext, tls: tls, host: host, timeout: .seconds(5)) {
            case .success(let s):
                stream = s
                written = s.wireBytes
            case .failure(let error): result = .failure(error)
            }
        }
        switch result {
        case .success(let fd):
            connection = fd
            written = stream?.wireBytes ?? 0
            confirmedOnConnection = false
            if relp != nil, let failure = openRELPSession() {
                closeConnection()
                suspend("cannot open a RELP session with \(name): \(failure)")
                return false
            }
            // Resumed once the session is open (a RELP refusal goes on with the suspension).
            let waiting = suspension.since == nil ? 0 : counts.queued
            if let notice = suspension.resumed(action: name, waiting: waiting, at: .now) {
                report(notice, severity: .informational)
            }
            lastAcknowledged = 0
            acknowledgedAt = .now
            condition.lock()
            suspendedFlag = false
            condition.unlock()
            return true
        case .failure(let error):
            suspend("cannot connect to \(name): \(error)")
            return false
        }
    }

    private func suspend(_ reason: String) {
        if let notice = suspension.failed(reason, action: name, at: .now).notice { report(notice, severity: .warning) }
        condition.lock()
        countsStorage.failed += 1
        countsStorage.suspended += 1
        countsStorage.lastError = reason
        suspendedFlag = true
        condition.unlock()
    }

    /// The connection broke: it is closed, and the window goes back in front of what waits.
    private func broken(_ reason: String) {
        closeConnection()
        let replay = window.reduce(0) { $0 + $1.entries.count }
        held = window + held
        window = []
        condition.lock()
        countsStorage.resent += replay
        countsStorage.failed += 1
        countsStorage.lastError = reason
        condition.unlock()
        let message = replay > 0 ? "\(reason); the last \(replay) messages go again on the next connection" : reason
        guard confirmedOnConnection else {
            suspend(message)
            return
        }
        // The first reconnection is tried at once; a failure there suspends the action.
        suspension.tryAtOnce()
        report(message, severity: .warning)
    }

    /// Closes the connection (the TLS stream's, which owns the descriptor, or the plain one).
    private func closeConnection() {
        if let stream {
            stream.close()
        } else if connection >= 0 {
            closeDescriptor(connection)
        }
        stream = nil
        connection = -1
    }

    /// Writes one batch, framed; false when the connection failed or made no progress for `writeTimeout`.
    private func write(_ batch: Batch) -> Bool {
        if relp != nil { return writeRELP(batch) }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(batch.entries.reduce(0) { $0 + $1.bytes.count + 8 })
        for entry in batch.entries { SyslogFrameEncoder.append(entry.bytes, framing: framing, to: &buffer) }
        guard send(buffer) else { return false }
        written = stream?.wireBytes ?? written + UInt64(buffer.count)
        return record(batch)
    }

    /// A batch the kernel took: into the replay window, ending where the connection's byte count stands now.
    private func record(_ batch: Batch) -> Bool {
        var sent = batch
        sent.end = written
        sent.writtenAt = .now
        window.append(sent)
        condition.lock()
        countsStorage.sent += batch.entries.count
        condition.unlock()
        return true
    }

    /// Confirms what the collector's kernel acknowledged a second ago; notices a collector that closed or stalls.
    private func checkConnection() {
        if relp != nil {
            checkRELP()
            return
        }
        if let stream, !stream.isOpen {
            broken("\(name) closed the connection")
            return
        }
        var p = pollfd(fd: connection, events: Int16(POLLIN) | 0x2000 /* POLLRDHUP */, revents: 0)
        if stream == nil, poll(&p, 1, 0) > 0 {
            var scratch = [UInt8](repeating: 0, count: 4096)
            let n = scratch.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || p.revents & Int16(POLLERR | POLLHUP) != 0
            {
                broken("\(name) closed the connection")
                return
            }
        }
        var outstanding: Int32 = 0
        guard ioctl(connection, UInt(TIOCOUTQ), &outstanding) == 0 else { return }
        let acknowledged = written - UInt64(max(0, outstanding))
        let now = ContinuousClock.now
        if acknowledged != lastAcknowledged || outstanding == 0 {
            lastAcknowledged = acknowledged
            acknowledgedAt = now
        } else if now - acknowledgedAt > .seconds(settings.writeTimeout) {
            broken("\(name) took nothing for \(settings.writeTimeout) s")
            return
        }
        confirmWindow(through: acknowledged, writtenBefore: now - Self.confirmDelay)
    }

    /// Takes out of the window the batches the collector has (ending at or before `reach` in the connection's count,
    /// written before `writtenBefore`) and confirms them to the disk part.
    private func confirmWindow(through reach: UInt64, writtenBefore: ContinuousClock.Instant = .now) {
        var delivered: UInt64?
        while let first = window.first, first.end <= reach, first.writtenAt <= writtenBefore {
            delivered = first.entries.last?.sequence
            window.removeFirst()
        }
        if let delivered {
            confirmedOnConnection = true
            condition.lock()
            disk?.confirm(upTo: delivered)
            condition.unlock()
        }
    }

    /// At stop: a collector that acknowledged everything has it all (it is still up); the rest is left over.
    private func finish() {
        if relp != nil && connection >= 0 { closeRELPSession() }
        if connection >= 0 {
            let deadline = ContinuousClock.now + .seconds(1)
            var outstanding: Int32 = 1
            while ContinuousClock.now < deadline, ioctl(connection, UInt(TIOCOUTQ), &outstanding) == 0, outstanding > 0
            {
                usleep(10_000)
            }
            if outstanding == 0 {
                if let last = window.last?.entries.last?.sequence {
                    condition.lock()
                    disk?.confirm(upTo: last)
                    condition.unlock()
                }
                window = []
            }
            closeConnection()
        }
        let rest = (window + held).flatMap(\.entries)
        window = []
        held = []
        condition.lock()
        leftover = rest
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: RELP

    /// Sends `open` with librelp's offers and waits for the collector's `200`; the reason when it does not come.
    private func openRELPSession() -> String? {
        relpNext = 1
        relpAnswered = 0
        relpInbound.clear()
        let open = RELPFrame(txnr: 1, command: "open", data: RELPFrame.offers).encoded()
        guard send(open) else { return "the connection failed" }
        relpNext = 2
        let limit = relp?.connectTimeout ?? 10
        let deadline = ContinuousClock.now + .seconds(limit)
        while relpAnswered < 1 {
            guard ContinuousClock.now < deadline else { return "no answer to 'open' within \(limit) s" }
            if let failure = readRELP(wait: .milliseconds(100)) { return failure }
        }
        relpAnsweredAt = .now
        return nil
    }

    /// Writes a batch as `syslog` frames once the window has room for it; false when the connection failed or the
    /// collector answered nothing for `timeout`.
    private func writeRELP(_ batch: Batch) -> Bool {
        let window = relp?.window ?? 128
        // A session's numbers run to 999,999,999; a new session starts again at 1.
        guard relpNext + batch.entries.count < 999_999_999 else { return false }
        while relpNext - 1 - relpAnswered + batch.entries.count > window {
            if readRELP(wait: .milliseconds(50)) != nil { return false }
            if ContinuousClock.now - relpAnsweredAt > .seconds(relp?.timeout ?? 90) { return false }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(batch.entries.reduce(0) { $0 + $1.bytes.count + 24 })
        let first = relpNext
        for entry in batch.entries {
            var data = entry.bytes
            if data.last == 0x0A { data.removeLast() }
            RELPFrame(txnr: relpNext, command: "syslog", data: data).append(to: &bytes)
            relpNext += 1
        }
        guard send(bytes) else { return false }
        if relpAnswered >= first - 1 { relpAnsweredAt = .now }
        written = UInt64(relpNext - 1)
        return record(batch)
    }

    /// Reads the collector's answers; confirms every batch it answered in full; notices a collector that closed
    /// the session or answered nothing for `timeout`.
    private func checkRELP() {
        if let failure = readRELP(wait: .zero) {
            broken("\(name): \(failure)")
            return
        }
        let limit = relp?.timeout ?? 90
        if relpAnswered < relpNext - 1, ContinuousClock.now - relpAnsweredAt > .seconds(limit) {
            broken("\(name) answered nothing for \(limit) s")
            return
        }
        confirmWindow(through: UInt64(relpAnswered))
    }

    /// At stop: waits up to a second for the answers still due, confirms what they cover, and closes the session.
    private func closeRELPSession() {
        let deadline = ContinuousClock.now + .seconds(1)
        while relpAnswered < relpNext - 1 && ContinuousClock.now < deadline {
            if readRELP(wait: .milliseconds(20)) != nil { break }
        }
        checkRELP()
        if connection >= 0 { _ = send(RELPFrame(txnr: relpNext, command: "close").encoded()) }
    }

    /// Reads what the collector sent (waiting up to `wait` for something) and takes in its frames: `rsp` answers
    /// (librelp's collectors answer in order), `serverclose`. The reason when the session is over.
    private func readRELP(wait: Duration) -> String? {
        var chunk: [UInt8]
        if let stream {
            guard let bytes = stream.read(wait: wait) else { return "the collector closed the connection" }
            chunk = bytes
        } else {
            var p = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            let ms = Int32(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&p, 1, ms) > 0 else { return nil }
            chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return "the collector closed the connection" }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? nil : String(cString: strerror(errno)) }
            chunk.removeSubrange(n...)
            // Acknowledge at once rather than after the delayed-ACK timer: a collector that sends its answers one
            // small write at a time (librelp) waits for that ACK before the next ones (Nagle), 40 ms a round.
            var on: Int32 = 1
            _ = setsockopt(connection, Int32(IPPROTO_TCP), TCP_QUICKACK, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        relpInbound.writeBytes(chunk)
        let decoder = RELPFrameDecoder(maxDataSize: 1 << 20)
        do {
            while let frame = try decoder.next(&relpInbound) {
                switch frame.command {
                case "rsp":
                    if let (code, text) = frame.responseCode, code != 200 {
                        if frame.txnr == 1 && relpAnswered < 1 { return "the collector answered \(code) \(text)" }
                        report("\(name) refused message \(frame.txnr): \(code) \(text)", severity: .warning)
                    }
                    relpAnswered = max(relpAnswered, frame.txnr)
                    relpAnsweredAt = .now
                case "serverclose":
                    return "the collector closed the session"
                default:
                    return "the collector sent '\(frame.command)', which a RELP client is not sent"
                }
            }
        } catch {
            return "\(error)"
        }
        relpInbound.discardReadBytes()
        return nil
    }

    /// Writes all of `bytes` to the connection (plain or TLS); false when it failed or stalled for `writeTimeout`.
    private func send(_ bytes: [UInt8]) -> Bool {
        if let stream {
            let condition = self.condition
            return stream.write(bytes, timeout: .seconds(settings.writeTimeout)) {
                condition.lock()
                defer { condition.unlock() }
                return self.stopping
            }
        }
        return bytes.withUnsafeBytes { raw -> Bool in
            var done = 0
            var lastProgress = ContinuousClock.now
            while done < raw.count {
                let n = Glibc.send(
                    connection, raw.baseAddress?.advanced(by: done), raw.count - done, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                if n > 0 {
                    done += n
                    lastProgress = .now
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                guard n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) else { return false }
                if ContinuousClock.now - lastProgress > .seconds(settings.writeTimeout) { return false }
                var p = pollfd(fd: connection, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 200)
                condition.lock()
                let stop = stopping
                condition.unlock()
                if stop && ContinuousClock.now - lastProgress > .seconds(1) { return false }
            }
            return true
        }
    }

    /// The sink's own message about this action (not while stopping: the loop that takes them is ending).
    private func report(_ text: String, severity: Severity) {
        condition.lock()
        let quiet = stopping
        condition.unlock()
        if !quiet { sinkLog(text, severity: severity) }
    }


    // MARK: Sockets

    /// A blocking connect with a timeout, to the first address of `host` that answers; the connection is left
    /// non-blocking with keep-alive on.
    static func connect(host: String, port: Int, timeout: Int) -> Result<Int32, ForwardError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(ForwardError(message: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        var lastError = ForwardError(message: "no address for \(host)")
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            var on: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return .success(fd) }
            guard errno == EINPROGRESS else {
                lastError = ForwardError(message: String(cString: strerror(errno)))
                closeDescriptor(fd)
                continue
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if poll(&p, 1, Int32(timeout * 1000)) == 1 {
                var problem: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &problem, &length)
                if problem == 0 { return .success(fd) }
                lastError = ForwardError(message: String(cString: strerror(problem)))
            } else {
                lastError = ForwardError(message: "connect timed out")
            }
            closeDescriptor(fd)
        }
        return .failure(lastError)
    }
}

struct ForwardError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
