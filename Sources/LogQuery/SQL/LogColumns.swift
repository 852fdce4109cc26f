import HAProxyLog
import LogCore

#if canImport(Glibc)
    import Glibc
#endif

/// The columns of `logquery sql`'s traffic tables: lnav's `haproxy_log` names and kinds (its format definition),
/// so that an lnav user's query runs unchanged, with `mode` added. Timers, status and counters are integers, with
/// NULL where HAProxy wrote -1 (or, for a TCP line, where it has no such timer).
public enum LogColumn: Int, CaseIterable, Sendable {
    case logTime, loggingHost, processName, pid, clientIP, clientPort, acceptDate, frontendName, ssl, backendName
    case serverName, tq, tw, tc, tr, tt, statusCode, bytesRead, capturedRequestCookie, capturedResponseCookie
    case terminationState, actconn, feconn, beconn, srvConn, retries, srvQueue, backendQueue
    case capturedRequestHeaders, capturedResponseHeaders, httpMethod, httpURL, httpVersion, mode

    public var name: String {
        switch self {
        case .logTime: "log_time"
        case .loggingHost: "logging_host"
        case .processName: "process_name"
        case .pid: "pid"
        case .clientIP: "client_ip"
        case .clientPort: "client_port"
        case .acceptDate: "accept_date"
        case .frontendName: "frontend_name"
        case .ssl: "ssl"
        case .backendName: "backend_name"
        case .serverName: "server_name"
        case .tq: "tq"
        case .tw: "tw"
        case .tc: "tc"
        case .tr: "tr"
        case .tt: "tt"
        case .statusCode: "status_code"
        case .bytesRead: "bytes_read"
        case .capturedRequestCookie: "captured_request_cookie"
        case .capturedResponseCookie: "captured_response_cookie"
        case .terminationState: "termination_state"
        case .actconn: "actconn"
        case .feconn: "feconn"
        case .beconn: "beconn"
        case .srvConn: "srv_conn"
        case .retries: "retries"
        case .srvQueue: "srv_queue"
        case .backendQueue: "backend_queue"
        case .capturedRequestHeaders: "captured_request_headers"
        case .capturedResponseHeaders: "captured_response_headers"
        case .httpMethod: "http_method"
        case .httpURL: "http_url"
        case .httpVersion: "http_version"
        case .mode: "mode"
        }
    }

    /// `dd/Mon/yyyy:HH:MM:SS.mmm` as `yyyy-MM-dd HH:MM:SS.mmm`; false when the text is not that.
    static func appendLogTime(fromLogged range: Range<Int>, _ buffer: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        guard range.count >= 24, range.upperBound <= buffer.count else { return false }
        let b = UnsafeBufferPointer(rebasing: buffer[range])
        guard b[2] == 0x2F, b[6] == 0x2F, b[11] == 0x3A, b[20] == 0x2E, let month = CivilTime.month(b[3], b[4], b[5]) else {
            return false
        }
        out.append(contentsOf: b[7..<11])
        out.append(0x2D)
        out.appendDecimal(month, width: 2)
        out.append(0x2D)
        out.append(contentsOf: b[0..<2])
        out.append(0x20)
        out.append(contentsOf: b[12..<24])
        return true
    }

    /// How far into a line the parser must read for this column.
    var depth: HAProxyLogParseDepth {
        switch self {
        case .clientPort, .pid, .processName: .all
        case .bytesRead, .capturedRequestCookie, .capturedResponseCookie, .terminationState: .throughTermination
        case .actconn, .feconn, .beconn, .srvConn, .retries, .srvQueue, .backendQueue, .capturedRequestHeaders,
            .capturedResponseHeaders, .httpMethod, .httpURL, .httpVersion:
            .all
        default: .throughStatus
        }
    }

    public var isText: Bool {
        switch self {
        case .pid, .clientPort, .tq, .tw, .tc, .tr, .tt, .statusCode, .bytesRead, .actconn, .feconn, .beconn, .srvConn,
            .retries, .srvQueue, .backendQueue:
            false
        default: true
        }
    }

    /// The table's declaration for SQLite.
    static var declaration: String {
        "CREATE TABLE x("
            + allCases.map { "\($0.name) \($0.isText ? "TEXT" : "INTEGER")\($0 == .clientIP ? " COLLATE ipaddress" : "")" }
            .joined(separator: ", ") + ")"
    }

