import NIOConcurrencyHelpers
import NIOCore
import Synchronization

extension ProxyRuntime {
    /// HAProxy's `maxconn` on a frontend or on the process: at the limit the listeners stop accepting (new
    /// connections wait in the kernel's backlog, as with HAProxy) and a connection accepted meanwhile waits here
    /// for a free slot before its session starts.
    final class ConnectionLimit: Sendable {
        let limit: Int
        private struct State {
            var open = 0
            var waiting = CircularBuffer<@Sendable () -> Void>()
            var listeners: [any Channel] = []
        }
        private let state = Mutex(State())

        init?(_ limit: Int?) {
            guard let limit, limit > 0 else { return nil }
            self.limit = limit
        }

        func add(listener: any Channel) { state.withLock { $0.listeners.append(listener) } }

        private var full: Bool { state.withLock { $0.open >= limit } }

        /// Takes a slot if one is free and nobody waits for it.
        func tryTake() -> Bool {
            let (taken, nowFull) = state.withLock { s -> (Bool, Bool) in
                guard s.open < limit, s.waiting.isEmpty else { return (false, false) }
                s.open += 1
                return (true, s.open == limit)
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
                guard s.open < limit else {
                    s.waiting.append(start)
                    return (false, true)
                }
                s.open += 1
                return (true, s.open == limit)
            }
            if nowFull { syncListeners() }
            if admitted { start() }
        }

        /// A session ends: its slot goes to the connection waiting longest, or back to the listeners.
        func release() {
            let (next, wasFull) = state.withLock { s -> ((@Sendable () -> Void)?, Bool) in
                if let next = s.waiting.popFirst() { return (next, false) }
                s.open -= 1
                return (nil, s.open == limit - 1)
            }
            if let next { next() } else if wasFull { syncListeners() }
        }

        /// Each listener accepts only while there is a slot. The value is read on the listener's loop, so the last
        /// of several racing updates sees the final count.
        private func syncListeners() {
            for listener in state.withLock({ $0.listeners }) {
                listener.eventLoop.execute { [self] in
                    listener.setOption(.autoRead, value: !full).whenFailure { _ in }
                }
            }
        }

        /// Runs `start` once every limit of `limits` has admitted it.
        static func admit(_ limits: ArraySlice<ConnectionLimit>, _ start: @escaping @Sendable () -> Void) {
            guard let first = limits.first else { return start() }
            first.admit { admit(limits.dropFirst(), start) }
        }
    }
}
