import HAProxyLog
import LogCore

/// What the by-backend and by-server views report for one group of lines.
public struct TrafficStats: Sendable, Equatable {
    /// HTTP requests and TCP sessions.
    public var requests = 0
    public var sessions = 0
    /// HTTP status classes: index 1...5 for 1xx...5xx, 0 for anything else (-1, no status).
    public var statusClasses = [Int](repeating: 0, count: 6)
    /// Lines that meet `--errors`: 5xx, `<NOSRV>`, or a termination state other than `--`.
    public var errors = 0
    public var bytes: Int64 = 0
    /// HTTP: server response time Tr and total active time Ta. TCP: connect time Tc and total time Tt.
    public var responseTime = ExactHistogram()
    public var totalTime = ExactHistogram()
    public var connectTime = ExactHistogram()

    public init() {}

    @inline(__always)
    mutating func add(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        if line.kind == .tcp {
            sessions += 1
            // The server-side time of a TCP session is its connect time (HTTP reports Tr instead).
            connectTime.add(line.connectTime)
        } else {
            requests += 1
            let s = line.status
            statusClasses[s >= 100 && s < 600 ? s / 100 : 0] += 1
            responseTime.add(line.responseTime)
        }
        if LineFilter.isError(line, in: buffer) { errors += 1 }
        bytes = TrafficStats.saturating(bytes, line.bytesRead)
        totalTime.add(line.totalTime)
    }

    mutating func merge(_ o: TrafficStats) {
        requests += o.requests
        sessions += o.sessions
        for i in 0..<6 { statusClasses[i] += o.statusClasses[i] }
        errors += o.errors
        bytes = TrafficStats.saturating(bytes, o.bytes)
        responseTime.merge(o.responseTime)
        totalTime.merge(o.totalTime)
        connectTime.merge(o.connectTime)
    }

    /// A byte sum that stops at the largest value instead of wrapping (only absurd inputs get there).
    @inline(__always)
    static func saturating(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int64.max : sum
    }

    /// Requests and sessions together.
    public var total: Int { requests + sessions }

    /// Errors in percent of all lines.
    public var errorPercent: Double { total > 0 ? Double(errors) * 100 / Double(total) : 0 }
}

/// Per-backend statistics (`logquery backends`).
public struct BackendReport: LineAccumulator {
    public static func depth(for configuration: Void) -> HAProxyLogParseDepth { .throughTermination }

    public var groups = GroupTable<TrafficStats>()

    public init(configuration: Void = ()) {}

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        let i = groups.index(of: UnsafeBufferPointer(rebasing: buffer[line.backend]), make: TrafficStats.init)
        groups[i].add(line, in: buffer)
    }

    public mutating func merge(_ other: BackendReport) {
        groups.merge(other.groups, make: TrafficStats.init) { $0.merge($1) }
    }
}

/// Per-host statistics, keyed by the syslog hostname of the stored line (`logquery hosts`): a central file that
/// holds many proxies' lines, one row per proxy. Lines stored without a hostname are under `-`.
public struct HostReport: LineAccumulator {
    public static func depth(for configuration: Void) -> HAProxyLogParseDepth { .throughTermination }

    public var groups = GroupTable<TrafficStats>()

    public init(configuration: Void = ()) {}

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        let i: Int
        if line.host.isEmpty {
            i = HostReport.noHost.withUnsafeBufferPointer { groups.index(of: $0, make: TrafficStats.init) }
        } else {
            i = groups.index(of: UnsafeBufferPointer(rebasing: buffer[line.host]), make: TrafficStats.init)
        }
        groups[i].add(line, in: buffer)
    }

    private static let noHost: [UInt8] = [0x2D]

    public mutating func merge(_ other: HostReport) {
        groups.merge(other.groups, make: TrafficStats.init) { $0.merge($1) }
    }
}

/// Per-server statistics, keyed `backend/server` (`logquery servers`), with the state changes seen.
public struct ServerReport: LineAccumulator {
    public static func depth(for configuration: Void) -> HAProxyLogParseDepth { .throughTermination }

    /// One DOWN (or going down for maintenance) or UP message.
    public struct StateChange: Sendable, Equatable {
        public var server: String
        public var when: WallTime?
        public var down: Bool
    }

    public var groups = GroupTable<TrafficStats>()
    public var changes: [StateChange] = []
    private var reference = CivilTime.now()

    public init(configuration: Void = ()) {}

