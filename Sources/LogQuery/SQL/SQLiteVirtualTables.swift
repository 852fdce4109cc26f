import CSQLite
import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// The one place that touches SQLite's C interface: a database in memory whose tables are Swift objects
/// (`SQLTable`), served through SQLite's virtual table interface, and a statement's rows read back as values.
/// Everything else in `logquery sql` is plain Swift.

/// A comparison SQLite can hand a table to narrow what it reads (the value arrives when the rows are asked for).
public enum SQLComparison: Sendable, Equatable {
    case equal, greater, greaterOrEqual, less, lessOrEqual

    init?(_ op: UInt8) {
        switch Int32(op) {
        case SQLITE_INDEX_CONSTRAINT_EQ: self = .equal
        case SQLITE_INDEX_CONSTRAINT_GT: self = .greater
        case SQLITE_INDEX_CONSTRAINT_GE: self = .greaterOrEqual
        case SQLITE_INDEX_CONSTRAINT_LT: self = .less
        case SQLITE_INDEX_CONSTRAINT_LE: self = .lessOrEqual
        default: return nil
        }
    }
}

/// How SQLite wants a table's rows handed: as they come, with equal values side by side (GROUP BY, DISTINCT), or
/// sorted (ORDER BY, a window's PARTITION BY … ORDER BY).
public enum SQLArrangement: Sendable, Equatable {
    case asTheyCome
    case grouped([Int])
    case sorted([(column: Int, descending: Bool)])

    public static func == (a: SQLArrangement, b: SQLArrangement) -> Bool {
        switch (a, b) {
        case (.asTheyCome, .asTheyCome): true
        case (.grouped(let x), .grouped(let y)): x == y
        case (.sorted(let x), .sorted(let y)): x.map(\.column) == y.map(\.column) && x.map(\.descending) == y.map(\.descending)
        default: false
        }
    }
}

/// A value going in or out of SQLite.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// Where a table writes one column's value for SQLite.
public struct SQLResult: ~Copyable {
    fileprivate let context: OpaquePointer?
    public func null() { sqlite3_result_null(context) }
    public func integer(_ v: Int64) { sqlite3_result_int64(context, v) }
    public func real(_ v: Double) { sqlite3_result_double(context, v) }
    public func text(_ bytes: UnsafeBufferPointer<UInt8>) {
        bytes.withMemoryRebound(to: CChar.self) { tollgate_sqlite_result_text(context, $0.baseAddress, Int32($0.count)) }
    }
    public func text(_ s: String) {
        var s = s
        s.withUTF8 { text($0) }
    }
}

/// A table SQLite reads through the virtual table interface.
public protocol SQLTable: AnyObject {
    /// `CREATE TABLE x(…)`: the columns SQLite sees.
    var declaration: String { get }
    /// Whether the table would narrow its rows by this comparison on this column (then its value is passed to
    /// `prepareRows`; SQLite checks the comparison again on every row either way).
    func narrows(column: Int, _ comparison: SQLComparison) -> Bool
    /// The columns a plan reads (SQLite's `colUsed`: bit N for column N, bit 63 for 63 and above).
    func use(columns mask: UInt64)
    /// Whether the table can hand its rows with equal values in `columns` next to each other (what a GROUP BY or a
    /// DISTINCT needs), or sorted by them: SQLite then sorts nothing.
    func groups(columns: [Int]) -> Bool
    /// The rows for these comparisons, grouped or sorted as `arrangement` says: what one cursor reads.
    func prepareRows(_ narrowing: [(column: Int, comparison: SQLComparison, value: SQLValue)], arrangement: SQLArrangement)
        throws -> SQLRows
}

/// The rows one cursor reads: its table makes them (`prepareRows`), the cursor holds them until it is closed or
/// filtered again, so two cursors on one table (a self-join, a subquery) never read each other's. A class, not a
/// protocol: SQLite asks for each value of each row, and a class method called through an unretained reference
/// costs no reference counting there.
public class SQLRows {
    public let count: Int
    public init(count: Int) { self.count = count }
    /// Writes the value of `column` in row `row`.
    public func value(row: Int, column: Int, into result: borrowing SQLResult) { result.null() }
}

/// Why a query failed, in SQLite's words (or the table's).
public struct SQLError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An SQLite database in memory with `tables` registered as virtual tables under their names.
final class SQLiteDatabase {
    private var db: OpaquePointer?
    /// Kept alive while SQLite holds pointers to them.
    private let registry: Registry

