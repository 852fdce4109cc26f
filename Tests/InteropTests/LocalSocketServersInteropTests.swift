import Foundation
import TestSupport
import Testing

/// Servers on local sockets beside HAProxy 2.6: `unix@PATH` and `/PATH` (socat listening on the file, relaying to
/// an HTTP origin) and `abns@NAME` (a helper HAProxy listening in Linux's abstract namespace), in HTTP and TCP mode,
/// with health checks; the same answers, log lines, `show stat` (address `unix`, check status) and `show servers
/// state` (address `-`, port 0).
@Suite("Servers on local sockets beside HAProxy", .serialized)
struct LocalSocketServersInteropTests {
    @Test func unixAndAbstractServersAnswerAsBehindHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "local-servers")
        let origin = try await HTTPOrigin(name: "o")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let path = dir.file("web.sock")
        let relay = try RunningPeer(
            try Peers.find("socat"), ["UNIX-LISTEN:\(path),fork", "TCP:127.0.0.1:\(origin.port)"],
            logPath: dir.file("socat.out"))
        defer { relay.stop() }
        // HAProxy's abstract sockets: the name padded with zeros to the whole address (socat's are not).
        let name = "tollgate-\(getpid())-\(origin.port)"
        try """
        defaults
            mode tcp
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        listen inner
            bind abns@\(name)
            server o 127.0.0.1:\(origin.port)

        """.write(toFile: dir.file("inner.cfg"), atomically: true, encoding: .utf8)
        let inner = try RunningPeer(try Peers.find("haproxy"), ["-db", "-f", dir.file("inner.cfg")], logPath: dir.file("inner.out"))
        defer { inner.stop() }
        #expect(Peers.waitUntil(seconds: 10) { FileManager.default.fileExists(atPath: path) }, "\(relay.output)")
        let results = try await besideHAProxy(ports: 4, in: dir, messages: messages) { ports in
            """
            global
                stats socket \(dir.file("\(ports[0]).sock")) level admin
            \(httpPreamble(logPort: logs.port).dropFirst("global\n".count))
            frontend viaunix
                bind 127.0.0.1:\(ports[0])
                default_backend unixweb
            frontend viapath
                bind 127.0.0.1:\(ports[1])
                mode tcp
                option tcplog
                # The origin keeps the connection: the client's timeout ends it (cD), soon.
                timeout client 1s
                default_backend pathtcp
            frontend viaabns
                bind 127.0.0.1:\(ports[2])
                default_backend abnsweb
            frontend viacheckport
                bind 127.0.0.1:\(ports[3])
                default_backend checkedelsewhere
            backend unixweb
                server u unix@\(path) check inter 200
            backend pathtcp
                mode tcp
                server p \(path) check inter 200
            backend abnsweb
                server a abns@\(name) check inter 200
            backend checkedelsewhere
                server c unix@\(path) check port \(origin.port) addr 127.0.0.1 inter 200
                server portonly unix@\(path) check port 1 inter 200

            """
        } _: { _, ports in
            // The checks have run (rise 2 at 200 ms).
            try await Task.sleep(for: .milliseconds(1_500))
            var seen: [String] = []
            for port in ports {
                let request = "GET /p\(port == ports[1] ? "tcp" : "") HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                let answer = String(decoding: try Peers.exchange(port: port, Array(request.utf8)), as: UTF8.self)
                seen.append(answer.split(separator: "\r\n").filter { !$0.lowercased().hasPrefix("date:") }.joined(separator: "|"))
            }
            let lines = await messages.take(waitingFor: 4, seconds: 20) { $0.contains(" [") }
            let socket = dir.file("\(ports[0]).sock")
            let stats = try RuntimeAPIInteropTests.statRows(socket).filter { $0["svname"] != "FRONTEND" }.map { row in
                ["pxname", "svname", "status", "check_status", "addr", "hrsp_2xx"].map { row[$0] ?? "?" }.joined(separator: ",")
            }
            let state = try RuntimeAPIInteropTests.socat(socket, "show servers state\n").split(separator: "\n")
                .filter { !$0.hasPrefix("#") && $0.split(separator: " ").count > 18 }
                .map { line in
                    let f = line.split(separator: " ").map(String.init)
                    return [f[1], f[3], f[4], f[5], f[18]].joined(separator: " ")
                }
            // The count of active connections depends on when an earlier client's close was seen: left out.
            return seen + lines.filter { $0.contains(" [") }.map { withoutActconn(normalizedHTTPLine($0)) }.sorted()
                + stats + state
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(ours.prefix(4).allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK|") && $0.hasSuffix("origin o\n") }, "\(ours)")
        #expect(ours.contains("unixweb,u,UP,L4OK,unix,1"), "\(ours)")
        #expect(ours.contains { $0.hasPrefix("checkedelsewhere,portonly,UP,L4OK,unix,") }, "a port alone: \(ours)")
        #expect(ours.contains("abnsweb,a,UP,L4OK,unix,1"), "\(ours)")
        #expect(ours.contains("unixweb u - 2 0") && ours.contains("pathtcp p - 2 0"), "\(ours)")
        #expect(ours.contains { $0.contains(" viapath pathtcp/p ") && $0.contains(" 73 cD ") }, "\(ours)")
    }

    /// Listeners on local sockets: `bind unix@PATH mode 600` under `unix-bind prefix DIR mode 640` (curl through
    /// `--unix-socket`, in HTTP and in TCP mode:
    /// logged `unix:N`, N the listener's number in its frontend) and HAProxy's chained proxies, a TCP frontend
    /// handing its clients to `bind abns@NAME accept-proxy` through `server … abns@NAME send-proxy-v2` (the inner
    /// frontend logs the real client). The same answers, lines and socket file mode as HAProxy's.
    @Test func unixAndAbstractListenersServeAsHAProxys() async throws {
        let dir = try TemporaryDirectory(prefix: "local-binds")
        let origin = try await HTTPOrigin(name: "o")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let name = "tollgate-binds-\(getpid())-\(origin.port)"
        let web = dir.file("web.sock")
        let raw = dir.file("raw.sock")
        let results = try await besideHAProxy(ports: 2, in: dir, messages: messages) { ports in
            """
            global
                unix-bind prefix \(dir.path)/ mode 640
            \(httpPreamble(logPort: logs.port).dropFirst("global\n".count))
            frontend web
                bind 127.0.0.1:\(ports[0]) name tcp
                bind unix@web.sock mode 600
                bind abns@\(name) accept-proxy
                default_backend app
            frontend raw
                mode tcp
                option tcplog
                timeout client 1s
                bind unix@raw.sock
                default_backend apptcp
            listen outer
                bind 127.0.0.1:\(ports[1])
                mode tcp
                no log
                server inner abns@\(name) send-proxy-v2
            backend app
                server o 127.0.0.1:\(origin.port)
            backend apptcp
                mode tcp
                server o 127.0.0.1:\(origin.port)

            """
        } _: { _, ports in
            var seen: [String] = []
            let curl = try Peers.find("curl")
            for (socket, path) in [(web, "/unix"), (raw, "/raw")] {
                let result = try Peers.run(curl, ["-s", "-m", "10", "--unix-socket", socket, "http://x\(path)"], timeout: 30)
                seen.append("\(path): " + String(decoding: result.stdout, as: UTF8.self))
            }
            // Through the chain: TCP, then the abstract socket with a PROXY header.
            let chained = "GET /chained HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
            let answer = String(decoding: try Peers.exchange(port: ports[1], Array(chained.utf8)), as: UTF8.self)
            seen.append("/chained: " + (answer.split(separator: "\r\n").last.map(String.init) ?? ""))
            // `mode 600` on the line; `unix-bind`'s 640 where the line gives none.
            for file in [web, raw] {
                var info = stat()
                stat(file, &info)
                seen.append("mode " + String(info.st_mode & 0o777, radix: 8))
            }
            let lines = await messages.take(waitingFor: 3, seconds: 20) { $0.contains(" [") }
            // A local client's listener number kept (`unix:N` is not a port to blank).
            return seen
                + lines.filter { $0.contains(" [") }.map {
                    withoutActconn(normalizedHTTPLine($0.replacingOccurrences(of: " unix:", with: " unix-")))
                }.sorted()
        }
        expectSameSides(results)
        let ours = results["proxy"] ?? []
        #expect(
            ours.prefix(5) == ["/unix: origin o\n", "/raw: origin o\n", "/chained: origin o\n", "mode 600", "mode 640"],
            "\(ours)")
        #expect(ours.contains { $0.contains(" unix-2 ") && $0.contains(" web app/o ") }, "\(ours)")
        #expect(ours.contains { $0.contains(" unix-1 ") && $0.contains(" raw apptcp/o ") }, "\(ours)")
        #expect(ours.contains { $0.contains(" 127.0.0.1:PORT ") && $0.contains("/chained") }, "\(ours)")
    }

    /// A reload with `-x`: the new process takes the old one's listeners on local sockets (an abstract name cannot be
    /// bound twice), and curl is answered through the file before and after.
    @Test func aReloadHandsLocalListenersOver() async throws {
        let dir = try TemporaryDirectory(prefix: "local-reload")
        let origin = try await HTTPOrigin(name: "o")
        let web = dir.file("web.sock")
        let name = "tollgate-reload-\(getpid())-\(origin.port)"
        try """
        global
            stats socket \(dir.file("admin.sock")) level admin expose-fd listeners
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        frontend web
            bind unix@\(web)
            bind abns@\(name)
            default_backend app
        backend app
            server o 127.0.0.1:\(origin.port)

        """.write(toFile: dir.file("p.cfg"), atomically: true, encoding: .utf8)
        let proxy = try Products.path("proxy")
        let curl = try Peers.find("curl")
        func ask() throws -> String {
            String(decoding: try Peers.run(curl, ["-s", "-m", "10", "--unix-socket", web, "http://x/"], timeout: 30).stdout, as: UTF8.self)
        }
        let old = try RunningPeer(proxy, ["-f", dir.file("p.cfg")], logPath: dir.file("old.out"))
        defer { old.stop() }
        #expect(Peers.waitUntil(seconds: 30) { old.output.contains("listening on") }, "\(old.output)")
        #expect(try ask() == "origin o\n")
        let new = try RunningPeer(
            proxy, ["-f", dir.file("p.cfg"), "-x", dir.file("admin.sock"), "-sf", "\(old.pid)"], logPath: dir.file("new.out"))
        defer { new.stop() }
        #expect(Peers.waitUntil(seconds: 30) { new.output.contains("listening on") }, "\(new.output)")
        #expect(new.output.contains("listening on unix@\(web), abns@\(name)"), "\(new.output)")
        #expect(Peers.waitUntil(seconds: 30) { !old.isRunning }, "the old process ends: \(old.output)")
        #expect(try ask() == "origin o\n" && new.isRunning, "\(new.output)")
    }

    @Test func localSocketAddressesHAProxyRefusesAreRefused() throws {
        let dir = try TemporaryDirectory(prefix: "local-servers-bad")
        // 121 bytes: too long for HAProxy (107) and for this build (103).
        let long = "/" + String(repeating: "x", count: 120)
        try expectRefusedAsByHAProxy("server s unix@\(long)", says: "too long", in: dir, section: "listen f")
    }
}
