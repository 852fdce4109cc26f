import Dispatch
import Synchronization

/// Runs a daemon's services (`body`) on the concurrency runtime and waits for them on the calling thread, its
/// main thread. The main thread must stay alive: with an async main it would end, and after the daemon gives up
/// root, /proc/PID/status and ps would go on showing the ended main thread's credentials (root).
public func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)
    Task {
        do { try await body() } catch { failure.withLock { $0 = error } }
        done.signal()
    }
    done.wait()
    if let error = failure.withLock({ $0 }) { throw error }
}

/// A one-time event a daemon's services wait for (a stop asked, a stop done): `open` once, `untilOpen` returns
/// from then on.
public actor Latch {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func open() {
        guard !isOpen else { return }
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }

    public func untilOpen() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}
