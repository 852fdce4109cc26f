import CSystemd
import Foundation
import HAProxyLog
import LogCore
import NIOConcurrencyHelpers
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The journald action (`action(type="omjournal")`): each message goes to systemd-journald through libsystemd's
/// `sd_journal_sendv`, with fields that make journalctl useful on what a sink receives from many hosts:
///
/// - MESSAGE: the MSG without its leading space (and, as `sd_journal_send` does, without trailing whitespace);
///   PRIORITY: the severity 0–7 (not the whole PRI, where rsyslog's omjournal later regressed); SYSLOG_FACILITY;
///   SYSLOG_IDENTIFIER: the program name, so `journalctl -t haproxy` works (rsyslog 8.2302 sends the whole TAG,
///   `haproxy[6553]:`, which `-t haproxy` does not match); SYSLOG_PID; SYSLOG_TIMESTAMP (as the sender wrote
///   it); SYSLOG_HOSTNAME (journald stamps its own host in _HOSTNAME); REMOTE_ADDR (the sender's address).
/// - For HAProxy traffic lines, the record as fields: HAPROXY_CLIENT, _FRONTEND, _BACKEND, _SERVER, _TERMINATION,
///   _BYTES, _RETRIES, the timers by halog's names (_TQ _TW _TC _TR _TT; TCP lines have _TW _TC _TT) and, for
///   HTTP, _STATUS, _METHOD, _PATH — so `journalctl -t haproxy HAPROXY_BACKEND=api` lists one backend's traffic.
///
/// Lives on the ruleset's thread; the entries are handed to a thread of their own (`JournalQueue`), so that a
/// slow or stopped journald never holds up the files: when its queue is full, entries are dropped and counted.
final class JournalWriter {
    private let queue = JournalQueue()
    var sent: Int { queue.counts.sent }
    var failed: Int { queue.counts.failed }
    /// Entries dropped because journald did not keep up (the queue was full).
    private(set) var dropped = 0
    /// Messages dropped because journald's socket was missing: libsystemd then returns success and drops them
    /// silently, so the socket is looked at (at most once a second) and the loss counted here instead.
    private(set) var absent = 0
    private let socketPath: String
    private var socketPresent = false
    private var checkedAt: ContinuousClock.Instant?

    init(socketPath: String = "/run/systemd/journal/socket") {
        self.socketPath = socketPath
    }

    private var journaldPresent: Bool {
        let now = ContinuousClock.now
        if let checkedAt, now - checkedAt < .seconds(1) { return socketPresent }
        checkedAt = now
        socketPresent = access(socketPath, W_OK) == 0
        return socketPresent
    }
    var lastError: String? { queue.counts.lastError }
    private var fields: [UInt8] = []

    /// Waits until what is queued has gone to journald (at stop).
    func drain() { queue.drain() }
    private var ends: [Int] = []

    private func add(_ name: String, _ value: some Sequence<UInt8>) {
        fields.append(contentsOf: name.utf8)
        fields.append(0x3D)
        fields.append(contentsOf: value)
        ends.append(fields.count)
    }

    private func add(_ name: String, _ value: Int) {
        fields.append(contentsOf: name.utf8)
        fields.append(0x3D)
        fields.appendDecimal(value)
        ends.append(fields.count)
    }

    /// journald's rule for a field name: upper-case letters, digits and underscores, not starting with an
    /// underscore (those are journald's own), at most 64 bytes.
    static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, first != 0x5F, bytes.count <= 64, !(0x30...0x39).contains(first) else {
            return false
        }
        return bytes.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// omjournal with a template: exactly the template's fields (names checked when the rules were built).
    func send(fields named: [(name: String, value: [UInt8])]) {
        guard journaldPresent else {
            absent += 1
            return
        }
        fields.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        for (name, value) in named { add(name, value[...]) }
        submit()
    }

    func send(_ message: SyslogMessage) {
        guard journaldPresent else {
            absent += 1
            return
        }
        fields.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        var msg = message.msg
        if msg.first == 0x20 { msg.removeFirst() }
        while let last = msg.last, last == 0x20 || last == 0x09 || last == 0x0A || last == 0x0D { msg.removeLast() }
        add("MESSAGE", msg)
        add("PRIORITY", Int(message.priority.severity.rawValue))
        add("SYSLOG_FACILITY", Int(message.priority.facility.rawValue))
        let program = message.programName
        if !program.isEmpty { add("SYSLOG_IDENTIFIER", program) }
        let pid = message.procID
        if pid != SyslogMessage.nilValue { add("SYSLOG_PID", pid) }
        fields.append(contentsOf: "SYSLOG_TIMESTAMP=".utf8)
        if message.protocolVersion == 1 {
            message.timestamp.appendRFC3339(to: &fields)
        } else {
            message.timestamp.appendRFC3164(to: &fields)
        }
        ends.append(fields.count)
        add("SYSLOG_HOSTNAME", message.hostname)
        if !message.fromHostIP.isEmpty { add("REMOTE_ADDR", message.fromHostIP) }
        if let port = message.fromHostPort {
            fields.append(contentsOf: "REMOTE_PORT=".utf8)
            fields.appendDecimal(port)
            ends.append(fields.count)
        }
        if program.elementsEqual("haproxy".utf8) {
            // Parsed in place from the message's bytes (no String for the line).
            let record = msg.withUnsafeBufferPointer { line -> HAProxyLogRecord? in
                guard case .traffic(let parsed) = HAProxyLogParser.parse(line) else { return nil }
                return parsed.record(in: line)
            }
            if let record { addHAProxyFields(record) }
        }
        submit()
    }

