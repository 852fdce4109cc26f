import CDatagrams
import Foundation
import NIOCore
import Synchronization
import Testing
import TestSupport

@testable import TCPPlane

/// What the relay fixture saw: each side's close (was it the client's, did an error end it) and the idle timeouts.
final class RelayRecord: Sendable {
    let closes = Mutex<[(client: Bool, error: Bool)]>([])
    let timeouts = Atomic<Int>(0)
    let connectFailures = Mutex<[Int32]>([])
    var closeCount: Int { closes.withLock { $0.count } }
}

/// The TCP data plane's own layer on real loopback sockets: a plane listener whose accepted clients are relayed to
/// `target` (a non-blocking connect from the same loop), every side's close recorded.
final class RelayFixture: Sendable {
    let loop: PlaneLoop
    let listener: PlaneListener
    let port: Int
    let record = RelayRecord()

    init(target: Int, serverIdle: TimeAmount? = nil, connectTimeout: TimeAmount? = .seconds(2)) throws {
        loop = try PlaneLoop()
        try loop.start()
        let fd = tollgate_tcp_listener("127.0.0.1", 0, -1, 128)
        guard fd >= 0 else { throw PeerFailed(description: "cannot listen: errno \(errno)") }
        var ip = [CChar](repeating: 0, count: 64)
        var bound: Int32 = 0
        _ = tollgate_socket_name(fd, &ip, 64, &bound)
        port = Int(bound)
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: target)
        let record = record
        listener = PlaneListener(descriptor: fd, loops: [loop], keepalive: false) { client, _ in
            client.onClose = { error in record.closes.withLock { $0.append((true, error)) } }
            PlaneStream.connect(
                to: address, on: client.loop, keepalive: false, timeout: connectTimeout, idleTimeout: serverIdle,
                finTimeout: nil
            ) { result in
                switch result {
                case .success(let server):
                    server.onClose = { error in record.closes.withLock { $0.append((false, error)) } }
                    server.onTimeout = { [unowned server] in
                        record.timeouts.add(1, ordering: .relaxed)
                        server.close()
                    }
                    PlaneStream.relay(client, server)
                case .failure(let error):
                    record.connectFailures.withLock { $0.append(error.code) }
                    client.close()
                }
            }
        }
        listener.start()
    }

    func stop() {
        listener.close()
        loop.stop()
    }
}

/// What a blocking read of `fd` ends with: the bytes, and whether the peer closed (0 or a reset) rather than the
/// receive timeout passing.
func readToEnd(_ fd: Int32) -> (bytes: [UInt8], closed: Bool) {
    var all: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            all += buffer[..<n]
            continue
        }
        return (all, n == 0 || errno == ECONNRESET)
    }
}

@Suite("TCP data plane: relay, back-pressure, half-close, timeouts on loopback")
struct PlaneRelayTests {
    @Test func relaysBothWaysAndPassesTheHalfCloseOn() async throws {
        let echo = try await EchoBackend()
        let fixture = try RelayFixture(target: echo.port)
        defer { fixture.stop() }
        let small = try await blocking { try Peers.exchange(port: fixture.port, Array("hello".utf8), halfClose: true) }
        #expect(small == Array("hello".utf8))
        // More than any socket buffer: the relay holds what the echo cannot take yet and waits (back-pressure).
        var generator = SystemRandomNumberGenerator()
        let big = (0..<8_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let echoed = try await blocking { try Peers.exchangeStreaming(port: fixture.port, big) }
        #expect(echoed.count == big.count)
        #expect(echoed == big)
        // Both sessions ended by the half-closes, without an error: four sides closed.
        #expect(Peers.waitUntil(seconds: 5) { fixture.record.closeCount == 4 })
        #expect(fixture.record.closes.withLock { $0.allSatisfy { !$0.error } })
        try await echo.close()
    }

    @Test func aServerThatResetsAtOnceClosesTheClient() async throws {
        // The server's side fails while the relay is being joined: the client must be closed, not left open.
        let server = try ResettingServer()
        defer { server.stop() }
        let fixture = try RelayFixture(target: server.port)
        defer { fixture.stop() }
        for _ in 0..<20 {
            let (_, closed) = try await blocking {
                let fd = try Peers.connectLoopback(port: fixture.port, timeoutSeconds: 5)
                defer { close(fd) }
                _ = send(fd, "x", 1, 0)
                shutdown(fd, Int32(SHUT_WR))
                return readToEnd(fd)
            }
            #expect(closed, "the client was left open after its server reset")
        }
        // Each client's side closed; each server's closed, or its connect failed (the reset came first).
        #expect(
            Peers.waitUntil(seconds: 5) {
                fixture.record.closes.withLock { $0.filter(\.client).count } == 20
                    && fixture.record.closes.withLock { $0.filter { !$0.client }.count }
                        + fixture.record.connectFailures.withLock(\.count) == 20
            })
    }

    @Test func anIdleServerSideTimesOut() async throws {
        let stalled = try StalledServer()
        defer { stalled.stop() }
        let fixture = try RelayFixture(target: stalled.port, serverIdle: .milliseconds(200))
        defer { fixture.stop() }
        let (bytes, closed) = try await blocking {
            let fd = try Peers.connectLoopback(port: fixture.port, timeoutSeconds: 5)
            defer { close(fd) }
            _ = send(fd, "anyone?", 7, 0)
            return readToEnd(fd)
        }
        #expect(bytes.isEmpty)
        #expect(closed)
        #expect(fixture.record.timeouts.load(ordering: .relaxed) == 1)
    }

