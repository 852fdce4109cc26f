import NIOCore
import NIOPosix
import TCPPlane

/// A side of a connection whose written bytes wait for the end of its event loop's batch of events to be flushed.
protocol BatchFlushing: AnyObject {
    /// Set by `FlushBatch` while the flush is queued (one flush per batch however often it is asked for).
    var flushQueued: Bool { get set }
    /// Flushes the channel's writes (nothing if the channel is gone).
    func flushNow()
}

/// The flushes asked for while an event loop handles the I/O events of one wake-up, made together once all those
/// events are handled (NIO runs its queued tasks then, before it waits again).
///
/// Flushing each write at once wakes the peer for each: a server gets one request, wakes, answers, and sleeps
/// again before the next request of the same wake-up reaches it. Flushed together, the requests (and the
/// responses) of one wake-up reach their peers in one burst, which they read in one wake-up of their own; on a
/// loaded machine this saves about a fifth of the kernel's time per request (`bench/http-vs-haproxy.sh`). HAProxy
/// sends after its poll loop in the same way. The delay is the rest of the batch: microseconds.
///
/// One per event loop thread, touched only there (`current`), so it needs no lock.
final class FlushBatch: @unchecked Sendable {
    private var pending: [any BatchFlushing] = []
    /// Flushed after every other of the batch: the log lines (a `sendmmsg` of many datagrams holds back no client's
    /// answer, which keeps the latency's tail down).
    private var pendingLast: [any BatchFlushing] = []
    private var scheduled = false
    /// Runs the flushes once the loop's events of this wake-up are handled (NIO: a task queued behind them; the
    /// TCP data plane: its end-of-batch work).
    private let atBatchEnd: (@escaping () -> Void) -> Void

    private init(atBatchEnd: @escaping (@escaping () -> Void) -> Void) { self.atBatchEnd = atBatchEnd }

    private static let perThread = ThreadSpecificVariable<FlushBatch>()

    /// The batch of the calling thread, which must be `loop`'s.
    static func current(on loop: any EventLoop) -> FlushBatch {
        loop.preconditionInEventLoop()
        if let batch = perThread.currentValue { return batch }
        let batch = FlushBatch { body in loop.assumeIsolated().execute(body) }
        perThread.currentValue = batch
        return batch
    }

    /// The batch of the calling thread, which must be `loop`'s (a TCP data plane loop).
    static func current(on loop: PlaneLoop) -> FlushBatch {
        if let batch = perThread.currentValue { return batch }
        let batch = FlushBatch { body in loop.atBatchEnd(body) }
        perThread.currentValue = batch
        return batch
    }

    /// Queues `side`'s flush for the end of the batch (once, however often it is asked); `last`: after the others.
    func flush(_ side: any BatchFlushing, last: Bool = false) {
        guard !side.flushQueued else { return }
        side.flushQueued = true
        if last {
            pendingLast.append(side)
        } else {
            pending.append(side)
        }
        guard !scheduled else { return }
        scheduled = true
        atBatchEnd { [self] in run() }
    }

    private func run() {
        // A flush can queue others (a write that completes lets a reader go on): they are made in this run too.
        var index = 0
        var lastIndex = 0
        while index < pending.count || lastIndex < pendingLast.count {
            let side: any BatchFlushing
            if index < pending.count {
                side = pending[index]
                index += 1
            } else {
                side = pendingLast[lastIndex]
                lastIndex += 1
            }
            side.flushQueued = false
            side.flushNow()
        }
        pending.removeAll(keepingCapacity: true)
        pendingLast.removeAll(keepingCapacity: true)
        scheduled = false
    }
}
