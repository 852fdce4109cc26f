import CPlane
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What a loop calls when a descriptor it watches is ready (`PlaneLoop.watch`).
protocol PlaneReady: AnyObject {
    func ready(_ events: UInt32)
    /// The loop ends: a connection closes, a listener lets go.
    func shutdown()
}

/// One event loop of the TCP data plane: a thread of its own waiting in epoll for its descriptors, each registered
/// once, edge-triggered, for input and output (no `epoll_ctl` per read or write); tasks handed to it by other threads
/// (woken through an eventfd); timers in a heap; and work deferred to the end of each batch of events (`atBatchEnd`:
/// the proxy's log datagrams leave together there).
///
/// Everything but `execute`, `isCurrent` and `stop` is called on the loop's own thread.
public final class PlaneLoop: @unchecked Sendable {
    private let epoll: Int32
    private let wakeup: Int32
    /// The watched descriptors by number: the object told of their events, and a generation that makes an event
    /// read for a descriptor closed (and its number reused) in the same batch fall on nothing.
    private var watched: [Watch] = []
    private struct Watch {
        var target: (any PlaneReady)?
        var generation: UInt32 = 0
    }
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let woken = Atomic<Bool>(false)
    private var timers = PlaneTimerHeap()
    private var batchEnd: [() -> Void] = []
    private let stopped = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)
    private var owner: pthread_t?
    /// The monotonic clock as of the loop's last wake-up, in nanoseconds (one clock read per batch).
    public private(set) var now = NIODeadline.now()
    /// One buffer of the loop for what a relay reads and writes on at once (bulk moves in reads and writes of up to
    /// its size: 256 kB, where 64 kB cost a tenth of the throughput through one connection).
    let scratch: UnsafeMutableRawBufferPointer
    static let scratchSize = 256 * 1024

    public init() throws {
        let ep = plane_epoll_create()
        guard ep >= 0 else { throw PlaneError(code: -ep, doing: "epoll_create1") }
        let event = plane_eventfd()
        guard event >= 0 else {
            close(ep)
            throw PlaneError(code: -event, doing: "eventfd")
        }
        epoll = ep
        wakeup = event
        scratch = .allocate(byteCount: Self.scratchSize, alignment: 16)
        let added = plane_epoll_add(ep, event, PLANE_IN | PLANE_ET, UInt64(UInt32.max))
        guard added == 0 else {
            close(ep)
            close(event)
            throw PlaneError(code: -added, doing: "epoll_ctl")
        }
    }

    deinit {
        close(epoll)
        close(wakeup)
        scratch.deallocate()
    }

    /// Starts the loop's thread.
    public func start() throws {
        var made = pthread_t()
        let box = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&made, nil, { argument in
            guard let argument else { return nil }
            let loop = Unmanaged<PlaneLoop>.fromOpaque(argument).takeRetainedValue()
            loop.run()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<PlaneLoop>.fromOpaque(box).release()
            throw PlaneError(code: result, doing: "pthread_create")
        }
        thread.withLock { $0 = made }
    }

    /// Asks the loop to end after its current batch and waits for its thread (not from the loop itself).
    public func stop() {
        stopped.store(true, ordering: .relaxed)
        plane_wake(wakeup)
        if let made = thread.withLock({ t -> pthread_t? in
            defer { t = nil }
            return t
        }) {
            pthread_join(made, nil)
        }
    }

    /// Whether the calling thread is this loop's.
    public var isCurrent: Bool {
        guard let owner else { return false }
        return pthread_equal(owner, pthread_self()) != 0
    }

    /// Runs `body` on the loop, from any thread.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(body) }
        if !woken.exchange(true, ordering: .acquiringAndReleasing) { plane_wake(wakeup) }
    }

    /// Runs `body` at once on the loop's thread, else queued to it.
    public func runNowOrSoon(_ body: @escaping @Sendable () -> Void) {
        if isCurrent { body() } else { execute(body) }
    }

    /// Runs `body` after the events of the current batch are handled (on the loop).
    public func atBatchEnd(_ body: @escaping () -> Void) { batchEnd.append(body) }

    /// Runs `body` on the loop at `deadline` unless cancelled first (on the loop).
    public func schedule(at deadline: NIODeadline, _ body: @escaping () -> Void) -> PlaneTimer {
        let timer = PlaneTimer(deadline: deadline, body: body, loop: self)
        timers.insert(timer)
        return timer
    }

    public func schedule(after delay: TimeAmount, _ body: @escaping () -> Void) -> PlaneTimer {
        schedule(at: NIODeadline.now() + delay, body)
    }

    func cancel(_ timer: PlaneTimer) { timers.remove(timer) }

    /// How many timers wait (on the loop).
    var pendingTimers: Int { timers.count }

    // MARK: Descriptors

    /// Watches `fd` (edge-triggered, input and output, or `events`) for `target`, until `unwatch`.
    func watch(_ fd: Int32, _ target: any PlaneReady, events: UInt32? = nil) -> Int32 {
        let index = Int(fd)
        if index >= watched.count {
            watched.append(contentsOf: repeatElement(Watch(), count: max(index + 1 - watched.count, watched.count)))
        }
        watched[index].target = target
        let generation = watched[index].generation
        let wanted =
            events ?? (PLANE_IN | PLANE_OUT | PLANE_RDHUP | PLANE_ET)
        return plane_epoll_add(epoll, fd, wanted, UInt64(generation) << 32 | UInt64(UInt32(fd)))
    }

    /// Changes what `fd` is watched for (a listener paused or resumed).
    func rewatch(_ fd: Int32, events: UInt32) {
        let generation = watched[Int(fd)].generation
        _ = plane_epoll_modify(epoll, fd, events, UInt64(generation) << 32 | UInt64(UInt32(fd)))
    }

    /// Stops watching `fd` before it is closed (or handed back). `remove`: take it out of the epoll set too (a
    /// descriptor that stays open elsewhere, as a shared listener).
    func unwatch(_ fd: Int32, remove: Bool = false) {
        let index = Int(fd)
        guard index < watched.count else { return }
        if remove { _ = plane_epoll_remove(epoll, fd) }
        watched[index].target = nil
        watched[index].generation &+= 1
    }

    // MARK: The loop

    private func run() {
        owner = pthread_self()
        // Seen as such in `top -H`, `ps -L` and perf.
        plane_name_thread("tollgate-plane")
        PlaneLoop.perThread = self
        let capacity = 256
        let data = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        defer {
            data.deallocate()
            events.deallocate()
        }
        while !stopped.load(ordering: .relaxed) {
            let timeout = timers.first.map { t -> Int32 in
                let wait = t.deadline - NIODeadline.now()
                return wait.nanoseconds <= 0 ? 0 : Int32(clamping: (wait.nanoseconds + 999_999) / 1_000_000)
            } ?? -1
            let count = plane_epoll_wait(epoll, data, events, Int32(capacity), timeout)
            now = NIODeadline.now()
            if count > 0 {
                for i in 0..<Int(count) {
                    let word = data[i]
                    let fd = Int(UInt32(truncatingIfNeeded: word))
                    if word == UInt64(UInt32.max) {
                        plane_drain(wakeup)
                        continue
                    }
                    guard fd < watched.count, watched[fd].generation == UInt32(truncatingIfNeeded: word >> 32),
                        let target = watched[fd].target
                    else { continue }
                    target.ready(events[i])
                }
            }
            runTasks()
            runTimers()
            finishBatch()
        }
        runTasks()
        // What is still open closes (its sessions end and log), then the loop's own work of that.
        for watch in watched { watch.target?.shutdown() }
        runTasks()
        finishBatch()
        timers = PlaneTimerHeap()
        PlaneLoop.perThread = nil
    }

    private func runTasks() {
        guard woken.load(ordering: .acquiring) else { return }
        woken.store(false, ordering: .releasing)
        let list = tasks.withLock { list -> [@Sendable () -> Void] in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
        for task in list { task() }
    }

    private func runTimers() {
        while let first = timers.first, first.deadline <= now {
            timers.remove(first)
            first.fire()
        }
    }

    private func finishBatch() {
        var index = 0
        while index < batchEnd.count {
            batchEnd[index]()
            index += 1
        }
        batchEnd.removeAll(keepingCapacity: true)
    }

    /// The loop of the calling thread, if it is a plane loop's.
    nonisolated(unsafe) private static var perThreadKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    public static var current: PlaneLoop? {
        guard let raw = pthread_getspecific(perThreadKey) else { return nil }
        return Unmanaged<PlaneLoop>.fromOpaque(raw).takeUnretainedValue()
    }
    private static var perThread: PlaneLoop? {
        get { current }
        set { pthread_setspecific(perThreadKey, newValue.map { Unmanaged.passUnretained($0).toOpaque() }) }
    }
}

