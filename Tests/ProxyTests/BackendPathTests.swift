import NIOCore
import Synchronization
import Testing

@testable import Proxy

/// The one backend path driven without NIO channels: a loop whose timers the test fires, sessions whose connection
/// attempts the test answers. This is how a data plane of its own (not NIO channels) would use it, and it shows
/// the path's queueing, retries, redispatch and counters without any I/O.
@Suite("The backend path without NIO channels")
struct BackendPathTests {
    /// A loop that is always current and whose timers fire when the test says.
    final class ManualLoop: SessionLoop, @unchecked Sendable {
        final class Timer: SessionTimer {
            var body: (() -> Void)?
            func cancel() { body = nil }
        }
        var timers: [Timer] = []
        var isCurrent: Bool { true }
        func runNowOrSoon(_ body: @escaping @Sendable () -> Void) { body() }
        func schedule(after delay: TimeAmount, _ body: @escaping () -> Void) -> any SessionTimer {
            let timer = Timer()
            timer.body = body
            timers.append(timer)
            return timer
        }
        func fireTimers() {
            for timer in timers { if let body = timer.body { body() } }
            timers = []
        }
    }

    /// One session: it is its own seat, records its attempts and how the path ended.
    final class FakeSession: BackendAssignee, BackendSeat {
        let loop: ManualLoop
        var claim = BackendClaim()
        var ticket: ProxyRuntime.Backend.Ticket?
        var queueTimer: (any SessionTimer)?
        var dequeuedAt: NIODeadline?
        var attempted: [Int] = []
        var failure: AssignmentFailure?
        var ended = false
        var listing: SessionDirectory.Listing?
        init(_ loop: ManualLoop) { self.loop = loop }
        var sessionLoop: ManualLoop { loop }
        var clientAddress: SocketAddress? { nil }
        func wantsServer(_ seat: FakeSession) -> Bool { !ended }
        func attempt(_ seat: FakeSession, server: Int, backend: ProxyRuntime.Backend) { attempted.append(server) }
        func assignmentFailed(_ seat: FakeSession, _ failure: AssignmentFailure) { self.failure = failure }
    }

