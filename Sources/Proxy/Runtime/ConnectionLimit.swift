import NIOConcurrencyHelpers
import NIOCore
import Synchronization
import TCPPlane

extension ProxyRuntime {
    /// HAProxy's `maxconn` on a frontend or on the process: at the limit the listeners stop accepting (new
    /// connections wait in the kernel's backlog, as with HAProxy) and a connection accepted meanwhile waits here
    /// for a free slot before its session starts. The runtime API changes the limit (`set maxconn frontend|global`;
    /// 0 is no limit), and pauses a frontend's listeners (`disable frontend`) through the same gates.
    final class ConnectionLimit: Sendable {
        private struct State {
            var limit: Int
            var open = 0
            var waiting = CircularBuffer<@Sendable () -> Void>()
            var listeners: [ListenerGate] = []

            var hasRoom: Bool { limit == 0 || open < limit }
            var full: Bool { !hasRoom }
        }
        private let state: Mutex<State>

        /// nil without a limit; `limit` 0 keeps one that the runtime API may set later.
        init?(_ limit: Int?) {
            guard let limit, limit >= 0 else { return nil }
            state = Mutex(State(limit: limit))
        }

        var limit: Int { state.withLock { $0.limit } }

        func add(listener: ListenerGate) { state.withLock { $0.listeners.append(listener) } }

        var full: Bool { state.withLock { $0.full } }

        /// Takes a slot if one is free and nobody waits for it.
        func tryTake() -> Bool {
            let (taken, nowFull) = state.withLock { s -> (Bool, Bool) in
                guard s.hasRoom, s.waiting.isEmpty else { return (false, false) }
                s.open += 1
                return (true, s.full)
            }
            if nowFull { syncListeners() }
            return taken
        }

        /// Takes a slot of each of `limits` if all have one free now (the common case, without pausing the
        /// connection's reads); otherwise takes none.
        static func tryTake(_ limits: [ConnectionLimit]) -> Bool {
            for (i, limit) in limits.enumerated() where !limit.tryTake() {
                for taken in limits[..<i].reversed() { taken.release() }
                return false
            }
            return true
        }

        /// Runs `start` now if a slot is free, else once one is.
        func admit(_ start: @escaping @Sendable () -> Void) {
            let (admitted, nowFull) = state.withLock { s -> (Bool, Bool) in
                guard s.hasRoom else {
                    s.waiting.append(start)
                    return (false, true)
                }
                s.open += 1
                return (true, s.full)
            }
            if nowFull { syncListeners() }
            if admitted { start() }
        }

        /// A session ends: its slot goes to the connection waiting longest, or back to the listeners.
        func release() {
            let (next, wasFull) = state.withLock { s -> ((@Sendable () -> Void)?, Bool) in
                // The slot passes to the connection waiting longest, unless a lowered limit takes it back.
                if s.limit == 0 || s.open <= s.limit, let next = s.waiting.popFirst() { return (next, false) }
                let wasFull = s.full
                s.open -= 1
                return (nil, wasFull && s.hasRoom)
            }
            if let next { next() } else if wasFull { syncListeners() }
        }

        /// The runtime API's `set maxconn`: the connections waiting that the new limit admits start now.
        func setLimit(_ limit: Int) {
            let started = state.withLock { s -> [@Sendable () -> Void] in
                s.limit = limit
                var started: [@Sendable () -> Void] = []
                while s.hasRoom, let next = s.waiting.popFirst() {
                    s.open += 1
                    started.append(next)
                }
                return started
            }
            syncListeners()
            for start in started { start() }
        }

        /// Each listener accepts only while there is a slot and it is not paused. The value is read on the
        /// listener's loop, so the last of several racing updates sees the final count.
        private func syncListeners() {
            for listener in state.withLock({ $0.listeners }) { listener.sync() }
        }

        /// Runs `start` once every limit of `limits` has admitted it.
        static func admit(_ limits: ArraySlice<ConnectionLimit>, _ start: @escaping @Sendable () -> Void) {
            guard let first = limits.first else { return start() }
            first.admit { admit(limits.dropFirst(), start) }
        }
    }

