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
            return emitter.targets.map { $0.sender.currentCounters.sent }.reduce(0, +)
        }.get()
        #expect(sentDuringBatch == 64, "a full batch left before the batch of events ended, the rest after it")
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
        #expect(emitter.targets.allSatisfy { $0.sender.currentCounters.sent == count })
        // Off the event loops (a health check's task, the start-up lines): at once.
        #expect(LogBatch.current == nil)
        emitter.send("at once", severity: .notice)
        #expect(emitter.targets.allSatisfy { $0.sender.currentCounters.sent == count + 1 })
        try await first.close()
        try await second.close()
    }
}