    /// An integer column's value in `line` (nil: NULL).
    func integer(_ line: borrowing HAProxyLogLine) -> Int64? {
        func orNull(_ v: Int) -> Int64? { v < 0 ? nil : Int64(v) }
        switch self {
        case .pid: return orNull(line.pid)
        case .clientPort: return line.absent.contains(.clientPort) ? nil : Int64(line.clientPort)
        case .tq: return orNull(line.requestTime)
        case .tw: return orNull(line.queueTime)
        case .tc: return orNull(line.connectTime)
        case .tr: return orNull(line.responseTime)
        case .tt: return orNull(line.totalTime)
        case .statusCode: return orNull(line.status)
        case .bytesRead: return line.absent.contains(.bytesRead) ? nil : line.bytesRead
        case .actconn, .feconn, .beconn, .srvConn:
            guard !line.absent.contains(.connectionCounts) else { return nil }
            switch self {
            case .actconn: return Int64(line.activeConnections)
            case .feconn: return Int64(line.frontendConnections)
            case .beconn: return Int64(line.backendConnections)
            default: return Int64(line.serverConnections)
            }
        case .retries: return line.absent.contains(.retries) ? nil : Int64(line.retries)
        case .srvQueue: return line.absent.contains(.queues) ? nil : Int64(line.serverQueue)
        case .backendQueue: return line.absent.contains(.queues) ? nil : Int64(line.backendQueue)
        default: return nil
        }
    }

    /// A text column's bytes in `line`, appended to `out`; false for NULL.
    func appendText(_ line: borrowing HAProxyLogLine, _ buffer: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        func range(_ r: Range<Int>) -> Bool {
            guard !r.isEmpty else { return false }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[r]))
            return true
        }
        switch self {
        case .logTime:
            if line.absent.contains(.date) { return false }
            // A partial parse leaves the date unread: it is rewritten from its text, `26/Nov/2026:08:51:02.123`.
            if line.date.year == 1970, Self.appendLogTime(fromLogged: line.dateRange, buffer, to: &out) { return true }
            let t = line.date
            out.appendDecimal(t.year, width: 4)
            out.append(0x2D)
            out.appendDecimal(t.month, width: 2)
            out.append(0x2D)
            out.appendDecimal(t.day, width: 2)
            out.append(0x20)
            out.appendClock(hour: t.hour, minute: t.minute, second: t.second)
            out.append(0x2E)
            out.appendDecimal(t.microsecond / 1000, width: 3)
            return true
        case .loggingHost: return range(line.host)
        case .processName: return range(line.program)
        case .clientIP: return range(line.clientIP)
        case .acceptDate: return range(line.dateRange)
        case .frontendName: return range(line.frontend)
        case .ssl:
            guard line.frontendTLS else { return false }
            out.append(0x7E)
            return true
        case .backendName: return range(line.backend)
        case .serverName: return range(line.server)
        case .capturedRequestCookie: return range(line.requestCookie)
        case .capturedResponseCookie: return range(line.responseCookie)
        case .terminationState:
            if line.absent.contains(.terminationState) { return false }
            let t = line.terminationState
            out.append(t.cause)
            out.append(t.phase)
            if line.kind != .tcp {
                out.append(t.clientCookie)
                out.append(t.serverCookie)
            }
            return true
        case .capturedRequestHeaders: return line.requestCaptures.map(range) ?? false
        case .capturedResponseHeaders: return line.responseCaptures.map(range) ?? false
        case .httpMethod: return range(line.method)
        case .httpURL: return range(line.uri)
        case .httpVersion: return range(line.httpVersion)
        case .mode:
            switch line.kind {
            case .tcp: out.append(contentsOf: "tcp".utf8)
            case .http: out.append(contentsOf: "http".utf8)
            case .clf: out.append(contentsOf: "clf".utf8)
            default: return false
            }
            return true
        default:
            return false
        }
    }
}

extension HAProxyLogParseDepth {
    var rank: Int {
        switch self {
        case .throughStatus: 0
        case .throughTermination: 1
        case .all: 2
        }
    }
}