    /// Hands the fields gathered in `fields` (ended at `ends`) to the sending thread.
    private func submit() {
        if !queue.enqueue(fields: fields, ends: ends) { dropped += 1 }
    }

    private func addHAProxyFields(_ r: HAProxyLogRecord) {
        add("HAPROXY_CLIENT", "\(r.clientIP):\(r.clientPort)".utf8)
        add("HAPROXY_FRONTEND", r.frontend.utf8)
        add("HAPROXY_BACKEND", r.backend.utf8)
        add("HAPROXY_SERVER", r.server.utf8)
        add(
            "HAPROXY_TERMINATION",
            (r.mode == .http ? r.terminationState.description : r.terminationState.sessionState).utf8)
        add("HAPROXY_BYTES", Int(r.bytesRead))
        add("HAPROXY_RETRIES", r.retries)
        if r.mode == .http {
            add("HAPROXY_TQ", r.requestTime)
            add("HAPROXY_TW", r.queueTime)
            add("HAPROXY_TC", r.connectTime)
            add("HAPROXY_TR", r.responseTime)
            add("HAPROXY_TT", r.totalTime)
            add("HAPROXY_STATUS", r.status)
            let parts = r.requestLine.split(separator: " ", maxSplits: 2)
            if parts.count >= 2 {
                add("HAPROXY_METHOD", parts[0].utf8)
                add("HAPROXY_PATH", parts[1].utf8)
            }
        } else {
            add("HAPROXY_TW", r.queueTime)
            add("HAPROXY_TC", r.connectTime)
            add("HAPROXY_TT", r.totalTime)
        }
    }
}

/// The thread that talks to journald: `sd_journal_sendv` blocks when journald is slow (its socket buffer full), so
/// it runs here, behind a bounded queue, never on the sink's loop.
final class JournalQueue: Sendable {
    struct Counts {
        var sent = 0
        var failed = 0
        var lastError: String?
    }
    typealias Entry = (fields: [UInt8], ends: [Int])
    private let worker: WorkerQueue<Entry>
    /// The thread adds to them, the writer reads them.
    private let countsStorage: NIOLockedValueBox<Counts>
    /// How many entries may wait; beyond, new ones are dropped (and counted by the writer).
    static let capacity = 65_536

    init() {
        let counts = NIOLockedValueBox(Counts())
        countsStorage = counts
        worker = WorkerQueue<Entry>(name: "syslog-sink journald", limit: JournalQueue.capacity) { batch in
            var sent = 0
            var failed = 0
            var lastError: String?
            for entry in batch {
                let rc = JournalQueue.send(entry.fields, entry.ends)
                if rc < 0 {
                    failed += 1
                    lastError = "sd_journal_sendv: \(String(cString: strerror(-rc)))"
                } else {
                    sent += 1
                }
            }
            counts.withLockedValue {
                $0.sent += sent
                $0.failed += failed
                if let lastError { $0.lastError = lastError }
            }
        }
    }

    deinit { worker.stop() }

    var counts: Counts { countsStorage.withLockedValue { $0 } }

    /// Queues one entry; false when the queue is full.
    func enqueue(fields: [UInt8], ends: [Int]) -> Bool {
        worker.submit((fields, ends))
    }

    /// Waits until every queued entry has been handed to journald (tests; shutdown), at most `timeout` seconds.
    func drain(timeout: Double = 5) {
        worker.drain(timeout: .milliseconds(Int64(timeout * 1000)))
    }

    private static func send(_ fields: [UInt8], _ ends: [Int]) -> Int32 {
        var fields = fields
        return fields.withUnsafeMutableBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress else { return -EINVAL }
            var vectors: [iovec] = []
            vectors.reserveCapacity(ends.count)
            var start = 0
            for end in ends {
                vectors.append(iovec(iov_base: base + start, iov_len: end - start))
                start = end
            }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
