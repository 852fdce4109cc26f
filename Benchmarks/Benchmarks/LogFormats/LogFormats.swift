import Benchmark
import HAProxyLog
import LogCore
import SyslogProtocol

/// A mix of stored /var/log/haproxy.log lines, as logquery meets them: mostly HTTP, some TCP, a few errors.
let storedLines: [[UInt8]] = [
    "Nov 26 08:51:02 localhost haproxy[6296]: 10.0.3.17:44124 [26/Nov/2026:08:51:02.451] fe_http be_app/s1 0/0/0/12/13 200 5185 - - ---- 12/12/3/1/0 0/0 \"GET /api/v1/items?page=2 HTTP/1.1\"",
    "Nov 26 08:51:02 localhost haproxy[6296]: 10.0.3.18:44125 [26/Nov/2026:08:51:02.452] fe_http be_static/s2 0/0/1/3/4 304 212 - - ---- 12/12/3/1/0 0/0 \"GET /static/app.5f3a.js HTTP/1.1\"",
    "Nov 26 08:51:05 localhost haproxy[6296]: 10.0.3.19:38418 [26/Nov/2026:08:51:02.480] fe_http be_app/s3 0/0/-1/-1/3003 503 217 - - SC-- 12/12/3/0/3 0/0 \"POST /api/v1/orders HTTP/1.1\"",
    "Nov 26 08:51:05 localhost haproxy[6296]: 127.0.0.1:37748 [26/Nov/2026:08:51:05.487] mycat_servers mycat_servers/mycat_01 0/1/5012 2048 -- 3/2/2/1/0 0/0",
    "Nov 26 08:51:06 localhost haproxy[6296]: 10.0.3.20:44126 [26/Nov/2026:08:51:06.001] fe_http be_app/s1 0/0/0/48/52 200 18022 - - ---- 12/12/3/1/0 0/0 {app.example.com|Mozilla/5.0 (X11; Linux x86_64)} \"GET /api/v1/users/42/profile HTTP/1.1\"",
].map { Array($0.utf8) }

/// Average bytes per line of the mix, newline included: multiply a lines/s figure by it for bytes/s.
let averageLineBytes = storedLines.reduce(0) { $0 + $1.count + 1 } / storedLines.count

let records: [HAProxyLogRecord] = storedLines.compactMap { line in
    line.withUnsafeBufferPointer { buffer -> HAProxyLogRecord? in
        guard case .traffic(let parsed) = HAProxyLogParser.parse(buffer) else { return nil }
        return parsed.record(in: buffer)
    }
}

let datagrams: [[UInt8]] = storedLines.map { line in
    // The datagram HAProxy sends for this line: PRI, time, tag, message.
    let body = line.split(separator: 0x20, maxSplits: 5, omittingEmptySubsequences: false).last ?? []
    return Array("<134>Nov 26 08:51:02 haproxy[6296]: ".utf8) + body
}

let benchmarks: @Sendable () -> Void = {
    let lines = storedLines
    // One "operation" is one line; scalingFactor .kilo runs a thousand per iteration for stable figures.
    let config = Benchmark.Configuration(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .instructions], scalingFactor: .kilo,
        maxDuration: .seconds(3))

    // The scanning fast path: every line parsed into one reused value, numbers read, nothing copied.
    Benchmark("HAProxyLogParser.parse(into:) (stored lines, fields in place)", configuration: config) { benchmark in
        var checksum = 0
        var parsed = HAProxyLogLine()
        for i in benchmark.scaledIterations {
            let line = lines[i % lines.count]
            line.withUnsafeBufferPointer { buffer in
                if case .traffic = HAProxyLogParser.parse(buffer, into: &parsed) {
                    checksum &+= parsed.status &+ parsed.totalTime &+ Int(parsed.bytesRead)
                }
            }
        }
        blackHole(checksum)
    }

    Benchmark("HAProxyLogParser.parse + record (materialised)", configuration: config) { benchmark in
        for i in benchmark.scaledIterations {
            let line = lines[i % lines.count]
            line.withUnsafeBufferPointer { buffer in
                if case .traffic(let parsed) = HAProxyLogParser.parse(buffer) {
                    blackHole(parsed.record(in: buffer))
                }
            }
        }
    }

    let formatRecords = records
    Benchmark("HAProxyLogFormat.format (tcplog/httplog)", configuration: config) { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(512)
        for i in benchmark.scaledIterations {
            let r = formatRecords[i % formatRecords.count]
            out.removeAll(keepingCapacity: true)
            HAProxyLogFormat.default(for: r).format(r, into: &out)
            blackHole(out.count)
        }
    }

    let received = datagrams
    let reception = SyslogReception(fromHost: "localhost")
    Benchmark("SyslogParser.parse + TraditionalFileFormat (sink path)", configuration: config) { benchmark in
        var out: [UInt8] = []
        out.reserveCapacity(512)
        for i in benchmark.scaledIterations {
            let m = SyslogParser.parse(received[i % received.count], reception: reception)
            out.removeAll(keepingCapacity: true)
            SyslogTemplate.traditionalFileFormat.render(m, into: &out)
            blackHole(out.count)
        }
    }
}
