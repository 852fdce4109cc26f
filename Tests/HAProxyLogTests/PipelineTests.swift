import LogCore
import SyslogProtocol
import TestSupport
import Testing

@testable import HAProxyLog

/// One log line through every part that exists: the proxy's record, HAProxy's datagram over real UDP, rsyslog's
/// parse and file line, and logquery's parser back to the same record.
@Suite("A log line through the whole product")
struct PipelineTests {
    @Test func recordToDatagramToFileLineAndBack() async throws {
        let receiver = try await LoopbackUDPReceiver()
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: receiver.port))
        let now = CivilTime.now()
        var date = now
        date.microsecond = now.microsecond / 1000 * 1000
        let records = [
            HAProxyLogRecord(
                mode: .tcp, clientIP: "127.0.0.1", clientPort: 51234, date: date, frontend: "mycat_servers",
                backend: "mycat_servers", server: "mycat_01", queueTime: 0, connectTime: 1, totalTime: 5012,
                bytesRead: 2048, terminationState: TerminationState(cause: 0x2D, phase: 0x2D),
                activeConnections: 3, frontendConnections: 2, backendConnections: 2, serverConnections: 1,
                retries: 0, serverQueue: 0, backendQueue: 0),
            HAProxyLogRecord(
                mode: .http, clientIP: "::1", clientPort: 40000, date: date, frontend: "admin_stats",
                backend: "admin_stats", server: HAProxyLogRecord.statsServer, requestTime: 0, queueTime: 0,
                connectTime: 0, responseTime: 0, totalTime: 1, status: 200, bytesRead: 26086,
                terminationState: TerminationState("LR--") ?? .normal, activeConnections: 1, frontendConnections: 1,
                backendConnections: 0, serverConnections: 0, retries: 0, serverQueue: 0, backendQueue: 0,
                requestLine: "GET /admin-status HTTP/1.1"),
        ]
        let header = HAProxySyslogHeader(facility: .local0, pid: 4242)
        for record in records {
            let line = HAProxyLogFormat.default(for: record).format(record)
            let datagram = header.datagram(message: line, severity: .informational, time: now)
            sender.send(datagram)
            let received = try await withTimeout(seconds: 10, "datagram") { await receiver.next() }
            let got = try #require(received)
            #expect(got == datagram)
            let message = SyslogParser.parse(
                got, reception: SyslogReception(receivedAt: SyslogTimestamp(now), fromHost: "localhost"))
            #expect(message.priority.facility == .local0)
            let fileLine = SyslogTemplate.traditionalFileFormat.render(message)
            let stored = String(decoding: fileLine, as: UTF8.self)
            #expect(stored.hasPrefix(SyslogTimestamp(now).rfc3164 + " localhost haproxy[4242]: "))
            let back = HAProxyLogParser.record(stored)
            #expect(back == record)
        }
        sender.close()
        try await receiver.close()
    }
}
