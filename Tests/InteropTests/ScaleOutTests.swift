import Foundation
import TestSupport
import Testing

@testable import SyslogSink

/// Three syslog-sinks forward over TCP, with disk-assisted queues, to a real rsyslogd as the central collector.
/// The collector is stopped for 30 seconds while the numbered messages flow, and one sink is restarted in the
/// middle of the outage; when the collector is back every message reaches it, in order per sender. Plain TCP
/// syslog has no acknowledgement, so messages in the replay window may arrive twice: the test counts them.
@Suite("Scale-out: sinks forwarding to a real rsyslog collector", .serialized)
struct ScaleOutTests {
    static let perNode = 33_334
    static let nodes = ["node1", "node2", "node3"]

    static func line(node: Int, _ n: Int) -> [UInt8] {
        Array(
            ("<134>Nov 26 08:00:00 \(nodes[node]) haproxy[100\(node + 1)]: 10.0.0.\(node + 1):40000 "
                + "[26/Nov/2026:08:00:00.000] fe app/s\(node + 1) 0/0/1 \(n) -- 1/1/0/0/0 0/0\n").utf8)
    }

    /// The three ways a user writes the forward: legacy `@@(o)`, omfwd octet-counted, omfwd with LF framing.
    static func sinkConfig(node: Int, input: Int, collector: Int, relp: Bool = false) -> String {
        if relp {
            // omrelp: the collector answers every message; only the unanswered go again.
            return """
                global(workDirectory="/spool")
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(input)")
                module(load="omrelp")
                local0.* action(type="omrelp" target="127.0.0.1" port="\(collector)"
                    template="RSYSLOG_TraditionalForwardFormat"
                    queue.type="LinkedList" queue.size="2000" queue.filename="relp" queue.saveOnShutdown="on"
                    action.resumeRetryCount="-1" action.resumeInterval="1")

                """
        }
        switch node {
        case 0:
            return """
                $WorkDirectory /spool
                $ModLoad imtcp
                $InputTCPServerRun \(input)
                $ActionQueueType LinkedList
                $ActionQueueSize 2000
                $ActionQueueFileName fwd
                $ActionQueueSaveOnShutdown on
                $ActionResumeRetryCount -1
                $ActionResumeInterval 1
                local0.* @@(o)127.0.0.1:\(collector)

                """
        default:
            return """
                global(workDirectory="/spool")
                module(load="imtcp")
                input(type="imtcp" address="127.0.0.1" port="\(input)")
                local0.* action(type="omfwd" target="127.0.0.1" port="\(collector)" protocol="tcp"
                    \(node == 1 ? "TCP_Framing=\"octet-counted\"" : "")
                    queue.type="LinkedList" queue.size="2000" queue.filename="fwd" queue.saveOnShutdown="on"
                    action.resumeRetryCount="-1" action.resumeInterval="1")

                """
        }
    }

