import NIOCore
import NIOPosix
import Testing

@testable import Proxy

/// Flushes asked for during an event loop's batch are made after it, once per side however often they are asked.
@Suite("Flushes batched per event loop wake-up")
struct FlushBatchTests {
    final class Side: BatchFlushing {
        var flushQueued = false
        var flushes = 0
        var onFlush: () -> Void = {}
        func flushNow() {
            flushes += 1
            onFlush()
        }
    }

    @Test func flushesWaitForTheEndOfTheBatchAndHappenOnce() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let counts = try await loop.flatSubmit { () -> EventLoopFuture<[Int]> in
            let batch = FlushBatch.current(on: loop)
            let a = Side()
            let b = Side()
            let late = Side()
            // A flush can queue others (a write that frees room lets a reader go on): made in the same run, even a
            // side already flushed in it.
            b.onFlush = {
                batch.flush(late)
                batch.flush(a)
            }
            batch.flush(a)
            batch.flush(b)
            batch.flush(a)
            let during = [a, b, late].map(\.flushes)
            let same = batch === FlushBatch.current(on: loop) ? 1 : 0
            // Queued after the batch's run, so it sees what the run did.
            let promise = loop.makePromise(of: [Int].self)
            loop.assumeIsolated().execute {
                promise.succeed(
                    during + [a, b, late].map(\.flushes) + [a, b, late].map { $0.flushQueued ? 1 : 0 } + [same])
            }
            return promise.futureResult
        }.get()
        #expect(Array(counts[0..<3]) == [0, 0, 0], "nothing is flushed while the batch is handled")
        #expect(Array(counts[3..<6]) == [2, 1, 1], "a twice (asked again after its flush), b and late once")
        #expect(Array(counts[6..<9]) == [0, 0, 0], "nothing left queued")
        #expect(counts[9] == 1, "one batch per event loop thread")
    }

    @Test func sidesAskedLastAreFlushedAfterEveryOther() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let order = try await loop.flatSubmit { () -> EventLoopFuture<[String]> in
            let batch = FlushBatch.current(on: loop)
            var order: [String] = []
            let log = Side()
            let first = Side()
            let second = Side()
            let late = Side()
            log.onFlush = { order.append("log") }
            first.onFlush = {
                order.append("first")
                // Queued by a flush: still before the log.
                batch.flush(late)
            }
            second.onFlush = { order.append("second") }
            late.onFlush = { order.append("late") }
            batch.flush(log, last: true)
            batch.flush(first)
            batch.flush(log, last: true)
            batch.flush(second)
            let promise = loop.makePromise(of: [String].self)
            loop.assumeIsolated().execute { promise.succeed(order) }
            return promise.futureResult
        }.get()
        #expect(order == ["first", "second", "late", "log"], "the log lines leave after the answers, once")
    }
}