/// The traffic tables: `haproxy_log` (every traffic line), `http` (httplog and CLF lines), `tcp` (tcplog lines).
public enum TrafficTable: String, CaseIterable, Sendable {
    case haproxyLog = "haproxy_log"
    case http
    case tcp

    func takes(_ kind: HAProxyLogLine.Kind) -> Bool {
        switch self {
        case .haproxyLog: kind == .tcp || kind == .http || kind == .clf
        case .http: kind == .http || kind == .clf
        case .tcp: kind == .tcp
        }
    }
}

/// The rows a query needs, column by column (only the columns it names), gathered by the scanner's workers: numbers
/// as they are (`Int64.min` for NULL), text side by side in one array per column.
public struct ColumnStore: LineAccumulator {
    public struct Configuration: Sendable {
        public var table: TrafficTable
        public var columns: [LogColumn]
        public init(table: TrafficTable, columns: [LogColumn]) {
            self.table = table
            self.columns = columns
        }
    }

    public let configuration: Configuration
    public private(set) var count = 0
    /// Per column (in `configuration.columns` order): numbers, or text bytes with each row's start and length
    /// (-1: NULL).
    var numbers: [[Int64]]
    var text: [[UInt8]]
    var starts: [[Int]]
    var lengths: [[Int32]]

    public init(configuration: Configuration) {
        self.configuration = configuration
        let n = configuration.columns.count
        numbers = Array(repeating: [], count: n)
        text = Array(repeating: [], count: n)
        starts = Array(repeating: [], count: n)
        lengths = Array(repeating: [], count: n)
    }