    /// `rate-limit sessions N`: a frontend's new sessions a second, counted in HAProxy's one-second sliding window.
    /// At the limit its listeners stop accepting (new connections wait in the kernel's backlog, as with HAProxy)
    /// until the window lets one more through; a connection accepted meanwhile waits here, in order.
    final class SessionRate: Sendable {
        private struct State {
            var counter = FreqCounter()
            var waiting = CircularBuffer<@Sendable () -> Void>()
            var timerArmed = false
            var listeners: [ListenerGate] = []
        }
        let limit: UInt32
        private let state = Mutex(State())
        private let loop: any EventLoop

        init?(_ limit: Int?, loop: any EventLoop) {
            guard let limit, limit > 0 else { return nil }
            self.limit = UInt32(clamping: limit)
            self.loop = loop
        }

        func add(listener: ListenerGate) { state.withLock { $0.listeners.append(listener) } }

        /// Whether the window is full now (the listeners then wait).
        var full: Bool {
            state.withLock { !$0.waiting.isEmpty || $0.counter.remaining(freq: limit, now: StickClock.now()) == 0 }
        }

        /// Counts a session now if the window has room and nobody waits; otherwise nothing.
        func tryTake() -> Bool {
            let (taken, nowFull) = state.withLock { s -> (Bool, Bool) in
                let now = StickClock.now()
                guard s.waiting.isEmpty, s.counter.remaining(freq: limit, now: now) > 0 else { return (false, false) }
                s.counter.add(1, period: 1_000, now: now)
                return (true, s.counter.remaining(freq: limit, now: now) == 0)
            }
            if nowFull { pauseUntilRoom() }
            return taken
        }

        /// Runs `start` once the window has room for it (in arrival order).
        func admit(_ start: @escaping @Sendable () -> Void) {
            state.withLock { $0.waiting.append(start) }
            pauseUntilRoom()
        }

        /// The listeners stop, and a timer lets the waiting connections through as the window slides.
        private func pauseUntilRoom() {
            let (arm, delay, gates) = state.withLock { s -> (Bool, UInt32, [ListenerGate]) in
                guard !s.timerArmed else { return (false, 0, []) }
                s.timerArmed = true
                return (true, s.counter.nextEventDelay(freq: limit, now: StickClock.now()), s.listeners)
            }
            guard arm else { return }
            for gate in gates { gate.sync() }
            loop.scheduleTask(in: .milliseconds(Int64(max(delay, 1)))) { [self] in release() }
        }

        private func release() {
            let (started, again, gates) = state.withLock { s -> ([@Sendable () -> Void], Bool, [ListenerGate]) in
                s.timerArmed = false
                let now = StickClock.now()
                var started: [@Sendable () -> Void] = []
                while !s.waiting.isEmpty, s.counter.remaining(freq: limit, now: now) > 0, let next = s.waiting.popFirst() {
                    s.counter.add(1, period: 1_000, now: now)
                    started.append(next)
                }
                return (started, !s.waiting.isEmpty || s.counter.remaining(freq: limit, now: now) == 0, s.listeners)
            }
            for start in started { start() }
            if again { pauseUntilRoom() } else { for gate in gates { gate.sync() } }
        }
    }

    /// One listening socket and what may hold its accepting back: the limits it serves (full) and the runtime API
    /// (`disable frontend`, paused).
    final class ListenerGate: Sendable {
        /// The listening socket: a NIO server channel, or a listener of the TCP data plane.
        enum Socket: Sendable {
            case channel(any Channel)
            case plane(PlaneListener)
        }
        let socket: Socket
        private let limits: [ConnectionLimit]
        private let rate: SessionRate?
        private let paused = Atomic<Bool>(false)

        init(_ socket: Socket, limits: [ConnectionLimit], rate: SessionRate? = nil) {
            self.socket = socket
            self.limits = limits
            self.rate = rate
        }

        var isPaused: Bool { paused.load(ordering: .relaxed) }

        func pause(_ on: Bool) {
            paused.store(on, ordering: .relaxed)
            sync()
        }

        func sync() {
            switch socket {
            case .channel(let channel):
                channel.eventLoop.execute { [self] in
                    channel.setOption(.autoRead, value: accepting).whenFailure { _ in }
                }
            case .plane(let listener):
                listener.accepting { [self] in accepting }
            }
        }

        private var accepting: Bool {
            !paused.load(ordering: .relaxed) && !limits.contains(where: \.full) && !(rate?.full ?? false)
        }

        /// Closes the listening socket for good (`shutdown frontend`).
        func close() {
            switch socket {
            case .channel(let channel): channel.close(promise: nil)
            case .plane(let listener): listener.close()
            }
        }
    }
}
