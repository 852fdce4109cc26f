import HAProxyLog
import LogCore

/// `logquery sql`: SQLite's planner and aggregates over the log parser's rows. The tables `haproxy_log`, `http` and
/// `tcp` (lnav's `haproxy_log` columns, see `LogColumn`) and `events` are virtual: when SQLite first asks for rows,
/// the files are scanned on every core for the columns the query names only, with the command line's filters and
/// the query's comparisons on backend, frontend, server, host, status and time applied before the rows are kept.
public struct SQLQuery {
    public var files: [String]
    public var filter: LineFilter
    public var workers: Int
    public var showsProgress = false
    /// Custom `log-format`s the lines are tried against first.
    public var formats: [LogFormatReader] = []
    /// Read the journal instead of `files`.
    public var journal: JournalSelection?

    public init(files: [String], filter: LineFilter, workers: Int = Scanner.defaultWorkers) {
        self.files = files
        self.filter = filter
        self.workers = workers
    }

    /// What a run found: the answer, what was pushed into each scan (`--explain`), and the scans' counts.
    public struct Outcome {
        public var report: Report
        public var explain: [String]
        public var counts: ScanCounts
        public var errors: [InputError]
    }

    public func run(_ sql: String) throws -> Outcome {
        var tables: [String: any SQLTable] = [:]
        var traffic: [TrafficSQLTable] = []
        for t in TrafficTable.allCases {
            let table = TrafficSQLTable(t, query: self)
            traffic.append(table)
            tables[t.rawValue] = table
        }
        let events = EventsSQLTable(query: self)
        tables["events"] = events
        let db = try SQLiteDatabase(tables: tables, threads: workers)
        let (columns, rows) = try db.query(sql)
        var report = Report(columns: columns)
        report.rows = rows.map { row in
            row.map { v -> Cell in
                switch v {
                case .null: .none
                case .integer(let n): .int(Int(n))
                case .real(let d): .text("\(d)")
                case .text(let t): .text(t)
                }
            }
        }
        var counts = ScanCounts()
        var errors: [InputError] = []
        for t in traffic where t.scans > 0 {
            counts.merge(t.counts)
            errors += t.errors
        }
        if events.scans > 0 {
            counts.merge(events.counts)
            errors += events.errors
        }
        return Outcome(
            report: report, explain: traffic.flatMap(\.explain) + events.explain, counts: counts, errors: errors)
    }

    func scan<A: LineAccumulator>(_ type: A.Type, filter: LineFilter, configuration: A.Configuration)
        -> (A, ScanCounts, [InputError])
    {
        var scanner = Scanner(filter: filter, workers: workers)
        scanner.formats = formats
        scanner.showsProgress = showsProgress
        if let journal { return scanner.run(journal: journal, into: A.self, configuration: configuration) }
        return scanner.run(files, into: A.self, configuration: configuration)
    }
}

/// `haproxy_log`, `http` or `tcp`.
final class TrafficSQLTable: SQLTable {
    let table: TrafficTable
    let query: SQLQuery
    private var used: UInt64 = 0
    private var frozen: FrozenColumns?
    private var storeKey: String?
    /// What each scan was given (`--explain`), and what the scans met.
    private(set) var explain: [String] = []
    private(set) var counts = ScanCounts()
    private(set) var errors: [InputError] = []
    private(set) var scans = 0

    init(_ table: TrafficTable, query: SQLQuery) {
        self.table = table
        self.query = query
    }

    var declaration: String { LogColumn.declaration }

    func narrows(column: Int, _ comparison: SQLComparison) -> Bool {
        guard let c = LogColumn(rawValue: column) else { return false }
        switch c {
        case .backendName, .frontendName, .serverName, .loggingHost: return comparison == .equal
        case .statusCode: return query.filter.statuses.isEmpty
        case .logTime: return comparison != .equal
        default: return false
        }
    }

    func use(columns mask: UInt64) { used |= mask }

    private var columns: [LogColumn] {
        LogColumn.allCases.filter { used & (1 << UInt64(min($0.rawValue, 63))) != 0 }
    }

    func groups(columns: [Int]) -> Bool { columns.allSatisfy { LogColumn(rawValue: $0) != nil } }

