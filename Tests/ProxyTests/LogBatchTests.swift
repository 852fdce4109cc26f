import LogCore
import NIOCore
import NIOPosix
import SyslogProtocol
import TestSupport
import Testing

@testable import Proxy

/// Log lines written on an event loop leave when its batch of events ends, each its own datagram, the same bytes as
/// when sent one by one, to every target; elsewhere they leave at once.
@Suite("Log lines batched per event loop wake-up")
struct LogBatchTests {
    @Test func linesWrittenOnAnEventLoopLeaveAfterTheBatchToEachTarget() async throws {
        let first = try await LoopbackUDPReceiver()
        let second = try await LoopbackUDPReceiver()
        func target(_ port: Int) -> LogTarget {
            LogTarget(
                address: .udp(host: "127.0.0.1", port: port), maxLength: 1024, format: nil, facility: .local0,
                maxLevel: .debug, minLevel: .emergency)
        }
        let emitter = try LogEmitter(targets: [target(first.port), target(second.port)], global: GlobalSettings())
        // Two datagrams a line: 40 lines fill a batch (64 datagrams), which leaves at once; the rest after the batch.
        let count = 40
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let sentDuringBatch = try await loop.submit { () -> Int in
            #expect(LogBatch.current != nil)
            for i in 0..<count { emitter.send("line \(i)", severity: .informational) }
            return emitter.targets.map { ($0.sender?.currentCounters.sent ?? -1) }.reduce(0, +)
        }.get()
        // A full batch (64) leaves before the batch of events ends, the rest after it. On a loaded machine the kernel
        // may take fewer at once (a send that would wait is not retried on the loop): some, never all 80.
        #expect(
            (1...64).contains(sentDuringBatch),
            "a full batch left before the batch of events ended, the rest after it (\(sentDuringBatch))")
        for receiver in [first, second] {
            var lines: [String] = []
            for _ in 0..<count {
                let datagram = try await withTimeout(seconds: 10, "batched line") { await receiver.next() } ?? []
                let text = String(decoding: datagram, as: UTF8.self)
                #expect(text.hasPrefix("<134>") && text.hasSuffix("\n"))
                if let colon = text.range(of: "]: ") { lines.append(String(text[colon.upperBound...].dropLast())) }
            }
            #expect(lines == (0..<count).map { "line \($0)" })
        }
        #expect(emitter.targets.allSatisfy { ($0.sender?.currentCounters.sent ?? -1) == count })
        // Off the event loops (a health check's task, the start-up lines): at once.
        #expect(LogBatch.current == nil)
        emitter.send("at once", severity: .notice)
        #expect(emitter.targets.allSatisfy { ($0.sender?.currentCounters.sent ?? -1) == count + 1 })
        try await first.close()
        try await second.close()
    }

    /// A header stamped to the second is made once per second, severity and target: lines that alternate between
    /// targets (one `local`, one `rfc3164`), severities and seconds are still, byte for byte, the datagrams each
    /// target makes for them alone.
    @Test func headersMadeOncePerSecondAreTheHeadersOfEachLine() async throws {
        let first = try await LoopbackUDPReceiver()
        let second = try await LoopbackUDPReceiver()
        let emitter = try LogEmitter(
            targets: [
                LogTarget(
                    address: .udp(host: "127.0.0.1", port: first.port), maxLength: 1024, format: nil,
                    facility: .local0, maxLevel: .debug, minLevel: .emergency),
                LogTarget(
                    address: .udp(host: "127.0.0.1", port: second.port), maxLength: 1024, format: .rfc3164,
                    facility: .local3, maxLevel: .debug, minLevel: .emergency),
            ], global: GlobalSettings())
        let base = Int64(1_795_000_000) * 1_000_000
        var made: [(target: Int, severity: Severity, time: CivilTime)] = []
        for i in 0..<24 {
            let severity: Severity = i % 3 == 0 ? .error : .informational
            // Four lines a second, a millisecond apart.
            let micros: Int64 = base + Int64(i / 4) * 1_000_000 + Int64(i) * 1000
            made.append((i % 2, severity, CivilTime(epochMicroseconds: micros, utcOffsetSeconds: 3600)))
        }
        let lines = made
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await loop.submit {
            let batch = try #require(LogBatch.current)
            for (i, line) in lines.enumerated() {
                let target = emitter.targets[line.target]
                batch.add(target, sender: try #require(target.sender), severity: line.severity, time: line.time) {
                    $0.append(contentsOf: "line \(i)".utf8)
                }
            }
        }.get()
        for (index, receiver) in [first, second].enumerated() {
            for (i, line) in lines.enumerated() where line.target == index {
                let datagram = try await withTimeout(seconds: 10, "line \(i)") { await receiver.next() } ?? []
                let alone = emitter.targets[index].header.datagram(
                    "line \(i)", severity: line.severity, time: line.time)
                #expect(datagram == alone, "\(String(decoding: datagram, as: UTF8.self))")
            }
        }
        try await first.close()
        try await second.close()
    }
}
