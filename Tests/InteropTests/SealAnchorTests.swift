import Foundation
import Seal
import SyslogProtocol
import TestSupport
import Testing

/// Checkpoints anchored off the host: an edge sink seals /var/log/haproxy.log and its own messages (one
/// `audit: seal checkpoint …` per checkpoint) go through its rules to a central sink, which files them. An intruder
/// with root on the edge rewrites a line and makes a new sidecar with the key left on the host: `logquery verify`
/// alone says OK (it cannot tell), `verify --anchors central.log` says TAMPERED — and so it does when the sidecar is
/// simply deleted, and when the central collector was down during the rewrite (once the anchors arrive).
@Suite("Seal anchors off the host", .serialized)
struct SealAnchorTests {
    struct Stack {
        let dir: TemporaryDirectory
        let secret: String
        let shared: String
        let edgePort: Int
        let centralPort: Int
        var log: String { dir.file("edge/haproxy.log") }
        var central: String { dir.file("central.log") }

        init() throws {
            dir = try TemporaryDirectory(prefix: "seal-anchors")
            try FileManager.default.createDirectory(atPath: dir.file("edge"), withIntermediateDirectories: true)
            let made = try Peers.run(
                try Products.path("logquery"),
                ["seal-key", "--private-key", dir.file("seal.key"), "--public-key", dir.file("seal.pub")])
            #expect(made.status == 0)
            (secret, shared) = (dir.file("seal.key"), dir.file("seal.pub"))
            edgePort = try Peers.freePort(udp: true)
            centralPort = try Peers.freePort()
            try """
                global(processInternalMessages="on")
                module(load="imudp")
                input(type="imudp" address="127.0.0.1" port="\(edgePort)")
                local0.* action(type="omfile" file="\(log)" seal="on" sealKey="\(secret)" template="RSYSLOG_TraditionalFileFormat")
                syslog.* action(type="omfwd" target="127.0.0.1" port="\(centralPort)" protocol="tcp"
                                queue.type="LinkedList" action.resumeRetryCount="-1" action.resumeInterval="1")
                """.write(toFile: dir.file("edge.conf"), atomically: true, encoding: .utf8)
            try """
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(centralPort)")
                *.* action(type="omfile" file="\(central)" template="RSYSLOG_TraditionalFileFormat")
                """.write(toFile: dir.file("central.conf"), atomically: true, encoding: .utf8)
        }

        func start(_ name: String) throws -> RunningPeer {
            let peer = try RunningPeer(
                try Products.path("syslog-sink"), ["-n", "-f", dir.file("\(name).conf")], logPath: dir.file("\(name).out"))
            let port = name == "edge" ? edgePort : centralPort
            let udp = name == "edge"
            #expect(
                Peers.waitUntil(seconds: 15) { udp ? peer.output.contains("listening on udp") : Peers.isListening(port: port) },
                "\(peer.output)")
            return peer
        }