    @Test func aRefusedConnectAndAConnectTimeoutFail() async throws {
        let refusing = try RefusingPort()
        defer { refusing.close() }
        let fixture = try RelayFixture(target: refusing.port)
        defer { fixture.stop() }
        let refused = try await blocking { try Peers.exchange(port: fixture.port, Array("x".utf8), halfClose: true) }
        #expect(refused.isEmpty)
        #expect(Peers.waitUntil(seconds: 5) { fixture.record.connectFailures.withLock { $0 } == [111] })  // ECONNREFUSED

        // A backlog of one, already taken: the next SYN is dropped and the connect waits for its timeout.
        let full = try StalledServer(backlog: 0)
        defer { full.stop() }
        let taken = try Peers.connectLoopback(port: full.port, timeoutSeconds: 1)
        defer { close(taken) }
        let slow = try RelayFixture(target: full.port, connectTimeout: .milliseconds(200))
        defer { slow.stop() }
        let answer = try await blocking { try Peers.exchange(port: slow.port, Array("x".utf8), halfClose: true) }
        #expect(answer.isEmpty)
        #expect(Peers.waitUntil(seconds: 5) { slow.record.connectFailures.withLock { $0 } == [110] })  // ETIMEDOUT
    }

    @Test func aPausedListenerLeavesConnectionsInTheBacklogAndAClosedOneStopsListening() async throws {
        let echo = try await EchoBackend()
        let fixture = try RelayFixture(target: echo.port)
        defer { fixture.stop() }
        fixture.listener.accepting { false }
        // Wait for the loop to have paused (a task behind this one runs after it).
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            fixture.loop.execute { done.resume() }
        }
        let fd = try Peers.connectLoopback(port: fixture.port, timeoutSeconds: 5)
        defer { close(fd) }
        _ = send(fd, "later", 5, 0)
        shutdown(fd, Int32(SHUT_WR))
        usleep(200_000)
        #expect(fixture.record.closeCount == 0)
        fixture.listener.accepting { true }
        let (bytes, closed) = try await blocking { readToEnd(fd) }
        #expect(bytes == Array("later".utf8))
        #expect(closed)
        fixture.listener.close()
        #expect(Peers.waitUntil(seconds: 5) { !Peers.isListening(port: fixture.port) })
        try await echo.close()
    }
}

@Suite("TCP data plane: a side's first bytes, read before the relay")
struct PlaneEarlyReadTests {
    @Test func bytesThatArrivedBeforeTheSessionAskedForThemAreRead() async throws {
        // A session held back (maxconn) asks for the client's first bytes only later, after their edge has passed.
        let loop = try PlaneLoop()
        try loop.start()
        defer { loop.stop() }
        let fd = tollgate_tcp_listener("127.0.0.1", 0, -1, 128)
        var ip = [CChar](repeating: 0, count: 64)
        var bound: Int32 = 0
        _ = tollgate_socket_name(fd, &ip, 64, &bound)
        let seen = Mutex<[UInt8]?>(nil)
        let listener = PlaneListener(descriptor: fd, loops: [loop], keepalive: false) { client, _ in
            _ = client.loop.schedule(after: .milliseconds(200)) {
                client.readsBeforeAttach = true
                seen.withLock { $0 = client.earlyBytes }
                client.close()
            }
        }
        listener.start()
        defer { listener.close() }
        let port = Int(bound)
        let sent = try await blocking {
            let fd = try Peers.connectLoopback(port: port, timeoutSeconds: 5)
            defer { close(fd) }
            _ = send(fd, "hello", 5, 0)
            return readToEnd(fd).closed
        }
        #expect(sent)
        #expect(seen.withLock { $0 } == Array("hello".utf8))
    }
}

@Suite("TCP data plane: the loop's timers")
struct PlaneTimerTests {
    @Test func timersFireInDeadlineOrderAndCancelledOnesLeaveTheHeap() async throws {
        let loop = try PlaneLoop()
        try loop.start()
        defer { loop.stop() }
        let fired = Mutex<[Int]>([])
        let (count, left) = try await withCheckedThrowingContinuation {
            (done: CheckedContinuation<(Int, Int), any Error>) in
            loop.execute {
                var timers: [PlaneTimer] = []
                // Deadlines in a scrambled order, every third cancelled.
                for i in 0..<60 {
                    let delay = (i * 37) % 60
                    timers.append(loop.schedule(after: .milliseconds(Int64(delay) * 2)) { fired.withLock { $0.append(delay) } })
                }
                for (i, timer) in timers.enumerated() where i % 3 == 0 { timer.cancel() }
                let count = loop.pendingTimers
                _ = loop.schedule(after: .milliseconds(200)) { done.resume(returning: (count, loop.pendingTimers)) }
            }
        }
        #expect(count == 40)
        #expect(left == 0)
        let order = fired.withLock { $0 }
        #expect(order.count == 40)
        #expect(order == order.sorted())
    }

    @Test func theHeapKeepsItsOrderThroughRandomInsertsAndRemovals() throws {
        let loop = try PlaneLoop()
        var heap = PlaneTimerHeap()
        var live: [PlaneTimer] = []
        var generator = SystemRandomNumberGenerator()
        let base = NIODeadline.now()
        for _ in 0..<2_000 {
            if !live.isEmpty && Bool.random(using: &generator) {
                let i = Int.random(in: 0..<live.count, using: &generator)
                heap.remove(live.remove(at: i))
            } else {
                let timer = PlaneTimer(
                    deadline: base + .milliseconds(Int64.random(in: 0..<1_000, using: &generator)), body: {}, loop: loop)
                heap.insert(timer)
                live.append(timer)
            }
            #expect(heap.count == live.count)
        }
        var last = NIODeadline.uptimeNanoseconds(0)
        while let first = heap.first {
            #expect(first.deadline >= last)
            last = first.deadline
            heap.remove(first)
        }
    }
}
