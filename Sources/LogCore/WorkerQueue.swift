import Foundation

/// A thread of its own behind a queue, for work that blocks or is heavy (journald's socket, a seal's hashing):
/// producers hand items over and go on, and the thread takes whatever has queued as one batch, in order.
///
/// A bound keeps memory in check: past `limit` (counted in `cost` units, entries by default, or bytes) `submit`
/// drops the item and answers false, or waits for room, as the caller asks. `drain` waits until everything handed
/// over has been processed (not merely taken off the queue); `stop` drains and ends the thread, and a later
/// `submit` starts another. The queue's lock also guards what the caller shares with its thread (`withLock`).
public final class WorkerQueue<Item>: @unchecked Sendable {
    /// What `submit` does when the queue is at its limit.
    public enum WhenFull: Sendable {
        case drop
        case wait
    }

    private let condition = NSCondition()
    private var items: [Item] = []
    private var queuedCost = 0
    /// The thread is processing a batch it took.
    private var busy = false
    private var running = false
    /// Which thread is the current one: an older one leaves at its next wake-up.
    private var generation = 0
    private let name: String
    private let limit: Int
    private let cost: (Item) -> Int
    private let process: ([Item]) -> Void

    /// `process` runs on the thread, with each batch in the order the items were submitted.
    public init(
        name: String, limit: Int, cost: @escaping (Item) -> Int = { _ in 1 }, process: @escaping ([Item]) -> Void
    ) {
        self.name = name
        self.limit = limit
        self.cost = cost
        self.process = process
    }

    deinit { stop() }

    /// Hands `item` to the thread (starting it if needed); false when the queue was full and `whenFull` is
    /// `.drop`.
    @discardableResult
    public func submit(_ item: Item, whenFull: WhenFull = .drop) -> Bool {
        let itemCost = cost(item)
        condition.lock()
        defer { condition.unlock() }
        while itemCost > 0 && queuedCost + itemCost > limit && queuedCost > 0 {
            if whenFull == .drop { return false }
            condition.wait()
        }
        items.append(item)
        queuedCost += itemCost
        if !running {
            running = true
            let mine = generation
            let thread = Thread { [self] in run(generation: mine) }
            thread.name = name
            thread.start()
        }
        condition.signal()
        return true
    }

    /// Waits until every item submitted so far has been processed, at most `timeout`; false if time ran out.
    @discardableResult
    public func drain(timeout: Duration? = nil) -> Bool {
        let deadline = timeout.map { Date().addingTimeInterval(Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) }
        condition.lock()
        defer { condition.unlock() }
        while !items.isEmpty || busy {
            if let deadline {
                if !condition.wait(until: deadline) { return items.isEmpty && !busy }
            } else {
                condition.wait()
            }
        }
        return true
    }

    /// Drains, then ends the thread.
    public func stop() {
        condition.lock()
        defer { condition.unlock() }
        guard running else { return }
        while !items.isEmpty || busy { condition.wait() }
        running = false
        generation += 1
        condition.broadcast()
    }

    /// Whether the thread runs (something was submitted since the last `stop`).
    public var isRunning: Bool { withLock { running } }

    /// Runs `body` under the queue's lock: for state the caller shares with its thread.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    private func run(generation mine: Int) {
        while true {
            condition.lock()
            while items.isEmpty && generation == mine { condition.wait() }
            if generation != mine {
                condition.unlock()
                return
            }
            let batch = items
            items = []
            busy = true
            condition.unlock()
            let batchCost = batch.reduce(0) { $0 + cost($1) }
            process(batch)
            condition.lock()
            busy = false
            queuedCost -= batchCost
            condition.broadcast()
            condition.unlock()
        }
    }
}
