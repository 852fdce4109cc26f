import CPostgres
import SyslogProtocol
import Foundation

/// ompgsql, as rsyslog 8.2302 runs it: each message is an SQL statement (a template with `option.sql` or
/// `option.stdsql`) run on a PostgreSQL server through libpq, the messages of a batch (up to `queue.dequeueBatchSize`)
/// between `BEGIN` and `COMMIT`. A thread of its own talks to the server, so a slow or absent database never holds up
/// the files.
///
/// - The queue: messages wait in memory (`queue.size`; a Direct action holds up to the main queue's 100,000); past
///   that they are dropped and counted.
/// - The connection: made when there is something to write; one that cannot be made, or breaks, suspends the action
///   for `action.resumeInterval` (longer after every 10 failures, at most `action.resumeIntervalMax`) and the batch is
///   written again, whole, on the next connection. After `action.resumeRetryCount` failed tries (0 by default) what
///   waits is dropped and counted; -1 keeps it for ever. A batch whose COMMIT's answer was lost with the connection
///   may be written twice (at least once, as rsyslog).
/// - A statement the server refuses (a constraint, a column too short): the batch is rolled back and written again one
///   statement at a time, each refused one dropped, counted and named in the sink's log with PostgreSQL's reason — one
///   bad message never holds the others back.
/// - At stop, what is queued is written for up to `drainAtStop`; what is left is counted as lost.
final class PostgresAction: @unchecked Sendable {
    struct Counts {
        /// Statements the server committed.
        var sent = 0
        /// Statements the server refused (each dropped).
        var failed = 0
        /// Messages dropped: the queue was full, or the retries were used up.
        var dropped = 0
        /// Times the action was suspended (the server could not be reached or the connection broke).
        var suspended = 0
        /// Messages still queued when the stop's time ran out.
        var lostAtStop = 0
        var queued = 0
    }

    static let drainAtStop: Duration = .seconds(5)

    let name: String
    private let settings: PostgresSettings
    private let queueSettings: ActionQueueSettings
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [[UInt8]] = []
    private var head = 0
    private var stopping = false
    private var stopDeadline: ContinuousClock.Instant?
    private var countsStorage = Counts()
    private var suspendedFlag = false
    private let finished = DispatchSemaphore(value: 0)

    // The thread's own.
    private var connection: OpaquePointer?
    private var suspension: ActionSuspension

    init(settings: PostgresSettings, queue: ActionQueueSettings) {
        self.settings = settings
        self.queueSettings = queue
        suspension = ActionSuspension(queue)
        name = "ompgsql \(settings.description)"
        let thread = Thread { [self] in run() }
        thread.name = "syslog-sink ompgsql"
        thread.start()
    }

    var counts: Counts {
        condition.lock()
        defer { condition.unlock() }
        var c = countsStorage
        c.queued = pending.count - head
        return c
    }

    /// Whether the database could not be reached: what `action.execOnlyWhenPreviousIsSuspended` looks at.
    var isSuspended: Bool {
        condition.lock()
        defer { condition.unlock() }
        return suspendedFlag
    }

