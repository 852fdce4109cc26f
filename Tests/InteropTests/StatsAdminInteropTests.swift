import Foundation
import TestSupport
import Testing

/// The stats page's admin form (`stats admin if …`) beside HAProxy 2.6: the form's POSTs, sent by curl as a browser
/// sends them, answered alike (HAProxy's 303 to `URI;st=DONE|PART|NONE|ERRP|DENY`), the same servers changed (read
/// back from `;csv`), and the same lines; a page without `stats admin` denies the form.
@Suite("Stats page admin form beside HAProxy", .serialized)
struct StatsAdminInteropTests {
    /// `stats scope`: the page and its CSV list the named proxies only (`.`: the one serving the page), beside
    /// HAProxy 2.6; without it, every proxy.
    @Test func statsScopeShowsTheNamedProxiesOnly() async throws {
        let dir = try TemporaryDirectory(prefix: "stats-scope")
        let curl = try Peers.find("curl")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let results = try await besideHAProxy(ports: 3, in: dir, messages: messages) { ports in
            """
            \(httpPreamble(logPort: logs.port))
            frontend site
                bind 127.0.0.1:\(ports[0])
                default_backend app
            listen monitor
                bind 127.0.0.1:\(ports[1])
                stats enable
                stats uri /stats
                stats scope .
                stats scope app
                stats scope app
                stats scope nosuchproxy
            listen everything
                bind 127.0.0.1:\(ports[2])
                stats uri /stats
            backend app
                server a 127.0.0.1:9
            backend other
                server b 127.0.0.1:9

            """
        } _: { who, ports in
            var seen: [String] = []
            for port in [ports[1], ports[2]] {
                let csv = try Peers.run(curl, ["-s", "http://127.0.0.1:\(port)/stats;csv"])
                // Each row's proxy and object (`app,a`, `app,BACKEND`).
                seen.append(
                    String(decoding: csv.stdout, as: UTF8.self).split(separator: "\n").dropFirst()
                        .map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(2).joined(separator: ",") }
                        .joined(separator: " "))
                // The HTML page (each side's own layout: HAProxy's anchors, our section titles) lists the same.
                let html = String(decoding: try Peers.run(curl, ["-s", "http://127.0.0.1:\(port)/stats"]).stdout, as: UTF8.self)
                seen.append(
                    ["site", "monitor", "everything", "app", "other"].filter {
                        html.contains(who == "haproxy" ? "<a name=\"\($0)\">" : "<h2>\($0)<span>")
                    }.joined(separator: " "))
            }
            return seen
        }
        expectSameSides(results)
        #expect(results["proxy"]?.first == "monitor,FRONTEND monitor,BACKEND app,a app,BACKEND", "\(results)")
    }

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