/// A timer of a plane loop (`PlaneLoop.schedule`); `cancel` on the loop.
public final class PlaneTimer {
    let deadline: NIODeadline
    private var body: (() -> Void)?
    private unowned let loop: PlaneLoop
    /// Its place in the loop's heap (-1: not in it).
    var index = -1

    init(deadline: NIODeadline, body: @escaping () -> Void, loop: PlaneLoop) {
        self.deadline = deadline
        self.body = body
        self.loop = loop
    }

    public func cancel() {
        body = nil
        if index >= 0 { loop.cancel(self) }
    }

    func fire() {
        let run = body
        body = nil
        run?()
    }
}

/// The loop's timers, earliest first (a binary heap whose entries know their place, so a cancelled one leaves at
/// once: idle timeouts are cancelled far more often than they fire).
struct PlaneTimerHeap {
    private var items: [PlaneTimer] = []
    var first: PlaneTimer? { items.first }
    var count: Int { items.count }

    mutating func insert(_ timer: PlaneTimer) {
        timer.index = items.count
        items.append(timer)
        up(items.count - 1)
    }

    mutating func remove(_ timer: PlaneTimer) {
        let i = timer.index
        guard i >= 0, i < items.count, items[i] === timer else { return }
        timer.index = -1
        let last = items.count - 1
        if i != last {
            items[i] = items[last]
            items[i].index = i
            items.removeLast()
            down(i)
            up(i)
        } else {
            items.removeLast()
        }
    }

    private mutating func up(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].deadline < items[parent].deadline else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func down(_ start: Int) {
        var i = start
        while true {
            let left = 2 * i + 1
            guard left < items.count else { return }
            let right = left + 1
            let child = right < items.count && items[right].deadline < items[left].deadline ? right : left
            guard items[child].deadline < items[i].deadline else { return }
            swapAt(i, child)
            i = child
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        items[a].index = a
        items[b].index = b
    }
}

/// A system call of the data plane that failed, in the system's words.
public struct PlaneError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    let doing: String
    init(code: Int32, doing: String) {
        self.code = code
        self.doing = doing
    }
    public var description: String { "\(doing): \(String(cString: strerror(code)))" }
}