    func backend(_ servers: String, options: String = "") throws -> ProxyRuntime.Backend {
        let configuration = try HAProxyConfigParser.parse(
            text: """
                defaults
                    mode tcp
                    timeout connect 1s
                    timeout queue 2s
                \(options)
                backend be
                \(servers)
                """)
        return try ProxyRuntime.Backend(try #require(configuration.proxy(named: "be")))
    }

    @Test func aQueuedSessionTakesTheSlotTheFirstGivesBack() throws {
        let be = try backend("    server s1 127.0.0.1:1 maxconn 1")
        let loop = ManualLoop()
        let first = FakeSession(loop)
        let second = FakeSession(loop)
        first.assignServer(first, be)
        second.assignServer(second, be)
        #expect(first.attempted == [0])
        #expect(second.attempted.isEmpty, "server at its maxconn: the second waits")
        #expect(second.ticket != nil && second.claim.server == nil)
        first.leaveBackend(first, be)
        #expect(second.attempted == [0], "the freed slot goes to the one waiting")
        #expect(second.ticket == nil && second.queueTimer == nil && second.dequeuedAt != nil)
        #expect(second.claim.slot == 0)
        loop.fireTimers()
        #expect(second.failure == nil, "its queue timer was cancelled")
    }

    @Test func timeoutQueueEndsTheWaitAndLeavesTheSlotFree() throws {
        let be = try backend("    server s1 127.0.0.1:1 maxconn 1")
        let loop = ManualLoop()
        let first = FakeSession(loop)
        let second = FakeSession(loop)
        first.assignServer(first, be)
        second.assignServer(second, be)
        loop.fireTimers()
        #expect(second.failure == .queueTimeout)
        #expect(second.ticket == nil)
        first.leaveBackend(first, be)
        let third = FakeSession(loop)
        third.assignServer(third, be)
        #expect(third.attempted == [0], "the timed-out session took no slot")
    }

    @Test func retriesStayThenGiveUpAndAreCounted() throws {
        let be = try backend("    retries 2\n    server s1 127.0.0.1:1\n    server s2 127.0.0.1:2")
        let session = FakeSession(ManualLoop())
        session.assignServer(session, be)
        for _ in 0..<3 { session.attemptFailed(session, be, clientActive: true) }
        #expect(session.attempted == [0, 0, 0])
        #expect(session.failure == .unreachable)
        #expect(be.sessions.snapshot.retries == 2)
        #expect(be.sessions.snapshot.connectErrors == 1, "the backend counts the session that gave up, once")
        #expect(be.serverSessions[0].snapshot.connectErrors == 3, "the server counts each failed attempt")
    }

    /// What `show sess` shows follows the path: the backend once entered, the server of each attempt with the
    /// retries before it, nothing once the session leaves the backend; and `shutdown sessions server` finds the
    /// sessions by the server they are on.
    @Test func theListingFollowsThePathAndEndsSessionsByServer() throws {
        let be = try backend("    retries 2\n    option redispatch\n    server s1 127.0.0.1:1\n    server s2 127.0.0.1:2")
        let configuration = try HAProxyConfigParser.parse(text: "listen l\n    bind :80\n    server s 127.0.0.1:1\n")
        let directory = SessionDirectory(configuration)
        let frontend = try #require(configuration.proxy(named: "l"))
        let killed = Mutex<[String]>([])
        let sessions = (0..<2).map { n in
            let session = FakeSession(ManualLoop())
            session.listing = directory.add(frontend: frontend, client: nil, frontendAddress: nil) { cause in
                killed.withLock { $0.append("\(n) \(Character(Unicode.Scalar(cause.rawValue)))") }
            }
            return session
        }
        let session = sessions[0]
        let listing = try #require(session.listing)
        #expect(listing.now.backend == nil && listing.now.serverName == nil)
        session.assignServer(session, be)
        #expect(listing.now.backend?.name == "be" && listing.now.serverName == "s1" && listing.now.retries == 0)
        session.attemptFailed(session, be, clientActive: true)
        #expect(listing.now.serverName == "s2" && listing.now.server == 1 && listing.now.retries == 1)
        // The server left out by the redispatch kept its round-robin turn (HAProxy's): the next session goes to it.
        sessions[1].assignServer(sessions[1], be)
        #expect(sessions[1].listing?.now.serverName == "s1")
        #expect(directory.kill(backend: "other", server: 1, .killed) == 0)
        #expect(directory.kill(backend: "be", server: 1, .killed) == 1)
        #expect(directory.kill(backend: "be", server: 0, .killed) == 1)
        #expect(killed.withLock { $0.sorted() } == ["0 K", "1 K"])
        session.leaveBackend(session, be)
        #expect(listing.now.backend == nil && listing.now.server == nil)
        #expect(directory.snapshot().map(\.id) == [1, 2])
        directory.remove(listing)
        #expect(directory.count == 1 && directory.listing(1) == nil && directory.listing(2) != nil)
    }

    @Test func redispatchMovesTheFirstRetryAndCountsIt() throws {
        let be = try backend(
            "    retries 3\n    option redispatch\n    server s1 127.0.0.1:1\n    server s2 127.0.0.1:2")
        let session = FakeSession(ManualLoop())
        session.assignServer(session, be)
        session.attemptFailed(session, be, clientActive: true)
        session.attemptFailed(session, be, clientActive: true)
        #expect(session.attempted == [0, 1, 1])
        #expect(session.claim.redispatched)
        #expect(be.sessions.snapshot.redispatches == 1)
    }

    @Test func aClientGoneMeanwhileGivesTheSlotOn() throws {
        let be = try backend("    server s1 127.0.0.1:1 maxconn 1")
        let loop = ManualLoop()
        let first = FakeSession(loop)
        let gone = FakeSession(loop)
        let third = FakeSession(loop)
        first.assignServer(first, be)
        gone.assignServer(gone, be)
        third.assignServer(third, be)
        // The second's client left while queued, without leaving the queue (its session ended elsewhere).
        gone.ended = true
        first.leaveBackend(first, be)
        #expect(gone.attempted.isEmpty)
        #expect(third.attempted == [0], "the slot passes over the session that left, to the next")
        #expect(be.shared.withLock { $0.balancer.servers[0].connections } == 1)
        third.leaveBackend(third, be)
        #expect(be.shared.withLock { $0.balancer.servers[0].connections } == 0)
    }

    /// `maxqueue`: a server whose own queue is full (`balance source` keeps a client on its server) sends the next
    /// session to another server with a slot, else to the backend's queue.
    @Test func maxqueueSendsTheSessionElsewhere() throws {
        let be = try backend(
            "    balance source\n    server s1 127.0.0.1:1 maxconn 1 maxqueue 1\n    server s2 127.0.0.1:2 maxconn 1 maxqueue 1")
        let sessions = (0..<4).map { _ in FakeSession(ManualLoop()) }
        for session in sessions { session.assignServer(session, be) }
        let hashed = try #require(sessions[0].attempted.first)
        #expect(sessions[1].attempted.isEmpty && sessions[1].ticket != nil, "waits in its server's queue")
        #expect(sessions[2].attempted == [1 - hashed], "the queue is full: the other server")
        #expect(sessions[3].attempted.isEmpty && sessions[3].ticket != nil, "both full: the backend's queue")
        #expect(be.shared.withLock { ($0.queues.count(server: hashed), $0.queues.backendCount) } == (1, 1))
    }

    @Test func noServerUpIsNoServer() throws {
        let be = try backend("    server s1 127.0.0.1:1 disabled")
        let session = FakeSession(ManualLoop())
        session.assignServer(session, be)
        #expect(session.failure == .noServer)
        #expect(session.claim.server == nil)
    }
}
