import HAProxyLog
import LogCore

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

/// halog's per-URL counters (`-u*`), with its unsigned wrap-around arithmetic.
public struct HalogURL: Sendable, Equatable {
    public var requests: UInt64 = 0
    public var errors: UInt64 = 0
    public var totalTime: UInt64 = 0
    public var okTime: UInt64 = 0
    public var bytes: UInt64 = 0

    public init() {}

    mutating func merge(_ o: HalogURL) {
        requests &+= o.requests
        errors &+= o.errors
        totalTime &+= o.totalTime
        okTime &+= o.okTime
        bytes &+= o.bytes
    }
}

/// Counts of signed integers (halog's percentile trees; its data time can be negative).
public struct SignedCounts: Sendable, Equatable {
    var counts: [Int: Int] = [:]
    mutating func add(_ v: Int) { counts[v, default: 0] += 1 }
    mutating func merge(_ o: SignedCounts) { for (k, v) in o.counts { counts[k, default: 0] += v } }
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
    public var urls = GroupTable<HalogURL>(capacity: 1024)
    /// -pct: TR, Tc, Tr, Td of lines without a -1 timer.
    public var percentileTimers = [SignedCounts](repeating: SignedCounts(), count: 4)
    public var percentileLines = 0

    public init(configuration: HalogQuery) {
        query = configuration
    }

    public var configuration: HalogQuery { query }

