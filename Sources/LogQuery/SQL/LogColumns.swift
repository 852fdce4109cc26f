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
            out.appendDateTime(year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second)
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

/// One run of rows, column by column: numbers as they are (`Int64.min` for NULL), text side by side in one array per
/// column with each row's start and length (-1: NULL).
struct ColumnChunk {
    var numbers: [[Int64]]
    var text: [[UInt8]]
    var starts: [[Int]]
    var lengths: [[Int32]]
    var rows = 0

    init(columns n: Int, rows: Int = 0, textBytes: [Int] = []) {
        numbers = Array(repeating: [], count: n)
        text = Array(repeating: [], count: n)
        starts = Array(repeating: [], count: n)
        lengths = Array(repeating: [], count: n)
        guard rows > 0 else { return }
        for i in 0..<n {
            numbers[i].reserveCapacity(rows)
            starts[i].reserveCapacity(rows)
            lengths[i].reserveCapacity(rows)
            if i < textBytes.count, textBytes[i] > 0 { text[i].reserveCapacity(textBytes[i]) }
        }
    }
}

/// The rows a query needs (only the columns it names), gathered by the scanner's workers in chunks of at most
/// `chunkRows` rows, each allocated once at its full size (an array grown by doubling copies itself and touches
/// twice the memory). Merging keeps the other workers' chunks as they are: `FrozenColumns` copies each chunk once,
/// into place.
public struct ColumnStore: LineAccumulator {
    public struct Configuration: Sendable {
        public var table: TrafficTable
        public var columns: [LogColumn]
        public init(table: TrafficTable, columns: [LogColumn]) {
            self.table = table
            self.columns = columns
        }
    }

    static let chunkRows = 32_768

    public let configuration: Configuration
    public private(set) var count = 0
    /// Full chunks, in row order, then the one being filled.
    private(set) var chunks: [ColumnChunk] = []
    private var current: ColumnChunk

    public init(configuration: Configuration) {
        self.configuration = configuration
        // Reserved, not touched: pages a small input never writes cost nothing.
        current = ColumnChunk(
            columns: configuration.columns.count, rows: Self.chunkRows,
            textBytes: Array(repeating: Self.chunkRows * 24, count: configuration.columns.count))
    }

    /// As little of each line as the columns need: most queries name only what comes before the status.
    public static func depth(for configuration: Configuration) -> HAProxyLogParseDepth {
        configuration.columns.map(\.depth).max { $0.rank < $1.rank } ?? .throughStatus
    }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        guard configuration.table.takes(line.kind) else { return }
        if current.rows == Self.chunkRows {
            // The next chunk sized as this one ended up (text a little more), so it never grows.
            let bytes = current.text.map { $0.count + $0.count / 8 }
            chunks.append(current)
            current = ColumnChunk(columns: configuration.columns.count, rows: Self.chunkRows, textBytes: bytes)
        }
        count += 1
        current.rows += 1
        for (i, column) in configuration.columns.enumerated() {
            if column.isText {
                let start = current.text[i].count
                let present = column.appendText(line, buffer, to: &current.text[i])
                current.starts[i].append(start)
                current.lengths[i].append(present ? Int32(current.text[i].count - start) : -1)
            } else {
                current.numbers[i].append(column.integer(line) ?? Int64.min)
            }
        }
    }

    public mutating func merge(_ other: ColumnStore) {
        guard other.count > 0 else { return }
        if count == 0 {
            self = other
            return
        }
        count += other.count
        if current.rows > 0 { chunks.append(current) }
        chunks += other.chunks
        current = other.current
    }

    /// The chunks that hold the rows, in row order.
    var segments: [ColumnChunk] { current.rows > 0 ? chunks + [current] : chunks }
}