    public mutating func begin(_ file: FileContext) { reference = file.modified }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        // `be/srv` is contiguous in the line: backend, '/', server.
        let key = UnsafeBufferPointer(rebasing: buffer[line.backend.lowerBound..<line.server.upperBound])
        let i = groups.index(of: key, make: TrafficStats.init)
        groups[i].add(line, in: buffer)
    }

    public mutating func addEvent(_ line: HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        guard let event = line.event(in: buffer) else { return }
        let when = StoredTime.wallTime(
            UnsafeBufferPointer(rebasing: buffer[line.syslogTimestamp]), reference: reference)
        switch event {
        case .serverDown(let c), .serverGoingDownForMaintenance(let c):
            changes.append(StateChange(server: "\(c.backend)/\(c.server)", when: when, down: true))
        case .serverUp(let c):
            changes.append(StateChange(server: "\(c.backend)/\(c.server)", when: when, down: false))
        default:
            break
        }
    }

    public mutating func merge(_ other: ServerReport) {
        groups.merge(other.groups, make: TrafficStats.init) { $0.merge($1) }
        changes.append(contentsOf: other.changes)
    }

    /// Per server: DOWN and UP counts, seconds spent DOWN between a DOWN and the next UP, and whether the last
    /// change left it DOWN.
    public func downtime() -> [String: (downs: Int, ups: Int, seconds: Int, downAtEnd: Bool)] {
        var out: [String: (downs: Int, ups: Int, seconds: Int, downAtEnd: Bool)] = [:]
        var since: [String: WallTime] = [:]
        let ordered = changes.enumerated().sorted { a, b in
            let (ta, tb) = (a.element.when?.milliseconds ?? 0, b.element.when?.milliseconds ?? 0)
            return ta != tb ? ta < tb : a.offset < b.offset
        }.map(\.element)
        for c in ordered {
            var entry = out[c.server] ?? (0, 0, 0, false)
            if c.down {
                entry.downs += 1
                if since[c.server] == nil, let when = c.when { since[c.server] = when }
                entry.downAtEnd = true
            } else {
                entry.ups += 1
                if let start = since.removeValue(forKey: c.server), let end = c.when {
                    entry.seconds += Int((end.milliseconds - start.milliseconds) / 1000)
                }
                entry.downAtEnd = false
            }
            out[c.server] = entry
        }
        return out
    }
}

/// Counts by HTTP status (`logquery status`); TCP sessions are counted apart.
public struct StatusReport: LineAccumulator {
    public static func depth(for configuration: Void) -> HAProxyLogParseDepth { .throughTermination }

    public var counts = [Int](repeating: 0, count: 1000)
    public var unusual: [Int: Int] = [:]
    public var tcpSessions = 0

    public init(configuration: Void = ()) {}

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        let status = line.status
        if line.kind == .tcp {
            tcpSessions += 1
        } else if status >= 0 && status < 1000 {
            counts[status] += 1
        } else {
            unusual[status, default: 0] += 1
        }
    }

    public mutating func merge(_ other: StatusReport) {
        for i in 0..<1000 { counts[i] += other.counts[i] }
        for (k, v) in other.unusual { unusual[k, default: 0] += v }
        tcpSessions += other.tcpSessions
    }

    /// (status, count) pairs in ascending status order (-1 first).
    public var sorted: [(status: Int, count: Int)] {
        var all = unusual
        for (s, n) in counts.enumerated() where n > 0 { all[s] = n }
        return all.keys.sorted().map { ($0, all[$0] ?? 0) }
    }
}

/// Counts by termination state (`logquery terminations`), both TCP and HTTP lines (first two characters).
public struct TerminationReport: LineAccumulator {
    public static func depth(for configuration: Void) -> HAProxyLogParseDepth { .throughTermination }

    /// Indexed by cause byte * 256 + phase byte.
    public var counts = [Int](repeating: 0, count: 65536)

    public init(configuration: Void = ()) {}

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        counts[Int(line.terminationState.cause) << 8 | Int(line.terminationState.phase)] += 1
    }

    public mutating func merge(_ other: TerminationReport) {
        for i in 0..<65536 where other.counts[i] > 0 { counts[i] += other.counts[i] }
    }

    /// (two-character state, count) pairs in byte order.
    public var sorted: [(state: String, count: Int)] {
        counts.enumerated().filter { $0.element > 0 }.map {
            (String(decoding: [UInt8($0.offset >> 8), UInt8($0.offset & 0xFF)], as: UTF8.self), $0.element)
        }
    }
}
