import HAProxyLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// halog's per-server counters (`-srv`).
public struct HalogServer: Sendable, Equatable {
    /// Index 0 is "other" (a status not starting with 1-5), 1...5 the classes.
    public var statuses = [Int](repeating: 0, count: 6)
    public var ok = 0
    public var connectSum = 0
    public var connectCount = 0
    public var responseSum = 0
    public var responseCount = 0

    public init() {}

    mutating func merge(_ o: HalogServer) {
        for i in 0..<6 { statuses[i] += o.statuses[i] }
        ok += o.ok
        connectSum += o.connectSum
        connectCount += o.connectCount
        responseSum += o.responseSum
        responseCount += o.responseCount
    }
}

/// Applies halog's filters to each traffic line and collects what its output needs.
///
/// Where a line is HTTP the numbers are halog's. TCP lines differ on purpose, because halog reads fields by
/// position and misreads them: `-st` leaves them out (halog counts their byte count as a status), `-tc` counts
/// their termination state (halog skips them as truncated), `-srv` counts each session as a request with an
/// "other" status, OK when no timer is -1 (halog lists the server with zeros). Status filters (`-e`, `-hs`)
/// never match a TCP line, and `-rt` skips it as halog does. CLF lines are skipped, as halog does.
public struct HalogAccumulator: LineAccumulator {
    public let query: HalogQuery
    public var matched = 0
    public var parseErrors = 0
    public var statuses: [Int: Int] = [:]
    public var codes = [Int](repeating: 0, count: 65536)
    public var servers = GroupTable<HalogServer>()
    /// Matching lines, for the default output.
    public var lines: [UInt8] = []

    public init(configuration: HalogQuery) {
        query = configuration
    }

    public var configuration: HalogQuery { query }

    /// Everything but the queue filters reads only up to the termination state, like halog.
    public static func depth(for q: HalogQuery) -> HAProxyLogParseDepth {
        q.queuedOnly || q.serverQueuedOnly ? .all : .throughTermination
    }

    public mutating func addTraffic(_ line: borrowing HAProxyLogLine, in buffer: UnsafeBufferPointer<UInt8>) {
        let q = query
        if line.kind == .clf {
            parseErrors += 1
            return
        }
        let http = line.kind == .http
        let status = line.status
        let responseTime = line.responseTime
        let t = line.terminationState
        let (serverQueue, backendQueue) = (line.serverQueue, line.backendQueue)
        if q.responseTime != nil && !http {
            parseErrors += 1
            return
        }
        var test = true
        if q.httpOnly { test = test && http }
        if let rt = q.responseTime { test = test && ((responseTime >= rt) != q.responseTimeInverted) }
        if let errors = q.errors {
            let isError = http && (status < 0 || (500...599).contains(status))
            test = test && http && isError == errors
        }
        if let range = q.statusRange {
            test = test && http && (range.contains(status) != q.statusRangeInverted)
        }
        if q.serverQueuedOnly { test = test && serverQueue > 0 }
        if q.queuedOnly { test = test && (serverQueue > 0 || backendQueue > 0) }
        if let code = q.terminationCode {
            test = test && ((t.cause == code[0] && t.phase == code[1]) != q.terminationCodeInverted)
        }
        if test == q.invert { return }
        matched += 1
        switch q.output {
        case .count:
            break
        case .lines:
            lines.append(contentsOf: buffer)
            lines.append(0x0A)
        case .statuses:
            if http { statuses[line.status, default: 0] += 1 }
        case .terminationCodes:
            codes[Int(line.terminationState.cause) << 8 | Int(line.terminationState.phase)] += 1
        case .cookieCodes:
            if http {
                codes[Int(line.terminationState.clientCookie) << 8 | Int(line.terminationState.serverCookie)] += 1
            }
        case .servers:
            let key = UnsafeBufferPointer(rebasing: buffer[line.backend.lowerBound..<line.server.upperBound])
            let i = servers.index(of: key, make: HalogServer.init)
            let timers =
                http
                ? [line.requestTime, line.queueTime, line.connectTime, line.responseTime, line.totalTime]
                : [line.queueTime, line.connectTime, line.totalTime]
            if !timers.contains(where: { $0 < 0 }) { servers[i].ok += 1 }
            if line.connectTime >= 0 {
                servers[i].connectSum += line.connectTime
                servers[i].connectCount += 1
            }
            if http && responseTime >= 0 {
                servers[i].responseSum += responseTime
                servers[i].responseCount += 1
            }
            let s = line.status
            // halog looks at the first character only: 1-5 are classes, anything else (-1, 0xx) is "other".
            let first = http && s >= 100 ? Int(String(s).utf8.first.map { $0 &- 0x30 } ?? 0) : 0
            servers[i].statuses[(1...5).contains(first) ? first : 0] += 1
        }
    }

    public mutating func merge(_ other: HalogAccumulator) {
        matched += other.matched
        parseErrors += other.parseErrors
        for (k, v) in other.statuses { statuses[k, default: 0] += v }
        for i in 0..<65536 where other.codes[i] > 0 { codes[i] += other.codes[i] }
        servers.merge(other.servers, make: HalogServer.init) { $0.merge($1) }
        lines.append(contentsOf: other.lines)
    }

    /// halog's output for the accumulated lines, and the number of lines it counts as output.
    public func render(totalLines: Int) -> (text: String, linesOut: Int) {
        var out = ""
        var n = 0
        let limit = query.maxLines ?? Int.max
        func emit(_ line: String) -> Bool {
            guard n < limit else { return false }
            out += line + "\n"
            n += 1
            return true
        }
        switch query.output {
        case .count:
            let count = query.hasInputFilter || query.invert ? matched : totalLines
            return ("\(min(count, limit))\n", count)
        case .lines:
            var text = String(decoding: lines, as: UTF8.self)
            if let max = query.maxLines {
                text =
                    text.split(separator: "\n", omittingEmptySubsequences: false).prefix(max)
                    .joined(separator: "\n") + (max > 0 ? "\n" : "")
            }
            return (text, min(matched, limit))
        case .statuses:
            for status in statuses.keys.sorted() where !emit("\(status) \(statuses[status] ?? 0)") { break }
        case .terminationCodes, .cookieCodes:
            for (key, count) in codes.enumerated() where count > 0 {
                let code = String(decoding: [UInt8(key >> 8), UInt8(key & 0xFF)], as: UTF8.self)
                if !emit("\(code) \(count)") { break }
            }
        case .servers:
            out += "#srv_name 1xx 2xx 3xx 4xx 5xx other tot_req req_ok pct_ok avg_ct avg_rt\n"
            for (name, s) in servers.sorted() {
                let total = s.statuses.reduce(0, +)
                let pct = Double(s.ok) * 100.0 / Double(total > 0 ? total : 1)
                let ct = s.connectSum / max(1, s.connectCount)
                let rt = s.responseSum / max(1, s.responseCount)
                let line =
                    "\(name) \(s.statuses[1]) \(s.statuses[2]) \(s.statuses[3]) \(s.statuses[4]) \(s.statuses[5]) "
                    + "\(s.statuses[0]) \(total) \(s.ok) \(CFormat.oneDecimal(pct)) \(ct) \(rt)"
                if !emit(line) { break }
            }
        }
        return (out, n)
    }
}

/// printf-compatible number text.
enum CFormat {
    /// `%.1f` exactly as the C library prints it (its rounding of the binary value).
    static func oneDecimal(_ x: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([x]) { args in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.1f", args) }
        }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
