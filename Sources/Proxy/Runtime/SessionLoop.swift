import NIOCore
import TCPPlane

/// The thread a session lives on, as the backend path needs it: to come back to it from another thread (a slot
/// freed by a session of another loop) and to time a wait in a queue. A NIO event loop is one; a data plane with
/// loops of its own (not NIO channels) supplies its own conformance.
protocol SessionLoop: Sendable {
    /// Whether the caller runs on this loop now.
    var isCurrent: Bool { get }
    /// Runs `body` at once when called on this loop, else queued to it.
    func runNowOrSoon(_ body: @escaping @Sendable () -> Void)
    /// Runs `body` on this loop after `delay`, unless cancelled first. Called on the loop; `body` stays on it.
    func schedule(after delay: TimeAmount, _ body: @escaping () -> Void) -> any SessionTimer
}

/// A timer of `SessionLoop.schedule`.
protocol SessionTimer {
    func cancel()
}

extension Scheduled: SessionTimer {}

/// A value that may cross threads only to be used on its loop: the hop back to a session (checked on use in
/// debug builds, as NIO's `NIOLoopBound` checks it for event loops).
struct LoopBound<Value>: @unchecked Sendable {
    private let stored: Value
    private let loop: any SessionLoop
    init(_ value: Value, loop: any SessionLoop) {
        stored = value
        self.loop = loop
    }
    var value: Value {
        assert(loop.isCurrent, "a session's state used off its loop")
        return stored
    }
}

/// NIO's event loops, for the sessions on NIO channels.
struct NIOSessionLoop: SessionLoop {
    let loop: any EventLoop
    var isCurrent: Bool { loop.inEventLoop }
    func runNowOrSoon(_ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }
    func schedule(after delay: TimeAmount, _ body: @escaping () -> Void) -> any SessionTimer {
        loop.assumeIsolated().scheduleTask(in: delay, body)
    }
}

/// The loop of a TCP session: a NIO event loop (sessions on NIO's channels: TLS listeners, PROXY protocol) or a
/// loop of the TCP data plane (plain TCP).
enum TCPSessionLoop: SessionLoop {
    case nio(any EventLoop)
    case plane(PlaneLoop)

    var isCurrent: Bool {
        switch self {
        case .nio(let loop): loop.inEventLoop
        case .plane(let loop): loop.isCurrent
        }
    }

    func runNowOrSoon(_ body: @escaping @Sendable () -> Void) {
        switch self {
        case .nio(let loop): if loop.inEventLoop { body() } else { loop.execute(body) }
        case .plane(let loop): loop.runNowOrSoon(body)
        }
    }

    func schedule(after delay: TimeAmount, _ body: @escaping () -> Void) -> any SessionTimer {
        switch self {
        case .nio(let loop): loop.assumeIsolated().scheduleTask(in: delay, body)
        case .plane(let loop): loop.schedule(after: delay, body)
        }
    }
}

extension PlaneTimer: SessionTimer {}