    /// As little of each line as the columns need: most queries name only what comes before the status.
    public static func depth(for configuration: Configuration) -> HAProxyLogParseDepth {
        configuration.columns.map(\.depth).max { $0.rank < $1.rank } ?? .throughStatus
    }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        guard configuration.table.takes(line.kind) else { return }
        count += 1
        for (i, column) in configuration.columns.enumerated() {
            if column.isText {
                let start = text[i].count
                let present = column.appendText(line, buffer, to: &text[i])
                starts[i].append(start)
                lengths[i].append(present ? Int32(text[i].count - start) : -1)
            } else {
                numbers[i].append(column.integer(line) ?? Int64.min)
            }
        }
    }

    public mutating func merge(_ other: ColumnStore) {
        count += other.count
        for i in configuration.columns.indices {
            numbers[i].append(contentsOf: other.numbers[i])
            let base = text[i].count
            text[i].append(contentsOf: other.text[i])
            starts[i].append(contentsOf: other.starts[i].map { $0 + base })
            lengths[i].append(contentsOf: other.lengths[i])
        }
    }

    /// Column `column`'s place in the store, nil when the query did not ask for it.
    func slot(of column: LogColumn) -> Int? { configuration.columns.firstIndex(of: column) }

    /// The rows' numbers with rows equal in `columns` next to each other (groups in the order first met): a hash
    /// of each row's values, a table of groups, then a counting sort by group.
    func groupedOrder(by columns: [LogColumn]) -> [Int32] {
        let slots = columns.compactMap(slot(of:))
        guard count > 0, slots.count == columns.count else { return Array(0..<Int32(count)) }
        // Each place: the group's first row + 1 (0 empty); the group of each row.
        var places = [Int32](repeating: 0, count: max(16, count * 2).nextPowerOfTwo)
        let placeMask = places.count - 1
        var groupOf = [Int32](repeating: 0, count: count)
        var firstRows: [Int32] = []
        var sizes: [Int32] = []
        for row in 0..<count {
            let h = hash(row, slots)
            var i = h & placeMask
            while true {
                let place = places[i]
                if place == 0 {
                    places[i] = Int32(row + 1)
                    groupOf[row] = Int32(firstRows.count)
                    firstRows.append(Int32(row))
                    sizes.append(1)
                    break
                }
                let other = Int(place - 1)
                if equal(row, other, slots) {
                    let g = groupOf[other]
                    groupOf[row] = g
                    sizes[Int(g)] += 1
                    break
                }
                i = (i + 1) & placeMask
            }
        }
        // Groups in their values' order, as SQLite's own GROUP BY hands them (NULL first, numbers by value, text
        // byte by byte), so that a query without ORDER BY answers in the same order either way; past 100,000 groups
        // (client addresses, URLs) in the order first met, which SQL allows, rather than sort them all.
        let sorted =
            firstRows.count > 100_000
            ? Array(firstRows.indices) : firstRows.indices.sorted { precedes(Int(firstRows[$0]), Int(firstRows[$1]), slots) }
        var next = [Int32](repeating: 0, count: sizes.count)
        var total: Int32 = 0
        for g in sorted {
            next[g] = total
            total += sizes[g]
        }
        var order = [Int32](repeating: 0, count: count)
        for row in 0..<count {
            let g = Int(groupOf[row])
            order[Int(next[g])] = Int32(row)
            next[g] += 1
        }
        return order
    }

    private func hash(_ row: Int, _ slots: [Int]) -> Int {
        var hasher = Hasher()
        for slot in slots {
            if configuration.columns[slot].isText {
                let length = Int(lengths[slot][row])
                hasher.combine(length)
                if length > 0 {
                    let start = starts[slot][row]
                    text[slot].withUnsafeBytes { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
                }
            } else {
                hasher.combine(numbers[slot][row])
            }
        }
        return hasher.finalize()
    }

    /// Whether row `a` comes before row `b` in SQLite's order of their values in `slots`.
    private func precedes(_ a: Int, _ b: Int, _ slots: [Int]) -> Bool {
        for slot in slots {
            let c = compare(a, b, slot)
            if c != 0 { return c < 0 }
        }
        return false
    }

    /// SQLite's order of two rows' values in one column: NULL first, numbers by value, text byte by byte (client
    /// addresses in `ipaddress` order).
    private func compare(_ a: Int, _ b: Int, _ slot: Int) -> Int {
        guard configuration.columns[slot].isText else {
            let (x, y) = (numbers[slot][a], numbers[slot][b])
            return x < y ? -1 : (x == y ? 0 : 1)  // NULL is Int64.min: first
        }
        let (la, lb) = (Int(lengths[slot][a]), Int(lengths[slot][b]))
        if la < 0 || lb < 0 { return la == lb ? 0 : (la < 0 ? -1 : 1) }
        let (sa, sb) = (starts[slot][a], starts[slot][b])
        return text[slot].withUnsafeBufferPointer { t -> Int in
            let x = UnsafeBufferPointer(rebasing: t[sa..<(sa + la)])
            let y = UnsafeBufferPointer(rebasing: t[sb..<(sb + lb)])
            if configuration.columns[slot] == .clientIP { return IPAddressOrder.compare(x, y) }
            guard let xb = x.baseAddress, let yb = y.baseAddress else { return la == lb ? 0 : (la < lb ? -1 : 1) }
            let c = memcmp(xb, yb, min(la, lb))
            if c != 0 { return c < 0 ? -1 : 1 }
            return la == lb ? 0 : (la < lb ? -1 : 1)
        }
    }

    /// The rows' numbers in the order of `keys` (each ascending or descending), as SQLite's ORDER BY sorts them.
    func sortedOrder(by keys: [(column: LogColumn, descending: Bool)]) -> [Int32] {
        let slotted = keys.compactMap { key in slot(of: key.column).map { ($0, key.descending) } }
        var order = Array(0..<Int32(count))
        guard slotted.count == keys.count else { return order }
        order.sort { a, b in
            for (slot, descending) in slotted {
                let c = compare(Int(a), Int(b), slot)
                if c != 0 { return descending ? c > 0 : c < 0 }
            }
            return a < b
        }
        return order
    }

    private func equal(_ a: Int, _ b: Int, _ slots: [Int]) -> Bool {
        for slot in slots {
            if configuration.columns[slot].isText {
                let (la, lb) = (lengths[slot][a], lengths[slot][b])
                guard la == lb else { return false }
                guard la > 0 else { continue }
                let (sa, sb) = (starts[slot][a], starts[slot][b])
                let same = text[slot].withUnsafeBufferPointer { t in
                    guard let base = t.baseAddress else { return false }
                    return memcmp(base + sa, base + sb, Int(la)) == 0
                }
                if !same { return false }
            } else if numbers[slot][a] != numbers[slot][b] {
                return false
            }
        }
        return true
    }
}

extension Int {
    fileprivate var nextPowerOfTwo: Int {
        var p = 1
        while p < self { p <<= 1 }
        return p
    }
}
