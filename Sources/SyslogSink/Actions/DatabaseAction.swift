import CMariaDB
import CPostgres
import Foundation
import SyslogProtocol

/// ompgsql and ommysql, as rsyslog 8.2302 runs them: each message is an SQL statement (a template with `option.sql`
/// or `option.stdsql`) run on the database through its client library (`DatabaseDriver`), the messages of a batch
/// (up to `queue.dequeueBatchSize`) in one transaction. A thread of its own talks to the server, so a slow or absent
/// database never holds up the files.
///
/// - The queue: messages wait in memory (`queue.size`; a Direct action holds up to the main queue's 100,000); past
///   that they are dropped and counted.
/// - The connection: made when there is something to write; one that cannot be made, or breaks, suspends the action
///   for `action.resumeInterval` (longer after every 10 failures, at most `action.resumeIntervalMax`) and the batch is
///   written again, whole, on the next connection. After `action.resumeRetryCount` failed tries (0 by default) what
///   waits is dropped and counted; -1 keeps it for ever. A batch whose COMMIT's answer was lost with the connection
///   may be written twice (at least once, as rsyslog).
/// - A statement the server refuses (a constraint, a column too short): the batch is rolled back and written again one
///   statement at a time, each refused one dropped, counted and named in the sink's log with the server's reason — one
///   bad message never holds the others back.
/// - At stop, what is queued is written for up to `drainAtStop`; what is left is counted as lost.
final class DatabaseAction: @unchecked Sendable {
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
    private let driver: any DatabaseDriver
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
    private var suspension: ActionSuspension

