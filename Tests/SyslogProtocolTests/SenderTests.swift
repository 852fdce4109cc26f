import LogCore
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import SyslogProtocol

@Suite("Sending syslog over real sockets")
struct SenderTests {
    @Test func udpToALoopbackReceiver() async throws {
        let receiver = try await LoopbackUDPReceiver()
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: receiver.port))
        let header = HAProxySyslogHeader(facility: .local0, pid: 42)
        let datagram = header.datagram("hello over udp", severity: .informational, time: CivilTime.now())
        sender.send(datagram)
        let got = try await withTimeout(seconds: 10, "udp datagram") { await receiver.next() }
        #expect(got == datagram)
        #expect(sender.currentCounters.sent == 1)
        sender.close()
        sender.send(datagram)
        #expect(sender.currentCounters.failed == 1, "a send after close is counted, not thrown")
        try await receiver.close()
    }

    @Test func udpBatchesLeaveAsTheSameDatagramsInOrder() async throws {
        let receiver = try await LoopbackUDPReceiver()
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: receiver.port))
        // A short `len`, so that some lines are cut: each datagram is cut from its own start.
        let header = HAProxySyslogHeader(facility: .local0, pid: 42, maxLength: 100)
        let time = CivilTime.now()
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        var expected: [[UInt8]] = []
        // More than one `sendmmsg` takes (64).
        for i in 0..<150 {
            let text = "line \(i) " + String(repeating: "x", count: i) + "\n"
            let start = bytes.count
            header.append(severity: .informational, time: time, to: &bytes) { $0.append(contentsOf: text.utf8) }
            ranges.append(start..<bytes.count)
            expected.append(header.datagram(text, severity: .informational, time: time))
        }
        #expect(expected.contains { $0.count == 101 } && expected.contains { $0.count < 100 })
        sender.send(bytes, messages: ranges)
        var got: [[UInt8]] = []
        for _ in 0..<150 {
            got.append(try await withTimeout(seconds: 10, "batched datagram") { await receiver.next() } ?? [])
        }
        #expect(got == expected)
        #expect(sender.currentCounters.sent == 150)
        sender.close()
        sender.send(bytes, messages: ranges)
        #expect(sender.currentCounters.failed == 150, "each datagram of a batch that cannot leave is counted")
        try await receiver.close()
    }

    @Test func unixDatagramLikeDevLog() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("log.sock")
        let sender = try SyslogSender(target: .unixDatagram(path: path))
        // No receiver yet: counted as failed, never thrown.
        sender.send(Array("<13>nobody listens".utf8))
        #expect(sender.currentCounters.failed == 1)
        #expect(sender.currentCounters.sent == 0)
        do {
            let receiver = try UnixDatagramReceiver(path: path)
            sender.send(Array("<13>first".utf8))
            #expect(receiver.receive() == Array("<13>first".utf8))
        }
        // The receiver restarts (a new socket file at the same path): the sender reaches it again.
        let again = try UnixDatagramReceiver(path: path)
        sender.send(Array("<13>second".utf8))
        #expect(again.receive() == Array("<13>second".utf8))
        #expect(sender.currentCounters.sent == 2)
    }

    @Test func tcpOctetCounted() async throws {
        let receiver = try await LoopbackTCPReceiver()
        let sender = try SyslogSender(target: .tcp(host: "127.0.0.1", port: receiver.port))
        // Until connected, messages are dropped and counted; wait for the connection, then send.
        let messages = (1...50).map { "<134>Nov 26 08:51:02 haproxy[1]: message \($0)" }
        // Counted in attempts, not wall time: when parallel tests hold the cooperative pool, this loop may not run
        // for a while, and that must not use up its chances.
        var attempts = 0
        while sender.currentCounters.sent == 0 && attempts < 1500 {
            sender.send(Array("<134>probe".utf8))
            try await Task.sleep(for: .milliseconds(20))
            attempts += 1
        }
        let probes = sender.currentCounters.sent
        #expect(probes == 1)
        for m in messages { sender.send(Array(m.utf8)) }
        let expected = (["<134>probe"] + messages).map {
            SyslogFrameEncoder.frame(Array($0.utf8), framing: .octetCounting)
        }
        .flatMap { $0 }
        let received = try await withTimeout(seconds: 60, "tcp bytes") { await receiver.read(count: expected.count) }
        #expect(received == expected)
        #expect(sender.currentCounters.sent == 51)
        sender.close()
        try await receiver.close()
    }

    @Test func udpToAClosedPortIsFireAndForget() throws {
        // Nobody listens on this port: like HAProxy, the datagram is handed to the kernel and lost silently.
        let sender = try SyslogSender(target: .udp(host: "127.0.0.1", port: 9))
        for _ in 0..<3 { sender.send(Array("<13>lost".utf8)) }
        let c = sender.currentCounters
        #expect(c.sent + c.failed == 3)
        #expect(c.dropped == 0)
    }
}