    final class Registry {
        var tables: [String: any SQLTable] = [:]
        /// The comparisons each plan passes and the columns it groups by, by the plan's number (`idxNum`).
        var plans: [(comparisons: [(column: Int, comparison: SQLComparison)], arrangement: SQLArrangement)] = []
        var lastError: String?
        /// One per virtual table SQLite made, what its `owner` points to (kept alive here).
        var boxes: [Box] = []
    }

    /// What a virtual table's `owner` points to: its table and the registry.
    final class Box {
        unowned let registry: Registry
        let table: any SQLTable
        init(registry: Registry, table: any SQLTable) {
            self.registry = registry
            self.table = table
        }
    }

    /// The module's functions, kept at a fixed address for as long as the database lives.
    private let module: UnsafeMutablePointer<sqlite3_module>

    /// SQLite set up once per process, before its first use.
    private static let configured: Int32 = tollgate_sqlite_without_memory_statistics()

    init(tables: [String: any SQLTable], threads: Int = 1) throws {
        registry = Registry()
        registry.tables = tables
        module = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
        module.initialize(to: Self.functions())
        _ = Self.configured
        // One thread uses the connection: no mutex around each call.
        guard sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK
        else { throw SQLError("cannot open an SQLite database in memory") }
        let aux = Unmanaged.passUnretained(registry).toOpaque()
        guard sqlite3_create_module(db, "logquery", module, aux) == SQLITE_OK else {
            throw SQLError(String(cString: sqlite3_errmsg(db)))
        }
        // lnav's `ipaddress` collation (its client_ip column's): addresses in numeric order, IPv4 before IPv6, other
        // text after them byte by byte.
        guard sqlite3_create_collation_v2(db, "ipaddress", SQLITE_UTF8, nil, Self.ipAddressOrder, nil) == SQLITE_OK else {
            throw SQLError(String(cString: sqlite3_errmsg(db)))
        }
        // Sorts (GROUP BY on an expression, ORDER BY, windows) in memory and on every core, not in temporary files.
        try execute("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -262144; PRAGMA threads = \(max(1, threads))")
        for name in tables.keys.sorted() {
            try execute("CREATE VIRTUAL TABLE temp.\(name) USING logquery(\(name))")
        }
    }

