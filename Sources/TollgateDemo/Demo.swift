import ArgumentParser
import HAProxyLog
import LogCore
import SyslogProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `make demo`: one log line through every part that exists so far, over a real socket.
///
/// The proxy's side formats session records as HAProxy 2.6 does and sends them as HAProxy's syslog datagrams;
/// the sink's side receives them on a UDP socket, parses them as rsyslog does and writes the lines rsyslog
/// writes to /var/log/haproxy.log; logquery's side reads the stored lines back into records.
@main
struct TollgateDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate-demo",
        abstract: "Send sample HAProxy log lines through syslog into a log file and read them back.")

    @Option(help: "Where to write the demo's haproxy.log.")
    var output = "demo-run/haproxy.log"

    @Option(help: "Also send every datagram to a running syslog-sink at HOST:PORT.")
    var sink: String?

    @Option(help: "Instead: run the demo's backends (echo servers) on these 127.0.0.1 ports, comma-separated.")
    var backends: String?

    @Option(help: "With --backends: also run HTTP origins (keep-alive HTTP/1.1) on these 127.0.0.1 ports.")
    var httpBackends: String?

    mutating func run() throws {
        if backends != nil || httpBackends != nil {
            let ports = { (text: String?) in (text ?? "").split(separator: ",").compactMap { Int($0) } }
            try DemoBackends.run(backends: ports(backends), http: ports(httpBackends))
        }
        let receiver = try DemoReceiver()
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: receiver.port))
        defer { sender.close() }
        var sinkSender: SyslogSender?
        if let sink {
            let parts = sink.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw ValidationError("--sink takes HOST:PORT, not '\(sink)'")
            }
            sinkSender = try SyslogSender(target: .udp(host: String(parts[0]), port: port))
        }
        defer { sinkSender?.close() }
        let now = CivilTime.now()
        var date = now
        date.microsecond -= date.microsecond % 1000
        let header = HAProxySyslogHeader(facility: .local0, pid: Int(getpid()))

        print("Tollgate demo: proxy log line → syslog over UDP 127.0.0.1:\(receiver.port) → \(output) → query\n")
        let lines = DemoTraffic.lines(at: date)
        var stored: [String] = []
        for (severity, line) in lines {
            let datagram = header.datagram(message: Array(line.utf8), severity: severity, time: now)
            sender.send(datagram)
            sinkSender?.send(datagram)
            guard let received = receiver.receive() else {
                throw ValidationError("no datagram arrived on 127.0.0.1:\(receiver.port) within 5 s")
            }
            let message = SyslogParser.parse(
                received, reception: SyslogReception(receivedAt: SyslogTimestamp(now), fromHost: "localhost"))
            let fileLine = SyslogTemplate.traditionalFileFormat.render(message)
            stored.append(String(decoding: fileLine, as: UTF8.self))
            print("1. proxy sent     \(printable(datagram))")
            print(
                "2. sink received  \(message.priority.text) from \(message.hostnameString), tag \(message.syslogTagString)"
            )
            print("3. file line      \(printable(fileLine))")
            print("4. query read     \(describe(String(decoding: fileLine, as: UTF8.self)))")
            print("   round trip     \(try sameAsSent(String(decoding: fileLine, as: UTF8.self), sent: line))\n")
        }
        try write(stored.joined(), to: output)
        let counters = sender.currentCounters
        print(
            "Wrote \(stored.count) lines to \(output) (sender: \(counters.sent) sent, \(counters.dropped) dropped, \(counters.failed) failed)."
        )
        print("Try: tail \(output)")
    }

    private func printable(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text + "⏎"
    }

    /// Whether the stored line reads back as exactly what the proxy's side formatted; throws if not.
    private func sameAsSent(_ stored: String, sent: String) throws -> String {
        var copy = stored
        let body = copy.withUTF8 { buffer -> String in
            switch HAProxyLogParser.parse(buffer) {
            case .traffic(let parsed):
                guard let record = parsed.record(in: buffer) else { return "" }
                return HAProxyLogFormat.default(for: record).formatString(record)
            case .event(let parsed):
                return parsed.event(in: buffer)?.message ?? ""
            case .other, .malformed:
                return ""
            }
        }
        guard body == sent else {
            throw ValidationError("the stored line did not read back as sent:\n  sent \(sent)\n  read \(body)")
        }
        return "what was read back formats to the very bytes the proxy sent"
    }

    private func describe(_ line: String) -> String {
        switch HAProxyLogParser.parse(line) {
        case .traffic:
            guard let r = HAProxyLogParser.record(line) else { return "unreadable" }
            var parts = [
                "\(r.mode.rawValue) \(r.frontend) → \(r.backend)/\(r.server)", "client \(r.clientIP):\(r.clientPort)",
                "termination \(r.mode == .tcp ? r.terminationState.sessionState : r.terminationState.description)",
                "bytes \(r.bytesRead)",
            ]
            if r.mode == .http {
                parts.append("status \(r.status)")
                parts.append("Ta \(r.totalTime) ms")
            } else {
                parts.append("Tt \(r.totalTime) ms")
            }
            if r.isError { parts.append("ERROR") }
            return parts.joined(separator: ", ")
        case .event(let parsed):
            var copy = line
            let event = copy.withUTF8 { parsed.event(in: $0) }
            guard let event, let (backend, server) = event.backendAndServer else { return "event" }
            return "event about \(backend)/\(server), level \(event.level)"
        case .other:
            return "not an HAProxy line"
        case .malformed(let error):
            return "malformed: \(error)"
        }
    }

    private func write(_ text: String, to path: String) throws {
        if let slash = path.lastIndex(of: "/") {
            let dir = String(path[..<slash])
            if !dir.isEmpty { mkdir(dir, 0o755) }
        }
        guard let file = fopen(path, "w") else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        fputs(text, file)
    }
}

