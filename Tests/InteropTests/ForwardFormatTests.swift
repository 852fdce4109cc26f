import Foundation
import SyslogProtocol
import TestSupport
import Testing

/// Debian's rsyslogd and syslog-sink relay the same datagrams with the same forward actions (`@@` with LF
/// framing, `@@(o)` octet-counted, omfwd with a template that ends in LF): the bytes each collector receives must
/// be the same.
@Suite("Forwarding beside real rsyslog", .serialized)
struct ForwardFormatTests {
    static let messages: [String] = [
        "<134>Nov 26 08:51:08 lb1 haproxy[6553]: 127.0.0.1:5 [26/Nov/2026:08:51:08.248] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0",
        "<134>1 2026-11-26T08:51:02.452387+00:00 lb2 haproxy 6296 - - 127.0.0.1:1 [26/Nov/2026:08:51:02.451] fe be/s 0/0/1 5 -- 1/1/0/0/0 0/0",
        "<142>Aug 22 11:31:11 h1 averyveryveryveryverylongtagname_beyond32: fwd local1",
        "<13>Aug  2 11:31:11 host4 tag:nospace",
        "<13>Jan  1 00:00:00 host1 app: a\tb\u{01}c",
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    ]

    static func config(input: Int, collectors: [Int]) -> String {
        """
        module(load="imudp")
        input(type="imudp" address="127.0.0.1" port="\(input)")
        *.* @@127.0.0.1:\(collectors[0])
        *.* @@(o)127.0.0.1:\(collectors[1]);RSYSLOG_ForwardFormat
        *.* action(type="omfwd" target="127.0.0.1" port="\(collectors[2])" protocol="tcp"
            template="RSYSLOG_SyslogProtocol23Format")

        """
    }

    @Test func theCollectorsReceiveTheSameBytes() async throws {
        let dir = try TemporaryDirectory(prefix: "forward-format")
        let rsyslogd = try Peers.find("rsyslogd")
        let theirCollectors = try (0..<3).map { _ in try LineCollector() }
        let ourCollectors = try (0..<3).map { _ in try LineCollector() }
        let theirInput = try Peers.freePort(udp: true)
        var ourInput = try Peers.freePort(udp: true)
        while ourInput == theirInput { ourInput = try Peers.freePort(udp: true) }
        try Self.config(input: theirInput, collectors: theirCollectors.map(\.port))
            .write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        try Self.config(input: ourInput, collectors: ourCollectors.map(\.port))
            .write(toFile: dir.file("sink.conf"), atomically: true, encoding: .utf8)
        let theirs = try RunningPeer(
            rsyslogd, ["-n", "-f", dir.file("rsyslog.conf"), "-i", dir.file("rsyslogd.pid")],
            logPath: dir.file("rsyslogd.out"))
        defer { theirs.stop() }
        let ours = try RunningPeer(
            try Products.path("syslog-sink"), ["-n", "-f", dir.file("sink.conf")], logPath: dir.file("sink.out"))
        defer { ours.stop() }

        for (port, collectors) in [(theirInput, theirCollectors), (ourInput, ourCollectors)] {
            let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: port))
            defer { sender.close() }
            // A probe until the first collector has it (the daemon is listening), then the messages.
            let up = Peers.waitUntil(seconds: 15) {
                sender.send(Array("<13>Nov 26 08:00:00 probe: ready".utf8))
                usleep(100_000)
                return collectors[0].lines.contains { $0.contains("probe: ready") }
            }
            try #require(up, "\(theirs.output) \(ours.output)")
            for collector in collectors {
                #expect(Peers.waitUntil(seconds: 10) { !collector.bytes.isEmpty })
            }
            usleep(300_000)
            for m in Self.messages {
                sender.send(Array(m.utf8))
                usleep(20_000)
            }
        }
        for c in ourCollectors + theirCollectors {
            #expect(Peers.waitUntil(seconds: 10) { String(decoding: c.bytes, as: UTF8.self).contains("do-nuts") })
        }
        usleep(300_000)
        for (i, (mine, their)) in zip(ourCollectors, theirCollectors).enumerated() {
            #expect(Self.fromFirstMessage(mine.bytes) == Self.fromFirstMessage(their.bytes), "collector \(i)")
            #expect(Self.fromFirstMessage(mine.bytes).contains("do-nuts"), "collector \(i)")
        }
        for c in theirCollectors + ourCollectors { c.stop() }
    }

    /// The stream from the frame of the first message on (the probes before it may differ in number): back from
    /// its host to its `<PRI>`, and over an octet count before that.
    static func fromFirstMessage(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let host = text.range(of: " lb1 "), var start = text[..<host.lowerBound].lastIndex(of: "<") else {
            return text
        }
        var before = start
        if before > text.startIndex {
            before = text.index(before: before)
            if text[before] == " " {
                var digits = before
                while digits > text.startIndex, text[text.index(before: digits)].isNumber {
                    digits = text.index(before: digits)
                }
                if digits < before { start = digits }
            }
        }
        return String(text[start...])
    }
}