    deinit {
        sqlite3_close(db)
        module.deallocate()
    }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(db))
            sqlite3_free(message)
            throw SQLError(text)
        }
    }

    /// Runs one statement: its column names and rows.
    func query(_ sql: String) throws -> (columns: [String], rows: [[SQLValue]]) {
        var statement: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, &tail) == SQLITE_OK, let statement else {
            throw SQLError(registry.lastError ?? String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(statement) }
        if let tail, !String(cString: tail).allSatisfy({ $0.isWhitespace || $0 == ";" }) {
            throw SQLError("one statement at a time: '\(String(cString: tail).trimmingCharacters())' follows the first")
        }
        let count = Int(sqlite3_column_count(statement))
        let columns = (0..<count).map { String(cString: sqlite3_column_name(statement, Int32($0))) }
        var rows: [[SQLValue]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw SQLError(registry.lastError ?? String(cString: sqlite3_errmsg(db))) }
            rows.append(
                (0..<Int32(count)).map { i in
                    switch sqlite3_column_type(statement, i) {
                    case SQLITE_INTEGER: .integer(sqlite3_column_int64(statement, i))
                    case SQLITE_FLOAT: .real(sqlite3_column_double(statement, i))
                    case SQLITE_NULL: .null
                    default: .text(sqlite3_column_text(statement, i).map { String(cString: $0) } ?? "")
                    }
                })
        }
        return (columns, rows)
    }

    private static let ipAddressOrder:
        @convention(c) (UnsafeMutableRawPointer?, Int32, UnsafeRawPointer?, Int32, UnsafeRawPointer?) -> Int32 = {
            _, lengthA, a, lengthB, b in
            let x = UnsafeBufferPointer(start: a?.assumingMemoryBound(to: UInt8.self), count: Int(max(0, lengthA)))
            let y = UnsafeBufferPointer(start: b?.assumingMemoryBound(to: UInt8.self), count: Int(max(0, lengthB)))
            return Int32(IPAddressOrder.compare(x, y))
        }

    // MARK: The module

    /// The table behind a virtual table, and the registry.
    private static func table(_ vtab: UnsafeMutablePointer<sqlite3_vtab>?) -> (Registry, any SQLTable)? {
        guard let vtab else { return nil }
        return vtab.withMemoryRebound(to: tollgate_vtab.self, capacity: 1) { v in
            v.pointee.owner.map {
                let box = Unmanaged<Box>.fromOpaque($0).takeUnretainedValue()
                return (box.registry, box.table)
            }
        }
    }

    private static let connect:
        @convention(c) (
            OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?,
            UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab>?>?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        ) -> Int32 = { db, aux, argc, argv, vtabOut, _ in
            guard let aux, let argv, argc >= 4, let raw = argv[3] else { return SQLITE_ERROR }
            let registry = Unmanaged<Registry>.fromOpaque(aux).takeUnretainedValue()
            let name = String(cString: raw)
            guard let table = registry.tables[name] else { return SQLITE_ERROR }
            guard sqlite3_declare_vtab(db, table.declaration) == SQLITE_OK else { return SQLITE_ERROR }
            guard let memory = sqlite3_malloc(Int32(MemoryLayout<tollgate_vtab>.size)) else { return SQLITE_NOMEM }
            memset(memory, 0, MemoryLayout<tollgate_vtab>.size)
            let vtab = memory.bindMemory(to: tollgate_vtab.self, capacity: 1)
            let box = Box(registry: registry, table: table)
            registry.boxes.append(box)
            vtab.pointee.owner = Unmanaged.passUnretained(box).toOpaque()
            vtabOut?.pointee = UnsafeMutableRawPointer(vtab).assumingMemoryBound(to: sqlite3_vtab.self)
            return SQLITE_OK
        }

    private static let disconnect: @convention(c) (UnsafeMutablePointer<sqlite3_vtab>?) -> Int32 = { vtab in
        sqlite3_free(vtab)
        return SQLITE_OK
    }

    private static let bestIndex:
        @convention(c) (UnsafeMutablePointer<sqlite3_vtab>?, UnsafeMutablePointer<sqlite3_index_info>?) -> Int32 = {
            vtab, info in
            guard let (registry, table) = table(vtab), let info else { return SQLITE_ERROR }
            table.use(columns: UInt64(info.pointee.colUsed))
            var passed: [(column: Int, comparison: SQLComparison)] = []
            let count = Int(info.pointee.nConstraint)
            if let constraints = info.pointee.aConstraint, let usage = info.pointee.aConstraintUsage {
                for i in 0..<count {
                    let c = constraints[i]
                    guard c.usable != 0, c.iColumn >= 0, let comparison = SQLComparison(c.op),
                        table.narrows(column: Int(c.iColumn), comparison)
                    else { continue }
                    passed.append((Int(c.iColumn), comparison))
                    usage[i].argvIndex = Int32(passed.count)
                    usage[i].omit = 0
                }
            }
            // A GROUP BY or DISTINCT only needs equal rows side by side (sqlite3_vtab_distinct 1 or 2), an ORDER BY
            // (or a window's) the rows sorted (0); either way the table arranges them and SQLite's sorter is left out.
            var arrangement = SQLArrangement.asTheyCome
            let orderCount = Int(info.pointee.nOrderBy)
            if orderCount > 0, let order = info.pointee.aOrderBy {
                let terms = (0..<orderCount).map { (column: Int(order[$0].iColumn), descending: order[$0].desc != 0) }
                let distinct = sqlite3_vtab_distinct(info)
                if terms.allSatisfy({ $0.column >= 0 }) && table.groups(columns: terms.map(\.column)) {
                    if distinct == 1 || distinct == 2 {
                        arrangement = .grouped(terms.map(\.column))
                        info.pointee.orderByConsumed = 1
                    } else if distinct == 0 {
                        arrangement = .sorted(terms)
                        info.pointee.orderByConsumed = 1
                    }
                }
            }
            registry.plans.append((passed, arrangement))
            info.pointee.idxNum = Int32(registry.plans.count - 1)
            info.pointee.estimatedCost = passed.isEmpty ? 1_000_000 : 1_000_000 / Double(1 + passed.count * 10)
            return SQLITE_OK
        }

    private static let open:
        @convention(c) (UnsafeMutablePointer<sqlite3_vtab>?, UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab_cursor>?>?)
            -> Int32 = { _, cursorOut in
                guard let memory = sqlite3_malloc(Int32(MemoryLayout<tollgate_cursor>.size)) else { return SQLITE_NOMEM }
                memset(memory, 0, MemoryLayout<tollgate_cursor>.size)
                cursorOut?.pointee = memory.assumingMemoryBound(to: sqlite3_vtab_cursor.self)
                return SQLITE_OK
            }

    private static let close: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 = { cursor in
        if let rows = state(cursor)?.pointee.rows { Unmanaged<SQLRows>.fromOpaque(rows).release() }
        sqlite3_free(cursor)
        return SQLITE_OK
    }

    private static func state(_ cursor: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> UnsafeMutablePointer<tollgate_cursor>? {
        cursor.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: tollgate_cursor.self) }
    }

    private static let filter:
        @convention(c) (
            UnsafeMutablePointer<sqlite3_vtab_cursor>?, Int32, UnsafePointer<CChar>?, Int32,
            UnsafeMutablePointer<OpaquePointer?>?
        ) -> Int32 = { cursor, idxNum, _, argc, argv in
            guard let cursor, let state = state(cursor), let (registry, table) = table(cursor.pointee.pVtab),
                Int(idxNum) < registry.plans.count
            else { return SQLITE_ERROR }
            let plan = registry.plans[Int(idxNum)]
            var narrowing: [(column: Int, comparison: SQLComparison, value: SQLValue)] = []
            for (i, (column, comparison)) in plan.comparisons.enumerated() where i < Int(argc) {
                guard let value = argv?[i] else { continue }
                let v: SQLValue
                switch sqlite3_value_type(value) {
                case SQLITE_INTEGER: v = .integer(sqlite3_value_int64(value))
                case SQLITE_FLOAT: v = .real(sqlite3_value_double(value))
                case SQLITE_TEXT: v = .text(sqlite3_value_text(value).map { String(cString: $0) } ?? "")
                default: v = .null
                }
                narrowing.append((column, comparison, v))
            }
            do {
                let rows = try table.prepareRows(narrowing, arrangement: plan.arrangement)
                if let old = state.pointee.rows { Unmanaged<SQLRows>.fromOpaque(old).release() }
                state.pointee.rows = Unmanaged.passRetained(rows).toOpaque()
                state.pointee.count = Int64(rows.count)
                state.pointee.row = 0
                return SQLITE_OK
            } catch {
                registry.lastError = "\(error)"
                return SQLITE_ERROR
            }
        }

    private static let next: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 = { cursor in
        state(cursor)?.pointee.row += 1
        return SQLITE_OK
    }

    private static let eof: @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 = { cursor in
        guard let state = state(cursor) else { return 1 }
        return state.pointee.row >= state.pointee.count ? 1 : 0
    }

    private static let column:
        @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?, OpaquePointer?, Int32) -> Int32 = {
            cursor, context, column in
            guard let state = state(cursor), let rows = state.pointee.rows else { return SQLITE_ERROR }
            // The cursor holds its rows: read them without a retain and a release per value.
            Unmanaged<SQLRows>.fromOpaque(rows)._withUnsafeGuaranteedRef {
                $0.value(row: Int(state.pointee.row), column: Int(column), into: SQLResult(context: context))
            }
            return SQLITE_OK
        }

    private static let rowid:
        @convention(c) (UnsafeMutablePointer<sqlite3_vtab_cursor>?, UnsafeMutablePointer<sqlite3_int64>?) -> Int32 = {
            cursor, out in
            out?.pointee = state(cursor)?.pointee.row ?? 0
            return SQLITE_OK
        }

    private static func functions() -> sqlite3_module {
        var m = sqlite3_module()
        m.iVersion = 1
        m.xCreate = connect
        m.xConnect = connect
        m.xBestIndex = bestIndex
        m.xDisconnect = disconnect
        m.xDestroy = disconnect
        m.xOpen = open
        m.xClose = close
        m.xFilter = filter
        m.xNext = next
        m.xEof = eof
        m.xColumn = column
        m.xRowid = rowid
        return m
    }
}

/// lnav's `ipaddress` order.
enum IPAddressOrder {
    static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        // Most addresses are IPv4: read in place, no allocation.
        if let x = AddressMatcher.ipv4(a), let y = AddressMatcher.ipv4(b) { return x < y ? -1 : (x == y ? 0 : 1) }
        switch (AddressMatcher.addressBytes(a), AddressMatcher.addressBytes(b)) {
        case (let x?, let y?):
            if x.count != y.count { return x.count < y.count ? -1 : 1 }
            return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
        case (_?, nil): return -1
        case (nil, _?): return 1
        case (nil, nil):
            if a.elementsEqual(b) { return 0 }
            return a.lexicographicallyPrecedes(b) ? -1 : 1
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
