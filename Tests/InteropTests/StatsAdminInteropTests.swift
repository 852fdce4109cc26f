import Foundation
import TestSupport
import Testing

/// The stats page's admin form (`stats admin if …`) beside HAProxy 2.6: the form's POSTs, sent by curl as a browser
/// sends them, answered alike (HAProxy's 303 to `URI;st=DONE|PART|NONE|ERRP|DENY`), the same servers changed (read
/// back from `;csv`), and the same lines; a page without `stats admin` denies the form.
@Suite("Stats page admin form beside HAProxy", .serialized)
struct StatsAdminInteropTests {
    @Test func sameOutcomesStatesAndLines() async throws {
        let dir = try TemporaryDirectory(prefix: "stats-admin")
        let curl = try Peers.find("curl")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let refusing = try RefusingPort()
        defer { refusing.close() }
        // A server whose connect check passes (the connection completes in the backlog): UP on both sides.
        let accepting = try StalledServer()
        defer { accepting.stop() }
        let posts = [
            (0, "s=a&action=maint&b=app"), (0, "s=b&s=nope&action=drain&b=app"), (0, "action=ready&b=app"),
            (0, "s=a&action=bogus&b=app"), (0, "s=a&action=maint&b=nobackend"), (0, "s=a&action=dhlth&b=app"),
            (0, "s=c&action=dhlth&b=app"), (0, "s=a&s=b&action=ready&b=app&b=app"), (1, "s=a&action=maint&b=app"),
            (0, "s=c&action=maint&b=app"),
        ]
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend admin
                bind 127.0.0.1:\(ports[0])
                stats enable
                stats uri /stats
                stats admin if LOCALHOST
            frontend readonly
                bind 127.0.0.1:\(ports[1])
                stats enable
                stats uri /stats
            backend app
                server a 127.0.0.1:\(refusing.port)
                server b 127.0.0.1:\(refusing.port)
                server c 127.0.0.1:\(accepting.port) check inter 1h

            """
        } _: { _, ports in
            var seen: [String] = []
            for (index, body) in posts {
                let run = try Peers.run(
                    curl,
                    ["-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-d", body,
                     "http://127.0.0.1:\(ports[index])/stats"])
                let csv = try Peers.run(curl, ["-s", "http://127.0.0.1:\(ports[0])/stats;csv"])
                let states = String(decoding: csv.stdout, as: UTF8.self).split(separator: "\n")
                    .filter { $0.hasPrefix("app,a,") || $0.hasPrefix("app,b,") || $0.hasPrefix("app,c,") }
                    .map { row -> String in
                        let fields = row.split(separator: ",", omittingEmptySubsequences: false)
                        return fields.count > 17 ? "\(fields[1])=\(fields[17])" : String(row)
                    }
                let answer = String(decoding: run.stdout, as: UTF8.self)
                    .replacingOccurrences(of: ":\(ports[index])/", with: ":PORT/")
                seen.append("\(body) -> \(answer) \(states)")
            }
            let lines = await messages.take(waitingFor: 2 * posts.count, seconds: 10) { $0.contains(" [") }
            return seen + lines.filter { $0.contains(" [") && $0.contains("POST") }.map(normalizedHTTPLine).sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.first?.contains("303 http://127.0.0.1:PORT") == true && ours.first?.contains("/stats;st=DONE") == true, "\(ours)")
        #expect(ours.contains { $0.contains("st=DENY") } && ours.contains { $0.contains("st=PART") }, "\(ours)")
    }
}
