import Foundation
import LogCore
import Synchronization
import Testing

/// The sink's worker threads' one shape (journald, the seal): order, batches, the bound, drain and stop.
@Suite("A worker thread behind a queue")
struct WorkerQueueTests {
    final class Seen: Sendable {
        let items = Mutex<[Int]>([])
        let batches = Mutex(0)
    }

    @Test func everythingSubmittedIsProcessedInOrderAndDrainWaitsForTheLastBatch() {
        let seen = Seen()
        let queue = WorkerQueue<Int>(name: "test", limit: 1_000_000) { batch in
            usleep(2_000)  // the last batch is still being processed when the queue is already empty
            seen.items.withLock { $0 += batch }
            seen.batches.withLock { $0 += 1 }
        }
        for i in 0..<10_000 { #expect(queue.submit(i)) }
        #expect(queue.drain(timeout: .seconds(10)))
        #expect(seen.items.withLock { $0 } == Array(0..<10_000), "all of them, in order, when drain returns")
        #expect(seen.batches.withLock { $0 } < 10_000, "taken in batches")
        queue.stop()
        #expect(!queue.isRunning)
    }

    @Test func aFullQueueDropsOrWaits() {
        let gate = Mutex(false)
        let seen = Seen()
        let queue = WorkerQueue<Int>(name: "test", limit: 3) { batch in
            while !gate.withLock({ $0 }) { usleep(1_000) }
            seen.items.withLock { $0 += batch }
        }
        // The thread takes the first and holds it (in flight, it still counts); two more fill the queue; the
        // fourth is dropped.
        #expect(queue.submit(0))
        usleep(50_000)
        #expect(queue.submit(1))
        #expect(queue.submit(2))
        #expect(!queue.submit(4), "dropped at the limit")
        let waiter = Thread { queue.submit(5, whenFull: .wait) }
        waiter.start()
        usleep(50_000)
        gate.withLock { $0 = true }
        #expect(queue.drain(timeout: .seconds(5)))
        usleep(50_000)
        #expect(queue.drain(timeout: .seconds(5)))
        #expect(seen.items.withLock { $0 } == [0, 1, 2, 5], "the waiting one got in once there was room")
        queue.stop()
    }

    @Test func drainGivesUpAtItsTimeout() {
        let queue = WorkerQueue<Int>(name: "test", limit: 10) { _ in usleep(300_000) }
        queue.submit(1)
        #expect(!queue.drain(timeout: .milliseconds(50)))
        #expect(queue.drain(timeout: .seconds(5)))
        queue.stop()
    }

    @Test func aStoppedQueueStartsAgainOnTheNextSubmit() {
        let seen = Seen()
        let queue = WorkerQueue<Int>(name: "test", limit: 10) { batch in seen.items.withLock { $0 += batch } }
        queue.submit(1)
        queue.stop()
        #expect(!queue.isRunning)
        queue.submit(2)
        #expect(queue.isRunning)
        queue.stop()
        #expect(seen.items.withLock { $0 } == [1, 2])
    }
}
