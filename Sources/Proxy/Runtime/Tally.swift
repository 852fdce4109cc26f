import CDatagrams
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ProxyRuntime {
    /// The counters of the process, a frontend, a backend or a server: sessions open now (one of the log's
    /// `actconn/feconn/beconn/srv_conn`), their peak and total, and what the stats page and `/metrics` show
    /// (bytes, HTTP responses by class, errors, retries, aborts).
    ///
    /// Written from every event loop, so shaped for that: the open count (which the log, `maxconn` and a soft stop
    /// read at once) and its peak are atomics; the cumulative counters live in one shard per event-loop thread,
    /// each behind a lock of its own that only its thread takes on the request path (no lock and no cache line
    /// passed between loops); the stats page adds the shards up.
    final class Tally: Sendable {
        struct Values: Sendable, Equatable {
            var open = 0
            var max = 0
            var total = 0
            var bytesIn: Int64 = 0
            var bytesOut: Int64 = 0
            var requests = 0
            /// HTTP responses by class: 1xx, 2xx, 3xx, 4xx, 5xx, other.
            var responses = [0, 0, 0, 0, 0, 0]
            var deniedRequests = 0
            /// Responses an `http-response deny` rule replaced (`dresp`).
            var deniedResponses = 0
            /// Connections a `tcp-request connection` rule rejected (`dcon`).
            var deniedConnections = 0
            var requestErrors = 0
            var connectErrors = 0
            var responseErrors = 0
            var retries = 0
            var redispatches = 0
            var clientAborts = 0
            var serverAborts = 0
            /// Sessions a balancer sent to this server (`lbtot`).
            var balanced = 0
            /// New connections made to servers (`connect`) and idle ones used again (`reuse`).
            var connectAttempts = 0
            var reuses = 0
            /// Seconds since the epoch of the last session, 0 if none.
            var lastSession = 0

            mutating func count(status: Int) {
                let index = (100..<600).contains(status) ? status / 100 - 1 : 5
                responses[index] += 1
            }

            /// The cumulative counters of `other` added to these (a shard's to the sum of the others).
            mutating func add(_ other: Values) {
                total += other.total
                bytesIn += other.bytesIn
                bytesOut += other.bytesOut
                requests += other.requests
                for i in responses.indices { responses[i] += other.responses[i] }
                deniedRequests += other.deniedRequests
                deniedResponses += other.deniedResponses
                deniedConnections += other.deniedConnections
                requestErrors += other.requestErrors
                connectErrors += other.connectErrors
                responseErrors += other.responseErrors
                retries += other.retries
                redispatches += other.redispatches
                clientAborts += other.clientAborts
                serverAborts += other.serverAborts
                balanced += other.balanced
                connectAttempts += other.connectAttempts
                reuses += other.reuses
            }
        }

        /// HAProxy's time figures of a backend or server (`qtime`, `ctime`, `rtime`, `ttime` and their maxima): a
        /// sliding sum over the last 512 sessions that reached their server, as its `swrate_add_dynamic` keeps it.
        /// One lock for the whole (a backend's sessions all add to it), taken once per finished session.
        struct Times: Sendable, Equatable {
            var queue: UInt32 = 0
            var connect: UInt32 = 0
            var data: UInt32 = 0
            var total: UInt32 = 0
            var maxima = (queue: 0, connect: 0, data: 0, total: 0)
            /// Sessions added.
            var samples = 0
            static let window: UInt32 = 512

            static func == (a: Times, b: Times) -> Bool {
                a.queue == b.queue && a.connect == b.connect && a.data == b.data && a.total == b.total && a.samples == b.samples
            }

            /// One session's queue, connect, data (response) and total times, in milliseconds.
            mutating func add(queue q: Int, connect c: Int, data d: Int, total t: Int) {
                samples += 1
                let n: UInt32 = samples > Int(Times.window) ? Times.window : 0
                func slide(_ sum: inout UInt32, _ v: Int) {
                    sum = sum &- (n == 0 ? 0 : (sum &+ n &- 1) / n) &+ UInt32(truncatingIfNeeded: max(0, v))
                }
                slide(&queue, q)
                slide(&connect, c)
                slide(&data, d)
                slide(&total, t)
                maxima = (max(maxima.queue, q), max(maxima.connect, c), max(maxima.data, d), max(maxima.total, t))
            }

            /// The averages `show stat` gives: the sum over the window (the samples so far while fewer than 512).
            var averages: (queue: Int, connect: Int, data: Int, total: Int) {
                let w = samples > 0 && samples < Int(Times.window) ? UInt32(samples) : Times.window
                func avg(_ sum: UInt32) -> Int { Int((UInt64(sum) + UInt64(w) - 1) / UInt64(w)) }
                return (avg(queue), avg(connect), avg(data), avg(total))
            }
        }
        private let times = Mutex(Times())
        /// A finished session's times (see `Times`).
        func addTimes(queue: Int, connect: Int, data: Int, total: Int) {
            times.withLock { $0.add(queue: queue, connect: connect, data: data, total: total) }
        }
        var timeFigures: Times { times.withLock { $0 } }

        private let openNow = Atomic<Int>(0)
        private let peak = Atomic<Int>(0)
        private let lastSession = Atomic<Int>(0)
        private let shards: [Shard]
        /// Who waits for `open` to reach 0 (a soft stop), and whether anyone does (read on every close).
        private let idleWaiters = Mutex<[CheckedContinuation<Void, Never>]>([])
        private let awaited = Atomic<Bool>(false)

        init() { shards = (0..<Shard.count).map { _ in Shard() } }

        /// A session opens here; `balanced`: a balancer chose this server for it (`lbtot`).
        func opened(balanced: Bool = false) {
            let open = openNow.add(1, ordering: .relaxed).newValue
            var seen = peak.load(ordering: .relaxed)
            while open > seen {
                let (exchanged, original) = peak.compareExchange(expected: seen, desired: open, ordering: .relaxed)
                if exchanged { break }
                seen = original
            }
            let now = time(nil)
            if lastSession.load(ordering: .relaxed) != now { lastSession.store(now, ordering: .relaxed) }
            Shard.mine(of: shards).values.withLock {
                $0.total += 1
                if balanced { $0.balanced += 1 }
            }
        }

        func closed() {
            let open = openNow.subtract(1, ordering: .sequentiallyConsistent).newValue
            // Rare (a soft stop waits): the waiters are taken only then.
            if open == 0 && awaited.load(ordering: .sequentiallyConsistent) { wakeIdleWaiters() }
        }

        private func wakeIdleWaiters() {
            let waiters = idleWaiters.withLock { list -> [CheckedContinuation<Void, Never>] in
                guard openNow.load(ordering: .sequentiallyConsistent) == 0 else { return [] }
                awaited.store(false, ordering: .sequentiallyConsistent)
                defer { list = [] }
                return list
            }
            for waiter in waiters { waiter.resume() }
        }

        /// Returns once no session is open here (at once if none is).
        func untilIdle() async {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let idle = idleWaiters.withLock { list -> Bool in
                    // Said before the count is read: a close that brings it to 0 after the read sees it.
                    awaited.store(true, ordering: .sequentiallyConsistent)
                    if openNow.load(ordering: .sequentiallyConsistent) <= 0 { return true }
                    list.append(waiter)
                    return false
                }
                if idle { waiter.resume() }
            }
        }

        /// Sessions open now.
        var open: Int { openNow.load(ordering: .relaxed) }
        var total: Int { snapshot.total }

        /// Every counter now: the shards added up (each read under its lock; together they are not one instant,
        /// as HAProxy's own counters are not).
        var snapshot: Values {
            var sum = Values()
            for shard in shards { sum.add(shard.values.withLock { $0 }) }
            sum.open = openNow.load(ordering: .relaxed)
            sum.max = peak.load(ordering: .relaxed)
            sum.lastSession = lastSession.load(ordering: .relaxed)
            return sum
        }

        /// The runtime API's `clear counters`: the peak goes back to what is open now; with `all`, every cumulative
        /// counter goes back to 0 too.
        func clear(all: Bool) {
            peak.store(openNow.load(ordering: .relaxed), ordering: .relaxed)
            guard all else { return }
            for shard in shards { shard.values.withLock { $0 = Values() } }
            times.withLock { $0 = Times() }
            lastSession.store(0, ordering: .relaxed)
        }

        /// Changes some cumulative counters, in the calling thread's shard (`open`, `max` and `lastSession` are
        /// not changed this way: `opened` and `closed` keep them).
        func update(_ change: (inout Values) -> Void) { Shard.mine(of: shards).values.withLock { change(&$0) } }

        /// One thread's share of the counters.
        final class Shard: Sendable {
            let values = Mutex(Values())

            /// As many shards as the machine has cores (the event loops' default count), at most 16; a thread
            /// beyond them shares a shard (correct, only contended).
            static let count = Swift.max(1, Swift.min(16, System.coreCount))
            private static let slots = Atomic<Int>(0)

            /// The calling thread's shard: each thread is given the next slot the first time it counts (kept in
            /// a C thread-local, read inline).
            @inline(__always)
            static func mine(of shards: [Shard]) -> Shard {
                var slot = Int(tollgate_get_thread_slot())
                if slot == 0 {
                    slot = slots.add(1, ordering: .relaxed).oldValue % count + 1
                    tollgate_set_thread_slot(Int32(slot))
                }
                return shards[slot - 1]
            }

            /// Gives the calling thread shard `index` (modulo the count): the TCP data plane's loops, which carry
            /// the traffic, take one each rather than the next free ones (NIO's threads may have taken those).
            static func claim(_ index: Int) {
                tollgate_set_thread_slot(Int32(index % count + 1))
            }
        }
    }
}
