import HAProxyLog
import LogCore

/// Deterministic HAProxy traffic for tests: stored lines (`Mon dd hh:mm:ss host haproxy[pid]: …`) made with the
/// product's own formatter, varied in every field a query looks at.
public struct LogGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// splitmix64
    public mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(max(1, bound)))
    }

    public mutating func record(index i: Int, tcpShare: Int = 0) -> HAProxyLogRecord {
        let statuses = [200, 200, 200, 200, 304, 301, 404, 403, 500, 502, 503, 504, 400, -1, 101, 0]
        let terminations = ["----", "----", "----", "SC--", "CD--", "sH--", "cR--", "PR--", "LR--", "CH--", "sQ--"]
        let backend = ["be_app", "be_static", "be_api"][next(3)]
        let server = next(20) == 0 ? "<NOSRV>" : "s\(next(4) + 1)"
        let failed = next(8) == 0
        let date = CivilTime(
            year: 2026, month: 11, day: 26, hour: 8 + i / 3_600_000 % 12, minute: i / 60_000 % 60,
            second: i / 1000 % 60, microsecond: (i % 1000) * 1000)
        let tcp = tcpShare > 0 && next(100) < tcpShare
        let timer = { (g: inout LogGenerator) -> Int in g.next(10) == 0 ? -1 : g.next(g.next(10) == 0 ? 20000 : 300) }
        var g = self
        let r = HAProxyLogRecord(
            mode: tcp ? .tcp : .http, clientIP: "10.\(g.next(4)).\(g.next(256)).\(g.next(256))",
            clientPort: 1024 + g.next(60000), date: date, frontend: tcp ? "fe_tcp" : "fe_http",
            backend: tcp ? "be_tcp" : backend, server: server, requestTime: tcp ? -1 : timer(&g),
            queueTime: g.next(10) == 0 ? g.next(50) : 0, connectTime: failed ? -1 : timer(&g),
            responseTime: tcp || failed ? -1 : timer(&g), totalTime: g.next(30000), logASAP: g.next(50) == 0,
            status: tcp ? -1 : statuses[g.next(statuses.count)], bytesRead: Int64(g.next(500_000)),
            terminationState: TerminationState(terminations[g.next(terminations.count)]) ?? .normal,
            activeConnections: g.next(100), frontendConnections: g.next(100), backendConnections: g.next(50),
            serverConnections: g.next(20), retries: g.next(10) == 0 ? g.next(3) : 0, redispatched: g.next(40) == 0,
            serverQueue: g.next(10) == 0 ? g.next(5) : 0, backendQueue: g.next(10) == 0 ? g.next(5) : 0,
            requestLine:
                "\(["GET", "POST", "HEAD"][g.next(3)]) /\(["", "api/v1/items", "static/app.js", "login"][g.next(4)])?id=\(g.next(100)) HTTP/1.1"
        )
        self = g
        var out = r
        // A request HAProxy could not parse is logged as <BADREQ>.
        if out.status == 400 && next(2) == 0 { out.requestLine = HAProxyLogRecord.badRequest }
        return out
    }

    /// `count` stored lines, joined with newlines.
    public mutating func storedLog(lines count: Int, tcpShare: Int = 0, host: String = "localhost") -> String {
        var out = ""
        out.reserveCapacity(count * 200)
        for i in 0..<count {
            let r = record(index: i * 37, tcpShare: tcpShare)
            out += "Nov 26 08:51:02 \(host) haproxy[6296]: " + HAProxyLogFormat.default(for: r).formatString(r) + "\n"
        }
        return out
    }
}
