import Foundation
import LogCore
import TestSupport
import Testing

/// `logquery --config` / `--log-format` on lines HAProxy 2.6 itself wrote with custom formats: the same requests
/// through a frontend with `option httplog` and through frontends with real-world custom formats answer the same
/// rows in `logquery sql`, and the reports count them.
@Suite("logquery on HAProxy's custom log-format lines", .serialized)
struct LogqueryLogFormatTests {
    static let formats = [
        // From the real-world collection (Tests/Corpus/haproxy/07): httplog without the cookies.
        "custom": #""%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r""#,
        // The JSON shape people send to their collectors.
        "json":
            #"'{"time":"%t","client":"%ci","frontend":"%f","backend":"%b","server":"%s","status":%ST,"bytes":%B,"method":"%HM","uri":"%HU","timers":"%TR/%Tw/%Tc/%Tr/%Ta","state":"%tsc"}'"#,
    ]

    @Test func customLinesAnswerAsTheHttplogLinesOfTheSameRequests() async throws {
        let haproxy = try Peers.find("haproxy")
        let logquery = try Products.path("logquery")
        let dir = try TemporaryDirectory(prefix: "lq-log-format")
        let web = try await LoopbackHTTPResponder()
        let names = ["plain", "custom", "json"]
        let ports = try Peers.freePorts(names.count)
        var config = """
            global
                log stdout format rfc3164 local0 info
            defaults
                log global
                mode http
                option dontlognull
                timeout connect 1s
                timeout client 5s
                timeout server 5s

            """
        for (name, port) in zip(names, ports) {
            config += """
                frontend \(name)
                    bind 127.0.0.1:\(port)
                    capture request header Host len 20
                    \(Self.formats[name].map { "log-format \($0)" } ?? "option httplog")
                    http-request deny if { path_beg /denied }
                    use_backend down if { path_beg /down }
                    default_backend web

                """
        }
        config += """
            backend web
                server w 127.0.0.1:\(web.port)
            backend down

            """
        let cfg = dir.file("haproxy.cfg")
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        let log = dir.file("haproxy.log")
        let peer = try RunningPeer(haproxy, ["-db", "-f", cfg], logPath: log)
        defer { peer.stop() }
        #expect(Peers.waitUntil(seconds: 10) { ports.allSatisfy { Peers.isListening(port: $0) } }, "\(peer.output)")
        let paths = ["/", "/denied", "/down", "/x?q=1", "/a%20b/c.js"]
        for port in ports {
            for path in paths {
                _ = try Peers.exchange(port: port, Array("GET \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".utf8))
            }
        }
        let expected = names.count * paths.count
        #expect(Peers.waitUntil(seconds: 10) { peer.output.components(separatedBy: "haproxy[").count - 1 >= expected }, "\(peer.output)")

        let query =
            "SELECT frontend_name, backend_name, server_name, status_code, bytes_read, http_method, http_url, termination_state FROM haproxy_log ORDER BY http_url"
        let run = try Peers.run(logquery, ["sql", "--config", cfg, "--format", "csv", query, log])
        #expect(run.status == 0, "\(String(decoding: run.stderr, as: UTF8.self))")
        // By frontend, each row without its frontend's name (a denied request's backend is its frontend).
        var rows: [String: [String]] = [:]
        for line in String(decoding: run.stdout, as: UTF8.self).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard let frontend = fields.first else { continue }
            rows[frontend, default: []].append(
                fields.dropFirst().map { $0 == frontend ? "FE" : $0 }.joined(separator: ","))
        }
        #expect(rows["plain"]?.count == paths.count, "\(rows)")
        #expect(rows["custom"] == rows["plain"], "\(rows)")
        #expect(rows["json"] == rows["plain"], "\(rows)")
        #expect(rows["plain"]?.contains("FE,<NOSRV>,403,192,GET,/denied,PR--") == true, "\(rows)")

        // Without the formats, the custom lines are not understood (and said to be), the httplog ones still read.
        let bare = try Peers.run(logquery, ["backends", "--format", "csv", log])
        #expect(bare.status == 0)
        #expect(String(decoding: bare.stderr, as: UTF8.self).contains("5 lines not understood"), "\(bare)")
        // With them, every request is counted; `--log-format` works as `--config` does.
        let format = try #require(Self.formats["custom"]).dropFirst().dropLast()
        for options in [["--config", cfg], ["--log-format", String(format), "--log-format", Self.jsonFormat]] {
            let report = try Peers.run(logquery, ["backends", "--format", "csv"] + options + [log])
            let text = String(decoding: report.stdout, as: UTF8.self)
            #expect(report.status == 0 && report.stderr.isEmpty, "\(String(decoding: report.stderr, as: UTF8.self))")
            #expect(text.contains("\nweb,9,") && text.contains("\ndown,3,"), "\(options): \(text)")
        }
        try await web.close()
    }

    static var jsonFormat: String { String((formats["json"] ?? "").dropFirst().dropLast()) }
}
