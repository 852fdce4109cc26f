import Foundation
import HAProxyLog
import LogCore
import TestSupport
import Testing

/// HAProxy's own analyser reads the lines Tollgate writes and counts what Tollgate counts.
@Suite("Real halog")
struct HalogInteropTests {
    static func records() -> [HAProxyLogRecord] {
        let servers = ["s1", "s2", "s3"]
        let statuses = [200, 200, 200, 301, 404, 500, 503, 200, -1]
        var out: [HAProxyLogRecord] = []
        for i in 0..<900 {
            let status = statuses[i % statuses.count]
            let failed = status == 503
            out.append(
                HAProxyLogRecord(
                    mode: .http, clientIP: "10.0.\(i % 7).\(i % 250)", clientPort: 40000 + i,
                    date: CivilTime(
                        year: 2026, month: 11, day: 26, hour: 8, minute: i / 60 % 60, second: i % 60,
                        microsecond: (i % 1000) * 1000),
                    frontend: "fe_http", backend: "be_app", server: servers[i % servers.count], requestTime: i % 3,
                    queueTime: 0, connectTime: failed ? -1 : i % 5, responseTime: failed ? -1 : 10 + i % 90,
                    totalTime: 20 + i % 200, status: status, bytesRead: Int64(100 + i),
                    terminationState: TerminationState(failed ? "SC--" : "----") ?? .normal,
                    activeConnections: 5, frontendConnections: 5, backendConnections: 3, serverConnections: 1,
                    retries: failed ? 1 : 0, serverQueue: 0, backendQueue: 0,
                    requestLine: "GET /page/\(i % 13)?q=\(i) HTTP/1.1"))
        }
        return out
    }

    func storedFile(_ records: [HAProxyLogRecord]) -> Data {
        var text = ""
        for r in records {
            text += "Nov 26 08:51:02 localhost haproxy[6296]: " + HAProxyLogFormat.httplog.formatString(r) + "\n"
        }
        // TCP sessions in the same file, as a mixed listener set produces.
        let tcp = HAProxyLogRecord(
            mode: .tcp, clientIP: "127.0.0.1", clientPort: 1,
            date: CivilTime(year: 2026, month: 11, day: 26, hour: 8, minute: 0, second: 0),
            frontend: "mycat", backend: "mycat", server: "m1", queueTime: 0, connectTime: 1, totalTime: 5,
            bytesRead: 10, terminationState: .normal, activeConnections: 1, frontendConnections: 1,
            backendConnections: 1, serverConnections: 1, retries: 0, serverQueue: 0, backendQueue: 0)
        text += "Nov 26 08:51:03 localhost haproxy[6296]: " + HAProxyLogFormat.tcplog.formatString(tcp) + "\n"
        return Data(text.utf8)
    }

    func halog(_ arguments: [String], _ input: Data) throws -> String {
        let result = try Peers.run(try Peers.find("halog"), arguments, stdin: input)
        #expect(result.status == 0, "halog \(arguments): \(String(decoding: result.stderr, as: UTF8.self))")
        return String(decoding: result.stdout, as: UTF8.self)
    }

    @Test func statusCounts() throws {
        let records = Self.records()
        // -H keeps HTTP lines: halog would read a TCP line's byte count as a status.
        let out = try halog(["-q", "-H", "-st"], storedFile(records))
        var expected: [Int: Int] = [:]
        for r in records { expected[r.status, default: 0] += 1 }
        var got: [Int: Int] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let status = Int(parts[0]), let count = Int(parts[1]) else { continue }
            got[status] = count
        }
        #expect(got == expected)
    }

    @Test func perServerCounts() throws {
        let records = Self.records()
        let out = try halog(["-q", "-srv", "-H"], storedFile(records))
        let lines = out.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == 3)
        for line in lines {
            let f = line.split(separator: " ")
            guard f.count >= 12 else {
                Issue.record("short line: \(line)")
                continue
            }
            let server = String(f[0].split(separator: "/").last ?? "")
            let mine = records.filter { $0.server == server }
            #expect(Int(f[7]) == mine.count, "tot_req of \(server)")
            #expect(Int(f[2]) == mine.filter { (200..<300).contains($0.status) }.count, "2xx of \(server)")
            #expect(Int(f[5]) == mine.filter { (500..<600).contains($0.status) }.count, "5xx of \(server)")
        }
    }

    @Test func terminationStatesAndErrors() throws {
        let records = Self.records()
        let file = storedFile(records)
        let errors = try halog(["-q", "-e", "-c"], file)
        let expectedErrors = records.filter { $0.status >= 500 || $0.status < 0 }.count
        #expect(Int(errors.trimmingCharacters(in: .whitespacesAndNewlines)) == expectedErrors)
        let sc = try halog(["-q", "-tcn", "SC", "-c"], file)
        #expect(
            Int(sc.trimmingCharacters(in: .whitespacesAndNewlines))
                == records.filter { $0.terminationState.sessionState == "SC" }.count)
        let all = try halog(["-q", "-c"], file)
        #expect(Int(all.trimmingCharacters(in: .whitespacesAndNewlines)) == records.count + 1)
    }
}
