import CPlane
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket served by the data plane's loops: each loop watches it (EPOLLEXCLUSIVE: one loop is woken
/// per connection) and accepts in batches, non-blocking, handing each accepted socket to `accepted` on that loop.
/// The listener owns the socket from then on (it may have come from a previous process, and its number may be handed
/// to the next): `close` closes it once no loop watches it.
public final class PlaneListener: Sendable {
    private let fd: Int32
    private let acceptors: [Acceptor]
    private let closed = Atomic<Bool>(false)

    /// `accepted` is called on the accepting loop with the client's side (watched, not read until the session
    /// attaches it or asks for its first bytes) and the client's address.
    public init(
        descriptor: Int32, loops: [PlaneLoop], keepalive: Bool,
        accepted: @escaping @Sendable (PlaneStream, SocketAddress?) -> Void
    ) {
        fd = descriptor
        acceptors = loops.map { Acceptor(fd: descriptor, loop: $0, keepalive: keepalive, accepted: accepted) }
    }

    /// Starts accepting on every loop.
    public func start() {
        for acceptor in acceptors { acceptor.loop.execute { acceptor.listen() } }
    }

    /// The address the socket is bound to.
    public var localAddress: SocketAddress? { PlaneAddress.of(fd, peer: false) }

    /// Pauses or resumes accepting (maxconn reached, a frontend disabled), as `decide` says on each loop when it gets
    /// there: connections wait in the backlog meanwhile.
    public func accepting(_ decide: @escaping @Sendable () -> Bool) {
        for acceptor in acceptors { acceptor.loop.execute { acceptor.accepting(decide()) } }
    }

    /// Stops accepting for good on every loop, then closes the socket (once the last loop has let go of it: its
    /// number cannot be reused while a loop still watches it). Returns at once.
    public func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        let left = Countdown(acceptors.count)
        let fd = fd
        for acceptor in acceptors {
            acceptor.loop.execute {
                acceptor.stop()
                if left.done() { plane_close(fd, 0) }
            }
        }
    }

    /// `close`, returning once the socket is closed.
    public func stop() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        for acceptor in acceptors {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                acceptor.loop.execute {
                    acceptor.stop()
                    done.resume()
                }
            }
        }
        plane_close(fd, 0)
    }

    final class Acceptor: PlaneReady, @unchecked Sendable {
        let fd: Int32
        let loop: PlaneLoop
        let keepalive: Bool
        let accepted: @Sendable (PlaneStream, SocketAddress?) -> Void
        private var watching = false
        private var paused = false
        private var stopped = false
        /// Accepts per wake-up at most (the others wait for the next turn: the loop's sessions are served between).
        static let batch = 64

        init(fd: Int32, loop: PlaneLoop, keepalive: Bool, accepted: @escaping @Sendable (PlaneStream, SocketAddress?) -> Void) {
            self.fd = fd
            self.loop = loop
            self.keepalive = keepalive
            self.accepted = accepted
        }

        func listen() {
            guard !stopped, !watching else { return }
            // Level-triggered and exclusive: a backlog left after a batch wakes a loop again.
            watching = loop.watch(fd, self, events: PLANE_IN | PLANE_EXCLUSIVE) == 0
        }

        func accepting(_ on: Bool) {
            guard !stopped else { return }
            paused = !on
            if on {
                listen()
            } else if watching {
                // EPOLLEXCLUSIVE descriptors cannot be modified: taken out, added back on resume.
                loop.unwatch(fd, remove: true)
                watching = false
            }
        }

        func shutdown() { stop() }

        func stop() {
            stopped = true
            if watching { loop.unwatch(fd, remove: true) }
            watching = false
        }

        func ready(_ events: UInt32) {
            guard !stopped, !paused else { return }
            var storage = sockaddr_storage()
            for _ in 0..<Self.batch {
                var length = UInt32(MemoryLayout<sockaddr_storage>.size)
                let client = withUnsafeMutableBytes(of: &storage) { raw in
                    raw.baseAddress.map { plane_accept(fd, $0, &length) } ?? -Int32(PLANE_EAGAIN)
                }
                if client == -Int32(PLANE_EAGAIN) { return }
                if client < 0 {
                    // Out of descriptors or memory: accepting pauses for a tenth of a second (level-triggered, the
                    // waiting backlog would wake the loop at once, again and again), as HAProxy's does.
                    if [24, 23, 105, 12].contains(-client) {  // EMFILE, ENFILE, ENOBUFS, ENOMEM
                        accepting(false)
                        paused = false
                        _ = loop.schedule(after: .milliseconds(100)) { [self] in if !paused { listen() } }
                        return
                    }
                    continue  // ECONNABORTED, EINTR, a network error of that one connection
                }
                let address = withUnsafeBytes(of: &storage) { raw in raw.baseAddress.flatMap { PlaneAddress.make($0) } }
                guard let stream = PlaneStream.accepted(client, on: loop, keepalive: keepalive) else { continue }
                accepted(stream, address)
                if paused || stopped { return }
            }
        }
    }
}


/// Counts the loops still to let go of a listener.
private final class Countdown: Sendable {
    private let left: Atomic<Int>
    init(_ count: Int) { left = Atomic(count) }
    /// One more done; true for the last.
    func done() -> Bool { left.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}