    /// Everything but the queue filters and the URL outputs reads only up to the termination state, like halog.
    public static func depth(for q: HalogQuery) -> HAProxyLogParseDepth {
        if case .urls = q.output { return .all }
        if q.queuedOnly || q.serverQueuedOnly || q.timeRange != nil { return .all }
        switch q.output {
        case .count, .statuses, .servers, .percentiles, .lines:
            // Names, timers and status are all these read (the `+` of logasap is on Ta, a timer).
            return q.terminationCode == nil ? .throughStatus : .throughTermination
        case .terminationCodes, .cookieCodes, .clients, .urls:
            return .throughTermination
        }
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
        if let range = q.timeRange {
            let wall = WallTime(line.date).milliseconds / 1000
            let epoch = wall - Int64(CivilTime.localUTCOffset(atEpochSeconds: Int(wall)))
            test = test && range.contains(epoch)
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
        case .percentiles:
            guard http else { break }
            // halog reads `+N` (logasap) as 0.
            let ta = line.logASAP ? 0 : line.totalTime
            let timers = (line.requestTime, line.queueTime, line.connectTime, line.responseTime, ta)
            guard timers.0 >= 0, timers.1 >= 0, timers.2 >= 0, timers.3 >= 0, timers.4 >= 0 else { break }
            percentileTimers[0].add(timers.0)
            percentileTimers[1].add(timers.2)
            percentileTimers[2].add(timers.3)
            percentileTimers[3].add(timers.4 - timers.0 - timers.1 - timers.2 - timers.3)
            percentileLines += 1
        case .urls:
            guard http else { break }
            let ta = line.logASAP ? 0 : line.totalTime
            let tr = line.responseTime
            let (treq, tw, tc) = (line.requestTime, line.queueTime, line.connectTime)
            let failed = treq < 0 || tw < 0 || tc < 0 || tr < 0 || ta < 0
            // The key: the URI up to '?' or ';' (unless -query); with no URI, halog keys on the quoted method.
            let i: Int
            if !line.uri.isEmpty {
                var end = line.uri.upperBound
                if !q.keepQuery {
                    var j = line.uri.lowerBound
                    while j < end && buffer[j] != 0x3F && buffer[j] != 0x3B { j += 1 }
                    end = j
                }
                i = urls.index(
                    of: UnsafeBufferPointer(rebasing: buffer[line.uri.lowerBound..<end]), make: HalogURL.init)
            } else {
                var quoted: [UInt8] = [0x22] + Array(UnsafeBufferPointer(rebasing: buffer[line.method]))
                let lineEnd = line.requestLine.upperBound
                if lineEnd < buffer.count && buffer[lineEnd] == 0x22 { quoted.append(0x22) }
                i = quoted.withUnsafeBufferPointer { urls.index(of: $0, make: HalogURL.init) }
            }
            urls[i].requests &+= 1
            if failed { urls[i].errors &+= 1 }
            // Unsigned like halog: a -1 total time wraps around.
            urls[i].totalTime &+= UInt64(bitPattern: Int64(tr >= 0 ? tr : ta))
            urls[i].okTime &+= UInt64(max(0, tr))
            urls[i].bytes &+= line.logASAP ? 0 : UInt64(line.bytesRead)
        case .clients:
            guard http else { break }
            // halog's -ic looks at TR and Ta only: its "time" is TR (Ta when TR is -1).
            let (treq, ta) = (line.requestTime, line.logASAP ? 0 : line.totalTime)
            let i = urls.index(of: UnsafeBufferPointer(rebasing: buffer[line.clientIP]), make: HalogURL.init)
            urls[i].requests &+= 1
            if treq < 0 || ta < 0 { urls[i].errors &+= 1 }
            urls[i].totalTime &+= UInt64(bitPattern: Int64(treq >= 0 ? treq : ta))
            urls[i].okTime &+= UInt64(max(0, treq))
            urls[i].bytes &+= line.logASAP ? 0 : UInt64(line.bytesRead)
        case .servers:
            let key = UnsafeBufferPointer(rebasing: buffer[line.backend.lowerBound..<line.server.upperBound])
            let i = servers.index(of: key, make: HalogServer.init)
            let (tw, tc, tt, treq) = (line.queueTime, line.connectTime, line.totalTime, line.requestTime)
            let ok = tw >= 0 && tc >= 0 && tt >= 0 && (!http || (treq >= 0 && responseTime >= 0))
            if ok { servers[i].ok += 1 }
            if line.connectTime >= 0 {
                servers[i].connectSum += line.connectTime
                servers[i].connectCount += 1
            }
            if http && responseTime >= 0 {
                servers[i].responseSum += responseTime
                servers[i].responseCount += 1
            }
            // halog looks at the first character only: 1-5 are classes, anything else (-1, 0xx) is "other".
            var first = http && status > 0 ? status : 0
            while first >= 10 { first /= 10 }
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
        urls.merge(other.urls, make: HalogURL.init) { $0.merge($1) }
        for f in 0..<4 { percentileTimers[f].merge(other.percentileTimers[f]) }
        percentileLines += other.percentileLines
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
        case .percentiles:
            guard percentileLines > 0 else { return ("", 0) }
            let sorted = percentileTimers.map { $0.counts.sorted { $0.key < $1.key } }
            var position = [Int](repeating: 0, count: 4)
            var cumulative = sorted.map { $0.first?.value ?? 0 }
            var step = 1.0
            while step <= 1000 {
                let threshold = Int(Double(percentileLines) * (step / 1000.0))
                var line = "\(CFormat.format("%3.1f", step / 10.0)) \(threshold) "
                for f in 0..<4 {
                    while cumulative[f] < threshold && position[f] + 1 < sorted[f].count {
                        position[f] += 1
                        cumulative[f] += sorted[f][position[f]].value
                    }
                    line += "\(sorted[f].isEmpty ? 0 : sorted[f][position[f]].key) "
                }
                out += line + "\n"
                n += 1
                if step >= 100 && step < 900 {
                    step += 50
                } else if step >= 20 && step < 980 {
                    step += 10
                } else {
                    step += 1
                }
            }
        case .clients, .urls:
            let sort: HalogQuery.URLSort
            if case .urls(let s) = query.output { sort = s } else { sort = .count }
            // halog prints this header for every URL output (its test for -ic is always true).
            out += "#req err ttot tavg oktot okavg bavg btot src\n"
            func key(_ u: HalogURL) -> UInt64 {
                switch sort {
                case .url: return 0
                case .count: return u.requests
                case .errors: return u.errors
                case .total: return u.totalTime
                case .average: return u.requests > 0 ? u.totalTime / u.requests : 0
                case .okTotal: return u.okTime
                case .okAverage: return u.requests &- u.errors > 0 ? u.okTime / (u.requests &- u.errors) : 0
                case .bytesAverage: return u.requests > 0 ? u.bytes / u.requests : 0
                case .bytesTotal: return u.bytes
                }
            }
            // Descending; equal keys in descending URL order, as halog's trees give them.
            let entries = zip(urls.keys, urls.values).sorted { a, b in
                if sort != .url {
                    let (ka, kb) = (key(a.1), key(b.1))
                    if ka != kb { return ka > kb }
                }
                return b.0.lexicographicallyPrecedes(a.0)
            }
            for (url, u) in entries {
                let ok = u.requests &- u.errors
                let fields = [
                    u.requests, u.errors, u.totalTime, u.requests > 0 ? u.totalTime / u.requests : 0, u.okTime,
                    ok > 0 ? u.okTime / ok : 0, u.requests > 0 ? u.bytes / u.requests : 0, u.bytes,
                ]
                let line = fields.map { String($0) }.joined(separator: " ") + " " + String(decoding: url, as: UTF8.self)
                if !emit(line) { break }
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
    static func oneDecimal(_ x: Double) -> String { format("%.1f", x) }

    /// One double through a printf format.
    static func format(_ format: String, _ x: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([x]) { args in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, format, args) }
        }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