    func send(_ statement: [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        guard pending.count - head < queueSettings.memoryLimit else {
            countsStorage.dropped += 1
            return
        }
        pending.append(statement)
        condition.signal()
    }

    /// Writes what is queued (for up to `drainAtStop`), then closes the connection.
    func stop() {
        condition.lock()
        stopping = true
        stopDeadline = .now + Self.drainAtStop
        condition.signal()
        condition.unlock()
        finished.wait()
    }

    // MARK: The thread

    private func run() {
        while true {
            condition.lock()
            while pending.count == head && !stopping { condition.wait() }
            let done = pending.count == head || (stopping && stopDeadline.map { ContinuousClock.now >= $0 } ?? false)
            if done {
                countsStorage.lostAtStop += pending.count - head
                pending.removeAll()
                head = 0
                condition.unlock()
                break
            }
            let end = min(pending.count, head + max(1, queueSettings.dequeueBatchSize))
            let batch = Array(pending[head..<end])
            condition.unlock()
            if write(batch) {
                condition.lock()
                head += batch.count
                if head > 4096 && head * 2 > pending.count {
                    pending.removeFirst(head)
                    head = 0
                }
                condition.unlock()
            }
        }
        close()
        finished.signal()
    }

    /// Writes one batch; false when it must be tried again (the action is suspended, having waited a little).
    private func write(_ batch: [[UInt8]]) -> Bool {
        if suspension.isWaiting(at: .now), let until = suspension.until {
            if suspension.retriesUsedUp {
                // Retries used up: what waits is dropped while the action stays suspended.
                condition.lock()
                countsStorage.dropped += pending.count - head
                pending.removeAll()
                head = 0
                condition.unlock()
                return false
            }
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: min(0.2, seconds(until - .now)))) }
            let giveUp = stopping && stopDeadline.map { ContinuousClock.now >= $0 } ?? false
            condition.unlock()
            if giveUp { return false }
            if ContinuousClock.now < until { return false }
        }
        guard let db = connect() else { return false }
        switch transaction(db, batch) {
        case .committed:
            count(sent: batch.count)
            return true
        case .connectionLost(let reason):
            suspend(reason)
            return false
        case .refused:
            // One statement at a time: the refused ones are dropped and named, the others written.
            for statement in batch {
                switch execute(db, statement) {
                case .ok: count(sent: 1)
                case .refused(let reason):
                    condition.lock()
                    countsStorage.failed += 1
                    condition.unlock()
                    report("\(name): statement refused, message dropped: \(reason)", severity: .error)
                case .connectionLost(let reason):
                    suspend(reason)
                    return false
                }
            }
            return true
        }
    }

    private enum Outcome {
        case ok
        case refused(String)
        case connectionLost(String)
    }

    private enum TransactionOutcome {
        case committed
        case refused
        case connectionLost(String)
    }

    private func transaction(_ db: OpaquePointer, _ batch: [[UInt8]]) -> TransactionOutcome {
        if batch.count > 1 {
            if case .connectionLost(let r) = execute(db, Array("BEGIN".utf8)) { return .connectionLost(r) }
        }
        for statement in batch {
            switch execute(db, statement) {
            case .ok: continue
            case .connectionLost(let r): return .connectionLost(r)
            case .refused:
                // The caller writes the batch again one statement at a time, dropping and naming the refused ones
                // (a lone statement outside a transaction: nothing to roll back).
                if batch.count > 1, case .connectionLost(let r) = execute(db, Array("ROLLBACK".utf8)) {
                    return .connectionLost(r)
                }
                return .refused
            }
        }
        if batch.count > 1 {
            switch execute(db, Array("COMMIT".utf8)) {
            case .ok: break
            case .connectionLost(let r): return .connectionLost(r)
            case .refused: return .refused
            }
        }
        return .committed
    }

    /// Runs one statement; a failure on a connection that is no longer good is the connection's, any other the
    /// statement's.
    private func execute(_ db: OpaquePointer, _ statement: [UInt8]) -> Outcome {
        var text = statement
        while text.last == 0x0A || text.last == 0x00 { text.removeLast() }
        text.append(0)
        let result = text.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { PQexec(db, $0.baseAddress) }
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return .ok }
        let reason = Self.message(db, result)
        if PQstatus(db) != CONNECTION_OK || result == nil { return .connectionLost(reason) }
        return .refused(reason)
    }

    private static func message(_ db: OpaquePointer, _ result: OpaquePointer?) -> String {
        let text = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? ""
        let fallback = PQerrorMessage(db).map { String(cString: $0) } ?? ""
        return (text.isEmpty ? fallback : text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func connect() -> OpaquePointer? {
        if let connection, PQstatus(connection) == CONNECTION_OK { return connection }
        close()
        guard let db = PQconnectdb(settings.connectionString) else {
            suspend("cannot connect to \(settings.description): out of memory")
            return nil
        }
        guard PQstatus(db) == CONNECTION_OK else {
            let reason = PQerrorMessage(db).map { String(cString: $0) } ?? ""
            PQfinish(db)
            suspend("cannot connect to \(settings.description): \(reason.trimmingCharacters(in: .whitespacesAndNewlines))")
            return nil
        }
        connection = db
        if let notice = suspension.resumed(action: name, waiting: counts.queued, at: .now) {
            report(notice, severity: .informational)
        }
        condition.lock()
        suspendedFlag = false
        condition.unlock()
        return db
    }

    private func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    private func suspend(_ reason: String) {
        close()
        if let notice = suspension.failed(reason, action: name, at: .now).notice { report(notice, severity: .warning) }
        condition.lock()
        countsStorage.suspended += 1
        suspendedFlag = true
        condition.unlock()
    }

    private func count(sent n: Int) {
        condition.lock()
        countsStorage.sent += n
        condition.unlock()
    }

    /// The sink's own message about this action (not while stopping: the loop that takes them is ending).
    private func report(_ text: String, severity: Severity) {
        condition.lock()
        let quiet = stopping
        condition.unlock()
        if !quiet { sinkLog(text, severity: severity) }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
