import Foundation
import TestSupport
import Testing

/// `option external-check` beside HAProxy 2.6: the same program, given the same arguments and the same environment
/// (the section's first listener or `NOT_USED`, the server's address and port, `PATH` and the `HAPROXY_*`
/// variables only), and its exit status moving the servers as HAProxy moves them, with the same DOWN and UP lines
/// (`External check error, code: 3`, `External check passed, code: 0`).
@Suite("External checks beside HAProxy", .serialized)
struct ExternalCheckInteropTests {
    @Test func theSameProgramRunsAndMovesTheServersAsInHAProxy() async throws {
        let dir = try TemporaryDirectory(prefix: "external-check")
        let logs = try await LoopbackUDPReceiver()
        let messages = RuntimeAPIInteropTests.Messages(logs)
        let origin = try await HTTPOrigin(name: "o")
        var results: [String: [String]] = [:]
        for who in ["haproxy", "proxy"] {
            let side = dir.file(who)
            try FileManager.default.createDirectory(atPath: side, withIntermediateDirectories: true)
            // The environment is only what the proxy gives: no PATH to find programs with.
            try """
                #!/bin/sh
                echo "$@" > \(side)/args-$HAPROXY_SERVER_NAME
                /usr/bin/env | /usr/bin/sort > \(side)/env-$HAPROXY_SERVER_NAME
                [ -f \(side)/fail-$HAPROXY_SERVER_NAME ] && exit 3
                exit 0

                """.write(toFile: dir.file("\(who)-check.sh"), atomically: true, encoding: .utf8)
            chmod(dir.file("\(who)-check.sh"), 0o755)
            let port = try Peers.freePort()
            try """
                global
                    log 127.0.0.1:\(logs.port) local0 info
                    external-check
                    insecure-fork-wanted
                defaults
                    log global
                    mode http
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                backend b
                    option external-check
                    external-check command \(dir.file("\(who)-check.sh"))
                    server s1 127.0.0.1:\(origin.port) check inter 8000 rise 1 fall 1
                    server s2 127.0.0.1:\(origin.port) check inter 8000 rise 1 fall 1 maxconn 7
                listen l
                    bind 127.0.0.1:\(port)
                    option external-check
                    external-check path /nonexistent:\(dir.path)
                    external-check command \(who)-check.sh
                    server s3 127.0.0.1:\(origin.port) check inter 8000 rise 1 fall 1

                """.write(toFile: dir.file("\(who).cfg"), atomically: true, encoding: .utf8)
            let peer = try startSide(who, in: dir)
            defer { peer.stop() }
            #expect(Peers.waitUntil(seconds: 10) { Peers.isListening(port: port) }, "\(peer.output)")
            #expect(
                Peers.waitUntil(seconds: 30) {
                    ["s1", "s2", "s3"].allSatisfy { FileManager.default.fileExists(atPath: "\(side)/env-\($0)") }
                }, "\(peer.output)")
            _ = await messages.take(waitingFor: 1, seconds: 0.5) { _ in false }
            try "".write(toFile: "\(side)/fail-s2", atomically: true, encoding: .utf8)
            // One server is watched (another that a loaded machine makes slower than `inter` would be a timeout: HAProxy
            // kills an external check still running after `inter`, so `inter` is 8 s here, room for a loaded machine's
            // fork and shell; the whole suite on 2 cores saw HAProxy's checks time out for 30 s at 1 s and at 3 s).
            let down = await messages.take(waitingFor: 1, seconds: 60) { $0.contains("b/s2 is DOWN") }
            try FileManager.default.removeItem(atPath: "\(side)/fail-s2")
            let up = await messages.take(waitingFor: 1, seconds: 60) { $0.contains("b/s2 is UP") }
            var seen: [String] = []
            for server in ["s1", "s2", "s3"] {
                let args = (try? String(contentsOfFile: "\(side)/args-\(server)", encoding: .utf8)) ?? "-"
                let env = (try? String(contentsOfFile: "\(side)/env-\(server)", encoding: .utf8)) ?? "-"
                seen.append("\(server) args: \(args) env: \(env)")
            }
            // Durations and the side's own paths and port vary between the runs.
            results[who] = (seen + (down + up).filter { $0.contains("Server b/s2 ") }).map {
                $0.replacingOccurrences(of: String(port), with: "PORT").replacingOccurrences(of: dir.path, with: "DIR")
                    .replacingOccurrences(of: "\(who)-check", with: "SIDE-check")
                    .replacingOccurrences(of: #"check duration: \d+ms"#, with: "check duration: Tms", options: .regularExpression)
                    .replacingOccurrences(of: #"^<\d+>\w+ +\d+ [\d:]+ [^ ]+ "#, with: "", options: .regularExpression)
            }
        }
        let ours = results["proxy"] ?? []
        let theirs = results["haproxy"] ?? []
        #expect(ours.count == theirs.count, "\(ours)\n\(theirs)")
        for (o, t) in zip(ours, theirs) { #expect(o == t) }
        #expect(ours.contains { $0.contains("Server b/s2 is DOWN, reason: External check error, code: 3") }, "\(ours)")
        try await origin.close()
    }

    /// What HAProxy 2.6 checks once the file is read: the global `external-check`, a command, a command without a
    /// `/` only with `external-check path`; a command without the option is a warning. The same verdicts.
    @Test func theSameVerdictsOnTheConfiguration() throws {
        let dir = try TemporaryDirectory(prefix: "external-check-config")
        let cases: [(global: String, backend: String, valid: Bool, says: String)] = [
            ("", "option external-check\n    external-check command /bin/true", false, "unable to find required 'global.external-check'"),
            ("external-check", "option external-check", false, "unable to find required 'external-check command'"),
            ("external-check", "option external-check\n    external-check command true", false, "does not have a leading '/'"),
            ("external-check", "option external-check\n    external-check path /usr/bin:/bin\n    external-check command true", true, "'insecure-fork-wanted' not enabled"),
            ("external-check\n    insecure-fork-wanted", "external-check command /bin/true", true, "'external-check command' will be ignored for backend 'b'"),
        ]
        for (global, backend, valid, says) in cases {
            let file = dir.file("c.cfg")
            try """
            global
                \(global)
            defaults
                mode tcp
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend b
                \(backend)
                server s 127.0.0.1:9 check
            frontend f
                bind 127.0.0.1:9
                default_backend b

            """.write(toFile: file, atomically: true, encoding: .utf8)
            let theirs = try Peers.run(try Peers.find("haproxy"), ["-c", "-f", file])
            let ours = try Peers.run(try Products.path("proxy"), ["-c", "-f", file])
            let text = String(decoding: ours.stderr + ours.stdout, as: UTF8.self)
            let theirText = String(decoding: theirs.stderr + theirs.stdout, as: UTF8.self)
            #expect((theirs.status == 0) == valid, "HAProxy: \(theirText)")
            #expect((ours.status == 0) == valid && text.contains(says), "\(backend): \(text)")
            #expect(theirText.contains(says), "HAProxy says: \(theirText)")
        }
    }
}