    /// Over plain TCP (`tcp`) the replay window may repeat what the collector had; over RELP nothing repeats.
    @Test(arguments: ["tcp", "relp"])
    func anOutageOfTheCollectorLosesNothing(transport: String) async throws {
        let relp = transport == "relp"
        let dir = try TemporaryDirectory(prefix: "scale-out-\(transport)")
        let rsyslogd = try Peers.find("rsyslogd")
        let sinkBinary = try Products.path("syslog-sink")
        let collectorPort = try Peers.freePort()
        let central = dir.file("central.log")
        try FileManager.default.createDirectory(atPath: dir.file("collector"), withIntermediateDirectories: true)
        try """
        global(workDirectory="\(dir.file("collector"))")
        module(load="\(relp ? "imrelp" : "imtcp")")
        input(type="\(relp ? "imrelp" : "imtcp")" address="127.0.0.1" port="\(collectorPort)")
        *.* action(type="omfile" file="\(central)" template="RSYSLOG_TraditionalFileFormat")

        """.write(toFile: dir.file("collector.conf"), atomically: true, encoding: .utf8)
        func startCollector(_ run: Int) throws -> RunningPeer {
            let peer = try RunningPeer(
                rsyslogd, ["-n", "-f", dir.file("collector.conf"), "-i", dir.file("collector.pid")],
                logPath: dir.file("collector-\(run).out"))
            #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: collectorPort) }, "\(peer.output)")
            return peer
        }
        var collector = try startCollector(1)
        defer { collector.stop() }

        var inputs: [Int] = []
        while inputs.count < 3 {
            let p = try Peers.freePort()
            if p != collectorPort && !inputs.contains(p) { inputs.append(p) }
        }
        func startSink(_ node: Int, _ run: Int) throws -> RunningPeer {
            let conf = dir.file("sink\(node + 1).conf")
            try Self.sinkConfig(node: node, input: inputs[node], collector: collectorPort, relp: relp)
                .write(toFile: conf, atomically: true, encoding: .utf8)
            let peer = try RunningPeer(
                sinkBinary, ["-n", "-f", conf, "--root", dir.file(Self.nodes[node])],
                logPath: dir.file("sink\(node + 1)-\(run).out"))
            #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: inputs[node]) }, "\(peer.output)")
            return peer
        }
        var sinks = try (0..<3).map { try startSink($0, 1) }
        defer { for s in sinks { s.stop() } }
        var connections = try inputs.map { try Peers.connectLoopback(port: $0, timeoutSeconds: 5) }
        defer { for fd in connections { close(fd) } }

        // 40 seconds of traffic, paced; the collector is down from 5 s to 35 s; node2's sink restarts at 20 s.
        let start = Date()
        var sent = [0, 0, 0]
        var collectorDown = false
        var collectorBack = false
        var restarted = false
        while sent.contains(where: { $0 < Self.perNode }) {
            let elapsed = Date().timeIntervalSince(start)
            let due = min(Self.perNode, Int(Double(Self.perNode) * min(1, elapsed / 40)) + 1)
            for node in 0..<3 where sent[node] < due {
                var chunk: [UInt8] = []
                for n in (sent[node] + 1)...due { chunk += Self.line(node: node, n) }
                try Self.write(connections[node], chunk)
                sent[node] = due
            }
            if elapsed >= 5 && !collectorDown {
                collector.stop()
                collectorDown = true
            }
            if elapsed >= 20 && !restarted {
                // What node2's sink has taken in is processed before it stops; it saves its queue and the next run
                // sends it.
                close(connections[1])
                let taken = sent[1]
                let sink = sinks[1]
                let processed = try await blocking {
                    Peers.waitUntil(seconds: 30) {
                        sink.send(signal: SIGUSR1)
                        usleep(200_000)
                        return Self.received(in: sink.output) >= taken
                    }
                }
                #expect(processed, "node2's sink did not take in its \(taken) messages: \(sink.output)")
                sinks[1].stop()
                #expect(
                    sink.output.contains("syslog-sink: stopping:"),
                    "node2's sink stopped in time (not killed): \(sink.output)")
                sinks[1] = try startSink(1, 2)
                connections[1] = try Peers.connectLoopback(port: inputs[1], timeoutSeconds: 5)
                restarted = true
            }
            if elapsed >= 35 && !collectorBack {
                collector = try startCollector(2)
                collectorBack = true
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        if !collectorBack { collector = try startCollector(2) }

        // Everything arrives once the queues drain.
        @Sendable func received() -> [String: [Int]] {
            var byHost: [String: [Int]] = [:]
            let text = (try? String(contentsOfFile: central, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.contains(" haproxy[") {
                let f = line.split(separator: " ")
                guard f.count > 10, let n = Int(f[10]) else { continue }
                byHost[String(f[3]), default: []].append(n)
            }
            return byHost
        }
        let complete = try await blocking {
            Peers.waitUntil(seconds: 90) {
                let r = received()
                return Self.nodes.allSatisfy { Set(r[$0] ?? []).count == Self.perNode }
            }
        }
        let byHost = received()
        var repeats: [String: Int] = [:]
        for host in Self.nodes {
            let got = byHost[host] ?? []
            var seen = Set<Int>()
            var firsts: [Int] = []
            for n in got where seen.insert(n).inserted { firsts.append(n) }
            let missing = Set(1...Self.perNode).subtracting(seen)
            let logs = (1...2).map { run in
                (try? String(
                    contentsOfFile: dir.file("\(host.replacingOccurrences(of: "node", with: "sink"))-\(run).out"),
                    encoding: .utf8)) ?? ""
            }
            #expect(
                missing.isEmpty,
                "\(host): \(missing.count) lost, from \(missing.min() ?? 0) to \(missing.max() ?? 0); its sink said: \(logs)"
            )
            #expect(firsts == Array(1...Self.perNode) || !missing.isEmpty, "\(host): out of order")
            repeats[host] = got.count - firsts.count
        }
        #expect(complete, "not everything arrived: \(byHost.mapValues { Set($0).count })")
        if relp { #expect(repeats.values.allSatisfy { $0 == 0 }, "RELP repeats nothing: \(repeats)") }
        print(
            "scale-out over \(transport): \(Self.perNode * 3) messages, repeats by sender: \(repeats.sorted { $0.key < $1.key })"
        )

        // Many proxies, one query: the collected file, one host at a time.
        let logquery = try Products.path("logquery")
        let result = try Peers.run(logquery, ["servers", "--host", "node2", "--format", "csv", central])
        let csv = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.status == 0, "\(String(decoding: result.stderr, as: UTF8.self))")
        let rows = csv.split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(rows.map { String($0[0]) } == ["app/s2"], "only node2's server: \(csv)")
        #expect(rows.first.map { Int($0[2]) } == Self.perNode + (repeats["node2"] ?? 0), "its sessions: \(csv)")
        // One row per proxy.
        let hosts = try Peers.run(logquery, ["hosts", "--format", "csv", central])
        let hostRows = String(decoding: hosts.stdout, as: UTF8.self).split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(hostRows.map { String($0[0]) } == Self.nodes, "\(hostRows)")
        #expect(hostRows.allSatisfy { (Int($0[2]) ?? 0) >= Self.perNode }, "\(hostRows)")
        for s in sinks { s.stop() }
        for s in sinks {
            #expect(!s.output.contains("lost"), "\(s.output)")
        }
    }

    /// The examples in conf/scale-out read without a warning here and pass rsyslogd's own check (`-N1`).
    @Test func theExampleConfigurationsAreValidForBoth() throws {
        let rsyslogd = try Peers.find("rsyslogd")
        for name in ["node-forward.conf", "collector.conf"] {
            let path = Products.packageRoot + "/conf/scale-out/" + name
            let c = try RsyslogConfigParser.parse(file: path)
            #expect(c.warnings.isEmpty, "\(name): \(c.warnings)")
            let check = try Peers.run(rsyslogd, ["-N1", "-f", path])
            let said = String(decoding: check.stdout + check.stderr, as: UTF8.self)
            #expect(check.status == 0 && !said.contains("error"), "\(name): \(said)")
            if name == "node-forward.conf" {
                guard case .forward(_, 514, true, true, _, let q, _) = c.rules.first?.actions.first else {
                    Issue.record("\(c.rules)")
                    continue
                }
                #expect(q.fileName == "fwd_central" && q.resumeRetryCount == -1 && q.saveOnShutdown)
                #expect(q.maxDiskSpace == 2 << 30 && q.workDirectory == "/var/spool/rsyslog")
            }
        }
    }

    /// The last `received=` count of an imtcp input in a sink's SIGUSR1 statistics.
    static func received(in output: String) -> Int {
        var last = 0
        for line in output.split(separator: "\n") where line.contains("imtcp(") {
            guard let r = line.range(of: "received=") else { continue }
            last = Int(line[r.upperBound...].prefix { $0.isNumber }) ?? last
        }
        return last
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                Foundation.write(fd, $0.baseAddress?.advanced(by: done), bytes.count - done)
            }
            guard n > 0 else { throw PeerFailed(description: "write: errno \(errno)") }
            done += n
        }
    }
}
