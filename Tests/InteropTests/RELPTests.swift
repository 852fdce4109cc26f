import Foundation
import Glibc
import SyslogProtocol
import TestSupport
import Testing

/// RELP against Debian's rsyslogd with librelp 1.11 (imrelp, omrelp), plain and over TLS: rsyslogd's omrelp sends to
/// the sink and to rsyslogd's imrelp at once and both file the same bytes; the sink's omrelp delivers to rsyslogd's
/// imrelp through a collector restart with nothing lost and nothing twice; a peer that breaks the protocol is
/// dropped and counted.
@Suite("RELP beside real rsyslogd", .serialized)
struct RELPTests {
    typealias Setup = TLSSyslogTests.Setup

    static func relpListener(_ s: Setup, port: Int, file: String, tls: Bool, template: String = "RSYSLOG_FileFormat")
        -> String
    {
        """
        global(workDirectory="\(s.dir.file("work"))")
        module(load="imrelp")
        input(type="imrelp" address="127.0.0.1" port="\(port)" \(tls ? """
            tls="on" tls.caCert="\(s.certs.caFile)" tls.myCert="\(s.collector.certificate)"
                  tls.myPrivKey="\(s.collector.key)" tls.authMode="name" tls.permittedPeer=["*.example.net"]
            """ : ""))
        *.* action(type="omfile" file="\(file)" template="\(template)")

        """
    }

    static func relpAction(_ s: Setup, port: Int, tls: Bool) -> String {
        """
        *.* action(type="omrelp" target="127.0.0.1" port="\(port)" action.resumeInterval="1"
                   action.resumeRetryCount="-1" queue.type="LinkedList" queue.size="100000" \(tls ? """
            tls="on" tls.caCert="\(s.certs.caFile)" tls.myCert="\(s.client.certificate)"
                   tls.myPrivKey="\(s.client.key)" tls.authMode="name" tls.permittedPeer=["logs.example.net"]
            """ : ""))
        """
    }

    @Test(arguments: [false, true])
    func rsyslogdsOmrelpReachesTheSinkAsItReachesImrelp(tls: Bool) throws {
        let s = try Setup("relp-in-\(tls)")
        let theirPort = try Peers.freePort()
        var ourPort = try Peers.freePort()
        while ourPort == theirPort { ourPort = try Peers.freePort() }
        let input = try Peers.freePort(udp: true)
        let theirs = try s.rsyslogd(Self.relpListener(s, port: theirPort, file: s.dir.file("theirs.log"), tls: tls), "theirs")
        defer { theirs.stop() }
        let ours = try s.sink(Self.relpListener(s, port: ourPort, file: s.dir.file("ours.log"), tls: tls), "ours")
        defer { ours.stop() }
        #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: theirPort) && Peers.isListening(port: ourPort) })
        let client = try s.rsyslogd(
            """
            global(workDirectory="\(s.dir.file("work"))")
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(input)")
            module(load="omrelp")
            \(Self.relpAction(s, port: theirPort, tls: tls))
            \(Self.relpAction(s, port: ourPort, tls: tls))

            """, "client")
        defer { client.stop() }
        let up = try TLSSyslogTests.send(to: input) {
            TLSSyslogTests.lines(s.dir.file("ours.log")).contains { $0.contains("probe: ready") }
                && TLSSyslogTests.lines(s.dir.file("theirs.log")).contains { $0.contains("probe: ready") }
        }
        try #require(up, "\(ours.output)\n\(theirs.output)\n\(client.output)")
        for file in ["ours.log", "theirs.log"] {
            #expect(Peers.waitUntil(seconds: 10) { TLSSyslogTests.lines(s.dir.file(file)).last?.hasSuffix("end") ?? false })
        }
        func fromFirst(_ lines: [String]) -> [String] { Array(lines.drop { !$0.contains("lb1 haproxy") }) }
        let mine = fromFirst(TLSSyslogTests.lines(s.dir.file("ours.log")))
        #expect(mine.count == TLSSyslogTests.messages.count, "\(mine)")
        #expect(mine == fromFirst(TLSSyslogTests.lines(s.dir.file("theirs.log"))))
    }