    func prepareRows(_ narrowing: [(column: Int, comparison: SQLComparison, value: SQLValue)], arrangement: SQLArrangement)
        throws -> SQLRows
    {
        var filter = query.filter
        var pushed: [String] = []
        var low = 0
        var high = 999
        var statusNarrowed = false
        for (column, comparison, value) in narrowing {
            guard let c = LogColumn(rawValue: column) else { continue }
            switch (c, value) {
            case (.backendName, .text(let name)):
                filter.backends.append(Glob(name))
                pushed.append("backend_name = '\(name)'")
            case (.frontendName, .text(let name)):
                filter.frontends.append(Glob(name))
                pushed.append("frontend_name = '\(name)'")
            case (.serverName, .text(let name)):
                filter.servers.append(Glob(name))
                pushed.append("server_name = '\(name)'")
            case (.loggingHost, .text(let name)):
                filter.hosts.append(Glob(name))
                pushed.append("logging_host = '\(name)'")
            case (.statusCode, .integer(let n)):
                let n = Int(clamping: n)
                switch comparison {
                case .equal: (low, high) = (max(low, n), min(high, n))
                case .greater: low = max(low, n + 1)
                case .greaterOrEqual: low = max(low, n)
                case .less: high = min(high, n - 1)
                case .lessOrEqual: high = min(high, n)
                }
                statusNarrowed = true
            case (.logTime, .text(let text)):
                guard let t = WallTime.parse(text) else { continue }
                switch comparison {
                case .greater, .greaterOrEqual:
                    if filter.since.map({ t > $0 }) ?? true { filter.since = t }
                case .less, .lessOrEqual:
                    let bound = comparison == .less ? t : WallTime(milliseconds: t.milliseconds + 1)
                    if filter.until.map({ bound < $0 }) ?? true { filter.until = bound }
                case .equal:
                    continue
                }
                pushed.append("log_time \(comparison.symbol) '\(text)'")
            default:
                continue
            }
        }
        if statusNarrowed {
            // Comparisons that exclude every status leave an empty range: no line passes.
            filter.statuses = [low <= high ? low...high : 1_000...1_000]
            pushed.append("status_code in \(low)...\(high)")
        }
        let columns = self.columns
        let key = pushed.joined(separator: ", ") + " | " + columns.map(\.name).joined(separator: ",")
        let made: FrozenColumns
        if let frozen, storeKey == key {
            made = frozen
        } else {
            let (result, counts, errors) = query.scan(
                ColumnStore.self, filter: filter,
                configuration: ColumnStore.Configuration(table: table, columns: columns))
            scans += 1
            self.counts.merge(counts)
            self.errors += errors
            explain.append(
                "\(table.rawValue): scan \(scans), columns \(columns.map(\.name).joined(separator: ", ")); pushed down: "
                    + (pushed.isEmpty ? "nothing" : pushed.joined(separator: " AND ")) + "; \(result.count) rows")
            made = FrozenColumns(result)
            frozen = made
            storeKey = key
        }
        switch arrangement {
        case .asTheyCome:
            return TrafficRows(made, order: nil)
        case .grouped(let columns):
            let keys = columns.compactMap { LogColumn(rawValue: $0) }
            explain[explain.count - 1] += "; grouped by " + keys.map(\.name).joined(separator: ", ")
            return TrafficRows(made, order: made.groupedOrder(by: keys))
        case .sorted(let terms):
            let keys = terms.compactMap { t in LogColumn(rawValue: t.column).map { (column: $0, descending: t.descending) } }
            explain[explain.count - 1] += "; sorted by "
                + keys.map { $0.column.name + ($0.descending ? " DESC" : "") }.joined(separator: ", ")
            return TrafficRows(made, order: made.sortedOrder(by: keys))
        }
    }
}

/// `events`: server state changes, health checks, lifecycle and audit messages (`logquery events`' columns).
final class EventsSQLTable: SQLTable {
    let query: SQLQuery
    private var report: Report?
    private(set) var explain: [String] = []
    private(set) var counts = ScanCounts()
    private(set) var errors: [InputError] = []
    private(set) var scans = 0

    static let columns = ["log_time", "logging_host", "kind", "backend_name", "server_name", "level", "message"]

    init(query: SQLQuery) { self.query = query }

    var declaration: String {
        "CREATE TABLE x(log_time TEXT, logging_host TEXT, kind TEXT, backend_name TEXT, server_name TEXT, level INTEGER, message TEXT)"
    }

    func narrows(column: Int, _ comparison: SQLComparison) -> Bool { false }
    func use(columns mask: UInt64) {}
    func groups(columns: [Int]) -> Bool { false }

    func prepareRows(_ narrowing: [(column: Int, comparison: SQLComparison, value: SQLValue)], arrangement: SQLArrangement)
        throws -> SQLRows
    {
        if let report { return ReportRows(report) }
        let (list, counts, errors) = query.scan(EventList.self, filter: query.filter, configuration: ())
        scans += 1
        self.counts = counts
        self.errors = errors
        let made = Views.events(list)
        explain.append("events: scan 1; \(made.rows.count) rows")
        report = made
        return ReportRows(made)
    }
}

/// A report's rows as a cursor reads them (the `events` table).
final class ReportRows: SQLRows {
    let report: Report
    init(_ report: Report) {
        self.report = report
        super.init(count: report.rows.count)
    }

    override func value(row: Int, column: Int, into result: borrowing SQLResult) {
        guard row >= 0, row < report.rows.count, column >= 0, column < report.rows[row].count else { return result.null() }
        switch report.rows[row][column] {
        case .text(let t): column == 0 || !t.isEmpty ? result.text(t) : result.null()
        case .int(let n): result.integer(Int64(n))
        case .decimal(let d, _): result.real(d)
        case .none: result.null()
        }
    }
}

extension SQLComparison {
    var symbol: String {
        switch self {
        case .equal: "="
        case .greater: ">"
        case .greaterOrEqual: ">="
        case .less: "<"
        case .lessOrEqual: "<="
        }
    }
}
