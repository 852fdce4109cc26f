import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ProxyRuntime {
    /// The counters of the process, a frontend, a backend or a server: sessions open now (one of the log's
    /// `actconn/feconn/beconn/srv_conn`), their peak and total, and what the stats page and `/metrics` show
    /// (bytes, HTTP responses by class, errors, retries, aborts).
    final class Tally: Sendable {
        struct Values: Sendable {
            var open = 0
            var max = 0
            var total = 0
            var bytesIn: Int64 = 0
            var bytesOut: Int64 = 0
            var requests = 0
            /// HTTP responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
            var responses = [0, 0, 0, 0, 0, 0]
            var deniedRequests = 0
            var requestErrors = 0
            var connectErrors = 0
            var responseErrors = 0
            var retries = 0
            var redispatches = 0
            var clientAborts = 0
            var serverAborts = 0
            /// Sessions a balancer sent to this server (`lbtot`).
            var balanced = 0
            /// Seconds since the epoch of the last session, 0 if none.
            var lastSession = 0

            /// Who waits for `open` to reach 0 (a soft stop).
            fileprivate var idleWaiters: [CheckedContinuation<Void, Never>] = []

            mutating func count(status: Int) {
                let index = (100..<600).contains(status) ? status / 100 - 1 : 5
                responses[index] += 1
            }
        }
        private let values = NIOLockedValueBox(Values())

        /// A session opens here; `balanced`: a balancer chose this server for it (`lbtot`).
        func opened(balanced: Bool = false) {
            let now = time(nil)
            values.withLockedValue {
                $0.open += 1
                $0.total += 1
                if $0.open > $0.max { $0.max = $0.open }
                $0.lastSession = now
                if balanced { $0.balanced += 1 }
            }
        }
        func closed() {
            let idleNow = values.withLockedValue { v -> Bool in
                v.open -= 1
                return v.open == 0 && !v.idleWaiters.isEmpty
            }
            // Rare (a soft stop waits): the waiters are taken only then.
            if idleNow { wakeIdleWaiters() }
        }

        private func wakeIdleWaiters() {
            let waiters = values.withLockedValue { v -> [CheckedContinuation<Void, Never>] in
                guard v.open == 0 else { return [] }
                defer { v.idleWaiters = [] }
                return v.idleWaiters
            }
            for waiter in waiters { waiter.resume() }
        }

        /// Returns once no session is open here (at once if none is).
        func untilIdle() async {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let idle = values.withLockedValue { v -> Bool in
                    if v.open <= 0 { return true }
                    v.idleWaiters.append(waiter)
                    return false
                }
                if idle { waiter.resume() }
            }
        }
        var open: Int { values.withLockedValue { $0.open } }
        var total: Int { values.withLockedValue { $0.total } }
        var snapshot: Values { values.withLockedValue { $0 } }

        /// Changes some counters under the lock (and reads what `change` returns under it too).
        @discardableResult
        func update<Result>(_ change: (inout Values) -> Result) -> Result { values.withLockedValue { change(&$0) } }
    }
}