    init(driver: any DatabaseDriver, queue: ActionQueueSettings) {
        self.driver = driver
        self.queueSettings = queue
        suspension = ActionSuspension(queue)
        name = "\(driver.module) \(driver.description)"
        let thread = Thread { [self] in run() }
        thread.name = "syslog-sink \(driver.module)"
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
        driver.close()
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
            if !stopping { _ = condition.wait(until: suspension.nextLook(until: until)) }
            let giveUp = stopping && stopDeadline.map { ContinuousClock.now >= $0 } ?? false
            condition.unlock()
            if giveUp { return false }
            if ContinuousClock.now < until { return false }
        }
        guard connect() else { return false }
        switch transaction(batch) {
        case .committed:
            count(sent: batch.count)
            return true
        case .connectionLost(let reason):
            suspend(reason)
            return false
        case .refused:
            // One statement at a time: the refused ones are dropped and named, the others written.
            for statement in batch {
                switch transaction([statement]) {
                case .committed: count(sent: 1)
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

    private enum TransactionOutcome {
        case committed
        /// A statement refused: the transaction rolled back (the refusal's reason).
        case refused(String)
        case connectionLost(String)
    }

    /// `statements` between the driver's BEGIN and COMMIT, rolled back at the first one refused.
    private func transaction(_ statements: [[UInt8]]) -> TransactionOutcome {
        if case .connectionLost(let r) = driver.execute(Array(driver.begin.utf8)) { return .connectionLost(r) }
        for statement in statements {
            switch driver.execute(statement) {
            case .ok: continue
            case .connectionLost(let r): return .connectionLost(r)
            case .refused(let reason):
                if case .connectionLost(let r) = driver.execute(Array("ROLLBACK".utf8)) { return .connectionLost(r) }
                return .refused(reason)
            }
        }
        switch driver.execute(Array("COMMIT".utf8)) {
        case .ok: return .committed
        case .connectionLost(let r): return .connectionLost(r)
        case .refused(let reason): return .refused(reason)
        }
    }

    /// Connected, or suspended (false) with the driver's reason.
    private func connect() -> Bool {
        if driver.isConnected { return true }
        driver.close()
        if let reason = driver.connect() {
            suspend("cannot connect to \(driver.description): \(reason)")
            return false
        }
        if let notice = suspension.resumed(action: name, waiting: counts.queued, at: .now) {
            report(notice, severity: .informational)
        }
        condition.lock()
        suspendedFlag = false
        condition.unlock()
        return true
    }

    private func suspend(_ reason: String) {
        driver.close()
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

}

/// What a statement did.
enum DatabaseOutcome: Equatable {
    case ok
    /// The server refused it (its reason): the statement's fault, not the connection's.
    case refused(String)
    /// The connection failed or broke (the reason).
    case connectionLost(String)
}

/// A database's client library, as `DatabaseAction` uses it (on its thread only).
protocol DatabaseDriver: AnyObject {
    /// `ompgsql`, `ommysql`.
    var module: String { get }
    /// The server as messages name it (never the password).
    var description: String { get }
    /// The statement that opens a transaction.
    var begin: String { get }
    var isConnected: Bool { get }
    /// Connects; nil when connected, else why not (the library's words).
    func connect() -> String?
    func execute(_ statement: [UInt8]) -> DatabaseOutcome
    func close()
}

/// The statement as a C string: without the template's trailing line feed.
private func cStatement(_ statement: [UInt8]) -> [CChar] {
    var text = statement
    while text.last == 0x0A || text.last == 0x00 { text.removeLast() }
    text.append(0)
    return text.map { CChar(bitPattern: $0) }
}

/// ompgsql's: libpq, as rsyslog's module uses it.
final class PostgresDriver: DatabaseDriver {
    let settings: PostgresSettings
    private var connection: OpaquePointer?

    init(_ settings: PostgresSettings) { self.settings = settings }

    var module: String { "ompgsql" }
    var description: String { settings.description }
    var begin: String { "BEGIN" }
    var isConnected: Bool { connection.map { PQstatus($0) == CONNECTION_OK } ?? false }

    func connect() -> String? {
        guard let db = PQconnectdb(settings.connectionString) else { return "out of memory" }
        guard PQstatus(db) == CONNECTION_OK else {
            let reason = PQerrorMessage(db).map { String(cString: $0) } ?? ""
            PQfinish(db)
            return reason.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        connection = db
        return nil
    }

    /// A failure on a connection that is no longer good is the connection's, any other the statement's.
    func execute(_ statement: [UInt8]) -> DatabaseOutcome {
        guard let db = connection else { return .connectionLost("not connected") }
        let text = cStatement(statement)
        let result = text.withUnsafeBufferPointer { PQexec(db, $0.baseAddress) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return .ok }
        let message = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? ""
        let fallback = PQerrorMessage(db).map { String(cString: $0) } ?? ""
        let reason = (message.isEmpty ? fallback : message).trimmingCharacters(in: .whitespacesAndNewlines)
        if PQstatus(db) != CONNECTION_OK || result == nil { return .connectionLost(reason) }
        return .refused(reason)
    }

    func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }
}

/// ommysql's: MariaDB Connector/C, as rsyslog's module uses it (autocommit off, the option file's `[client]` group
/// or `mysqlconfig.section`, errors 2000–2999 the client's: the connection's; any other the statement's).
final class MySQLDriver: DatabaseDriver {
    let settings: MySQLSettings
    private var connection: UnsafeMutablePointer<MYSQL>?

    init(_ settings: MySQLSettings) { self.settings = settings }

    var module: String { "ommysql" }
    var description: String { settings.description }
    var begin: String { "START TRANSACTION" }
    var isConnected: Bool { connection != nil }

    func connect() -> String? {
        guard let db = mysql_init(nil) else { return "cannot initialize a MySQL handle" }
        mysql_options(db, MYSQL_READ_DEFAULT_GROUP, settings.configSection ?? "client")
        if let file = settings.configFile, access(file, R_OK) == 0 {
            mysql_options(db, MYSQL_READ_DEFAULT_FILE, file)
        }
        var timeout: UInt32 = 5
        mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &timeout)
        var writeTimeout: UInt32 = 20
        mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &writeTimeout)
        guard
            mysql_real_connect(
                db, settings.server, settings.user, settings.password, settings.database, UInt32(settings.port),
                settings.socket, 0) != nil
        else {
            let reason = "db error (\(mysql_errno(db))): " + String(cString: mysql_error(db))
            mysql_close(db)
            return reason
        }
        _ = mysql_autocommit(db, 0)
        connection = db
        return nil
    }

    func execute(_ statement: [UInt8]) -> DatabaseOutcome {
        guard let db = connection else { return .connectionLost("not connected") }
        let text = cStatement(statement)
        let failed = text.withUnsafeBufferPointer { mysql_query(db, $0.baseAddress) } != 0
        if !failed {
            // A statement that returns rows (a SELECT in a template): read and dropped, or the next one fails.
            if let result = mysql_store_result(db) { mysql_free_result(result) }
            return .ok
        }
        let code = mysql_errno(db)
        let reason = "db error (\(code)): " + String(cString: mysql_error(db))
        return (2000...2999).contains(code) ? .connectionLost(reason) : .refused(reason)
    }

    func close() {
        if let connection { mysql_close(connection) }
        connection = nil
    }
}