/// The sample traffic: the seed's MySQL-middleware listener and its stats page.
enum DemoTraffic {
    static func lines(at date: CivilTime) -> [(Severity, String)] {
        let tcp = HAProxyLogRecord(
            mode: .tcp, clientIP: "127.0.0.1", clientPort: 51234, date: date, frontend: "mycat_servers",
            backend: "mycat_servers", server: "mycat_01", queueTime: 0, connectTime: 1, totalTime: 5012,
            bytesRead: 2048, terminationState: .normal, activeConnections: 3, frontendConnections: 2,
            backendConnections: 2, serverConnections: 1, retries: 0, serverQueue: 0, backendQueue: 0)
        var refused = tcp
        refused.server = "mycat_02"
        refused.connectTime = -1
        refused.totalTime = 3001
        refused.bytesRead = 0
        refused.retries = 3
        refused.redispatched = true
        refused.terminationState = TerminationState("SC") ?? .normal
        let stats = HAProxyLogRecord(
            mode: .http, clientIP: "127.0.0.1", clientPort: 40000, date: date, frontend: "admin_stats",
            backend: "admin_stats", server: HAProxyLogRecord.statsServer, requestTime: 0, queueTime: 0,
            connectTime: 0, responseTime: 0, totalTime: 1, status: 200, bytesRead: 26086,
            terminationState: TerminationState("LR--") ?? .normal, activeConnections: 1, frontendConnections: 1,
            backendConnections: 0, serverConnections: 0, retries: 0, serverQueue: 0, backendQueue: 0,
            requestLine: "GET /admin-status HTTP/1.1")
        let down = HAProxyEvent.serverDown(
            ServerStateChange(
                backend: "mycat_servers", server: "mycat_02",
                reason: CheckReason(
                    description: "Layer7 wrong status", code: 503, info: "Service Unavailable", durationMilliseconds: 2),
                activeServers: 1, backupServers: 0))
        return [
            (.informational, HAProxyLogFormat.tcplog.formatString(tcp)),
            (.error, HAProxyLogFormat.tcplog.formatString(refused)),
            (.informational, HAProxyLogFormat.httplog.formatString(stats)),
            (Severity(rawValue: UInt8(down.level)) ?? .alert, down.message),
        ]
    }
}

/// A UDP socket on 127.0.0.1 with a kernel-chosen port, read with a timeout: the sink's side of the demo.
struct DemoReceiver {
    let fd: Int32
    let port: Int

    init() throws {
        #if canImport(Darwin)
            let fd = socket(AF_INET, SOCK_DGRAM, 0)
        #else
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        #endif
        guard fd >= 0 else { throw ValidationError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw ValidationError("bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer[..<n]) : nil
    }
}
