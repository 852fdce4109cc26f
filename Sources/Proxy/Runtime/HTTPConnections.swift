import NIOCore
import Synchronization

/// The HTTP client connections open on each event loop, for a soft stop (a reload's `-sf`, SIGUSR1) to reach them
/// as HAProxy 2.6 does: a connection waiting between requests closes at once, one with a request not complete yet
/// gets HAProxy's 408, and one with a request in progress gets its response with `connection: close`, then closes.
/// Without this, an old process outlived a reload by the keep-alive timeout of its idlest client.
///
/// Each loop's list is touched on that loop only (no lock on the accept path): a connection adds itself when its
/// session joins the pipeline and leaves when it is removed.
final class HTTPConnections: Sendable {
    /// One loop's connections, and whether the soft stop has reached it (a connection accepted since learns it
    /// as it joins).
    final class OnLoop: @unchecked Sendable {
        var sessions: [ObjectIdentifier: HTTPSession] = [:]
        var stopping = false
    }

    private let loops: [ObjectIdentifier: (loop: any EventLoop, connections: OnLoop)]
    /// Set before the loops are told, read as a response begins: a response on a loop not told yet closes its
    /// connection too (HAProxy's stopped proxy flag).
    let stopping = Atomic<Bool>(false)

    init(_ group: any EventLoopGroup) {
        var loops: [ObjectIdentifier: (loop: any EventLoop, connections: OnLoop)] = [:]
        for loop in group.makeIterator() { loops[ObjectIdentifier(loop)] = (loop, OnLoop()) }
        self.loops = loops
    }

    /// The connections of `loop` (the caller is on it).
    func on(_ loop: any EventLoop) -> OnLoop? { loops[ObjectIdentifier(loop)]?.connections }

    /// Tells every connection of every loop that the process is stopping.
    func softStop() async {
        stopping.store(true, ordering: .relaxed)
        for (loop, connections) in loops.values {
            try? await loop.submit {
                connections.stopping = true
                for session in Array(connections.sessions.values) { session.softStop() }
            }.get()
        }
    }
}