    /// The sink's omrelp to rsyslogd's imrelp while the collector is stopped and started again twice: every numbered
    /// message arrives exactly once, in order (RELP's answers say what the collector has; only the unanswered go
    /// again).
    @Test(arguments: [false, true])
    func theSinksOmrelpLosesNothingAndRepeatsNothingThroughRestarts(tls: Bool) throws {
        let s = try Setup("relp-out-\(tls)")
        let port = try Peers.freePort()
        let input = try Peers.freePort(udp: true)
        let central = s.dir.file("central.log")
        let config = Self.relpListener(s, port: port, file: central, tls: tls, template: "RSYSLOG_TraditionalFileFormat")
        var collector = try s.rsyslogd(config, "central")
        #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: port) }, "\(collector.output)")
        let ours = try s.sink(
            """
            module(load="imudp")
            input(type="imudp" address="127.0.0.1" port="\(input)")
            module(load="omrelp")
            \(Self.relpAction(s, port: port, tls: tls))

            """, "ours")
        defer { ours.stop() }
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: input))
        defer { sender.close() }
        usleep(500_000)
        var n = 0
        func sendNext(_ count: Int) {
            for _ in 0..<count {
                n += 1
                sender.send(Array("<134>Dec  6 08:00:00 edge app: msgnum:\(n):".utf8))
            }
            usleep(20_000)
        }
        for phase in 0..<3 {
            for _ in 0..<10 { sendNext(100) }
            guard phase < 2 else { break }
            collector.stop()
            for _ in 0..<3 { sendNext(100) }
            usleep(1_000_000)
            collector = try s.rsyslogd(config, "central")
            #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: port) })
        }
        let total = n
        defer { collector.stop() }
        func numbers() -> [Int] {
            TLSSyslogTests.lines(central).compactMap { line in
                line.split(separator: "msgnum:").last.flatMap { Int($0.prefix { $0.isNumber }) }
            }
        }
        #expect(Peers.waitUntil(seconds: 30) { Set(numbers()).count >= total }, "\(ours.output)")
        usleep(500_000)
        let got = numbers()
        #expect(Set(got) == Set(1...total), "every message, \(Set(1...total).subtracting(got).count) missing")
        #expect(got.count == total, "none twice: \(got.count) lines for \(total) sent")
        #expect(got == got.sorted(), "in order")
        #expect(ours.output.contains("suspended"), "the collector was away: \(ours.output)")
    }

    /// A peer that breaks the protocol (no open, a number out of turn, garbage) is answered as librelp answers it,
    /// its session dropped and counted; the sink goes on serving the next one.
    @Test func aPeerThatBreaksTheProtocolIsDroppedAndCounted() throws {
        let s = try Setup("relp-bad")
        let port = try Peers.freePort()
        let ours = try s.sink(Self.relpListener(s, port: port, file: s.dir.file("ours.log"), tls: false), "ours")
        defer { ours.stop() }
        #expect(Peers.waitUntil(seconds: 15) { Peers.isListening(port: port) }, "\(ours.output)")
        func exchange(_ text: String) throws -> String {
            String(decoding: try Peers.exchange(port: port, Array(text.utf8), halfClose: true), as: UTF8.self)
        }
        #expect(try exchange("1 syslog 5 <13>x\n") == "1 rsp 20 500 command disabled\n")
        #expect(try exchange("1 open 15 commands=syslog\n3 syslog 5 <13>x\n").hasSuffix("0 serverclose 0\n"))
        #expect(try exchange("garbage\n") == "0 serverclose 0\n")
        let good = try exchange(
            "1 open 15 commands=syslog\n2 syslog 18 <13>Dec  6 app: ok\n3 close 0\n")
        #expect(good.hasPrefix("1 rsp "), "\(good)")
        #expect(good.hasSuffix("2 rsp 6 200 OK\n3 rsp 0\n0 serverclose 0\n"), "\(good)")
        #expect(Peers.waitUntil(seconds: 5) { TLSSyslogTests.lines(s.dir.file("ours.log")).contains { $0.hasSuffix("app: ok") } })
        #expect(ours.output.contains("RELP peer 127.0.0.1: transaction number 3 where 2 was due; session dropped"), "\(ours.output)")
    }
}
