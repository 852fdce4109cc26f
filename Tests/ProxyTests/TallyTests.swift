import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Proxy

/// The counters every session writes from its own event loop: what the stats page adds up must be every count
/// made on every loop, the open count and its peak exact at any moment, and a soft stop's wait must end with the
/// last close, whichever loop makes it.
@Suite("Counters written from every event loop")
struct TallyTests {
    @Test func countsFromManyLoopsAddUpExactly() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 4)
        let tally = ProxyRuntime.Tally()
        let perLoop = 5_000
        var futures: [EventLoopFuture<Void>] = []
        for loop in group.makeIterator() {
            futures.append(
                loop.submit {
                    for i in 0..<perLoop {
                        tally.opened(balanced: i % 2 == 0)
                        tally.update {
                            $0.bytesIn += 3
                            $0.requests += 1
                            $0.count(status: i % 5 == 0 ? 503 : 200)
                        }
                        tally.closed()
                    }
                })
        }
        for future in futures { try await future.get() }
        try await group.shutdownGracefully()
        let values = tally.snapshot
        let all = perLoop * 4
        #expect(values.open == 0 && values.total == all && values.balanced == all / 2)
        #expect(values.requests == all && values.bytesIn == Int64(all * 3))
        #expect(values.responses == [0, all * 4 / 5, 0, 0, all / 5, 0])
        #expect(values.max >= 1 && values.max <= 4, "at most one session per loop was open at a time")
        #expect(values.lastSession > 0)
    }

    @Test func theOpenCountAndItsPeakAreExact() {
        let tally = ProxyRuntime.Tally()
        for _ in 0..<3 { tally.opened() }
        tally.closed()
        tally.opened()
        #expect(tally.open == 3)
        tally.closed()
        tally.closed()
        #expect(tally.open == 1 && tally.snapshot.max == 3 && tally.total == 4)
    }

    @Test func aSoftStopsWaitEndsWithTheLastCloseOnAnyLoop() async throws {
        let tally = ProxyRuntime.Tally()
        await tally.untilIdle()  // nothing open: at once
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        for _ in 0..<50 { tally.opened() }
        let waiting = Task { await tally.untilIdle() }
        try await Task.sleep(for: .milliseconds(20))
        var closes: [EventLoopFuture<Void>] = []
        for _ in 0..<50 { closes.append(group.next().submit { tally.closed() }) }
        for close in closes { try await close.get() }
        await waiting.value
        try await group.shutdownGracefully()
        #expect(tally.open == 0)
    }
}