        func send(_ range: ClosedRange<Int>) throws {
            let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: edgePort))
            defer { sender.close() }
            for n in range {
                sender.send(
                    Array(
                        ("<134>Nov 26 08:51:02 lb1 haproxy[6296]: 10.0.0.1:\(40000 + n) [26/Nov/2026:08:51:02.000] fe "
                            + "be/s1 0/0/\(n) 10 -- 1/1/0/0/0 0/0").utf8))
            }
        }

        func lines() -> Int {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
        }

        /// Whether the central log holds an anchor of the edge file covering `lines` lines.
        func anchored(_ lines: Int) -> Bool {
            let text = (try? String(contentsOfFile: central, encoding: .utf8)) ?? ""
            return SealAnchor.all(in: text).contains { $0.file.hasSuffix("/edge/haproxy.log") && $0.lines >= lines }
        }

        func verify(anchors: Bool) throws -> (status: Int32, text: String) {
            let run = try Peers.run(
                try Products.path("logquery"),
                ["verify", "--key", shared] + (anchors ? ["--anchors", central] : []) + [log])
            return (run.status, String(decoding: run.stdout + run.stderr, as: UTF8.self))
        }

        /// The intruder, root on the edge after the sink stopped: line `line` rewritten, the file made again (as
        /// `sed -i` does: a new inode) and a whole new sidecar signed with the key file left on the host.
        func rewriteAndReseal(line: Int) throws {
            var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            lines[line - 1] = Substring(lines[line - 1].replacingOccurrences(of: " -- ", with: " SD "))
            let content = Array(lines.joined(separator: "\n").utf8)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.file("edge")) where name.contains(".seal") {
                try FileManager.default.removeItem(atPath: dir.file("edge/\(name)"))
            }
            try FileManager.default.removeItem(atPath: log)
            let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o640)
            #expect(fd >= 0)
            let sealer = Sealer(logPath: log, key: try SealKey(file: secret))
            sealer.opened(logDescriptor: fd)
            _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            content.withUnsafeBytes { sealer.written($0) }
            sealer.close()
            close(fd)
        }
    }

    @Test func aRewriteResealedWithTheHostsKeyIsCaughtByTheAnchors() throws {
        let s = try Stack()
        let central = try s.start("central")
        defer { central.stop() }
        let edge = try s.start("edge")
        try s.send(1...200)
        #expect(Peers.waitUntil(seconds: 20) { s.lines() == 200 && s.anchored(200) }, "\(edge.output) \(central.output)")
        edge.stop()
        let clean = try s.verify(anchors: true)
        #expect(clean.status == 0 && clean.text.contains("OK (200 lines sealed") && clean.text.contains("anchors: "), "\(clean.text)")

        try s.rewriteAndReseal(line: 57)
        let local = try s.verify(anchors: false)
        #expect(local.status == 0, "the sidecar made again with the host's key fools the local check: \(local.text)")
        let anchored = try s.verify(anchors: true)
        #expect(anchored.status == 1, "\(anchored.text)")
        #expect(anchored.text.contains("TAMPERED") && anchored.text.contains("caught by the anchors"), "\(anchored.text)")

        // The sidecar deleted outright: nothing local to check, the anchors still say the bytes changed.
        try FileManager.default.removeItem(atPath: s.log + ".seal")
        let deleted = try s.verify(anchors: true)
        #expect(deleted.status == 1 && deleted.text.contains("caught by the anchors"), "\(deleted.text)")
    }

    @Test func aRewriteWhileTheCollectorIsDownIsCaughtWhenTheAnchorsArrive() throws {
        let s = try Stack()
        var central = try s.start("central")
        let edge = try s.start("edge")
        defer { edge.stop() }
        try s.send(1...100)
        #expect(Peers.waitUntil(seconds: 20) { s.lines() == 100 && s.anchored(100) }, "\(edge.output)")
        central.stop()
        // Lines sealed while the collector is down: their anchors wait in the edge's forward queue.
        try s.send(101...150)
        #expect(Peers.waitUntil(seconds: 10) { s.lines() == 150 })
        usleep(2_500_000)  // a checkpoint (and its anchor, queued) for the last lines
        // The intruder edits line 120 in place (same inode), before the anchors for it left.
        let text = try String(contentsOfFile: s.log, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines[119] = Substring(lines[119].replacingOccurrences(of: " -- ", with: " SD "))
        let fd = open(s.log, O_WRONLY)
        _ = Array(lines.joined(separator: "\n").utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
        let before = try s.verify(anchors: true)
        #expect(before.status == 1, "the local seal sees the edit: \(before.text)")
        #expect(!before.text.contains("caught by the anchors"), "no anchor of line 120 has arrived yet: \(before.text)")
        central = try s.start("central")
        defer { central.stop() }
        #expect(Peers.waitUntil(seconds: 20) { s.anchored(150) }, "\(edge.output)")
        let after = try s.verify(anchors: true)
        #expect(after.status == 1 && after.text.contains("caught by the anchors"), "\(after.text)")
    }
}

/// Forward-secure seals: the key on the host evolves every epoch and the old one is erased, so an intruder with root
/// at time T holds only T's key. Made with `logquery seal-key --forward-secure --epoch 2s`; the lines carry the
/// sink's reception time (sent without a stamp).
@Suite("Forward-secure seals", .serialized)
struct ForwardSecureSealTests {
    let dir: TemporaryDirectory
    let port: Int
    var log: String { dir.file("haproxy.log") }

    init() throws {
        dir = try TemporaryDirectory(prefix: "fss")
        port = try Peers.freePort(udp: true)
        let made = try Peers.run(
            try Products.path("logquery"),
            ["seal-key", "--forward-secure", "--epoch", "2s", "--private-key", dir.file("seal.key"), "--public-key",
             dir.file("verify.key")])
        #expect(made.status == 0, "\(String(decoding: made.stderr, as: UTF8.self))")
        try """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(port)")
            local0.* action(type="omfile" file="\(log)" seal="on" sealKey="\(dir.file("seal.key"))" template="RSYSLOG_TraditionalFileFormat")
            """.write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
    }

    func verify() throws -> (status: Int32, text: String) {
        let run = try Peers.run(try Products.path("logquery"), ["verify", "--key", dir.file("verify.key"), log])
        return (run.status, String(decoding: run.stdout + run.stderr, as: UTF8.self))
    }

    /// Three epochs of lines, each round its own epoch.
    func writeRounds(_ rounds: Int) throws -> RunningPeer {
        let sink = try RunningPeer(try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf")], logPath: dir.file("sink.out"))
        #expect(Peers.waitUntil(seconds: 15) { sink.output.contains("listening on udp") }, "\(sink.output)")
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
        defer { sender.close() }
        for round in 1...rounds {
            for n in 1...5 { sender.send(Array("<134>haproxy[6296]: round \(round) line \(n) fe be/s1 0/0/1 10 -- 1/1/0/0/0 0/0".utf8)) }
            usleep(2_300_000)
        }
        return sink
    }

    @Test func keysEvolveAndARewriteResealedWithTheHostsKeyIsDetected() throws {
        let sink = try writeRounds(3)
        sink.stop()
        // fss1 START INTERVAL EPOCH KEY: three rounds of 2.3 s moved it three epochs on, and the first key is gone.
        let key = try String(contentsOfFile: dir.file("seal.key"), encoding: .utf8).split(separator: " ")
        let first = try String(contentsOfFile: dir.file("verify.key"), encoding: .utf8).split(separator: " ")
        #expect(key.count == 5 && first.count == 4)
        #expect((Int(key[3]) ?? 0) >= 3, "\(key)")
        #expect(key[4].prefix(64) != first[3].prefix(64))
        let clean = try verify()
        #expect(clean.status == 0 && clean.text.contains("OK (15 lines sealed"), "\(clean.text)")

        // The intruder, root at T: line 2 (of the first epoch) rewritten, the sidecar made again with the only key
        // left on the host (this epoch's).
        var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        lines[1] = Substring(lines[1].replacingOccurrences(of: " -- ", with: " SD "))
        let content = Array(lines.joined(separator: "\n").utf8)
        try FileManager.default.removeItem(atPath: log + ".seal")
        try FileManager.default.removeItem(atPath: log)
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0o640)
        let sealer = Sealer(logPath: log, key: try SealKey(file: dir.file("seal.key")))
        sealer.opened(logDescriptor: fd)
        _ = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        content.withUnsafeBytes { sealer.written($0) }
        sealer.close()
        close(fd)
        // Not vouched for: the new seals are from epoch T, the lines from long before (exit 3, every rewritten line
        // named); anchors, where they are sent, make it TAMPERED (SealAnchorTests).
        let forged = try verify()
        #expect(forged.status == 3, "\(forged.text)")
        // Line 2 and the others more than an epoch older than the forged seals (the last round's may be within it).
        #expect(forged.text.contains("lines 1–") && forged.text.contains(": first sealed in epoch"), "\(forged.text)")
        #expect(forged.text.contains("NOT VOUCHED FOR"), "\(forged.text)")
        #expect(forged.text.contains("sealed again later with a key the host still had"), "\(forged.text)")
    }

    @Test func aCrashMidEpochIsNotCoveredNeverTampered() throws {
        let sink = try writeRounds(2)
        sink.send(signal: SIGKILL)
        sink.stop()
        let after = try verify()
        #expect(after.status == 0 || after.status == 3, "\(after.text)")
        #expect(!after.text.contains("TAMPERED"), "\(after.text)")
        // The next run goes on with the key file as the killed one left it.
        let again = try writeRounds(1)
        again.stop()
        let resumed = try verify()
        #expect(resumed.status == 0 || resumed.status == 3, "\(resumed.text)")
        #expect(!resumed.text.contains("TAMPERED"), "\(resumed.text)")
    }
}
