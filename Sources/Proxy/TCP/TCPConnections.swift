import NIOCore
import TCPPlane

/// One side of a TCP session's relay as the session sees it: NIO's `RelayHandler` on a channel, or a stream of the
/// TCP data plane. Both relay the same way (back-pressure, half-close passed on, idle and `-fin` timeouts).
protocol TCPRelaySide: AnyObject {
    /// Bytes read on this side (and handed to the other).
    var bytesIn: Int64 { get }
    /// What arrived before the other side was attached, and whether its sender ended its side then.
    var earlyBytes: [UInt8] { get }
    var earlyEnded: Bool { get }
    /// Read before the other side is attached (the content rules look at the client's first bytes).
    var readsBeforeAttach: Bool { get set }
    var onEarly: (() -> Void)? { get set }
    /// Called once when the side has closed, with whether an error (a reset) ended it.
    var onClose: ((_ error: Bool) -> Void)? { get set }
    var onTimeout: (() -> Void)? { get set }
}

extension RelayHandler: TCPRelaySide {}
extension PlaneStream: TCPRelaySide {}

/// The client's connection of a TCP session: an accepted NIO channel (its relay handler added when the session
/// begins), or an accepted stream of the data plane (its own relay side).
enum TCPClientConnection {
    case channel(any Channel, RelayHandler)
    case plane(PlaneStream, remote: SocketAddress?)

    var side: any TCPRelaySide {
        switch self {
        case .channel(_, let relay): relay
        case .plane(let stream, _): stream
        }
    }

    var loop: TCPSessionLoop {
        switch self {
        case .channel(let channel, _): .nio(channel.eventLoop)
        case .plane(let stream, _): .plane(stream.loop)
        }
    }

    var isActive: Bool {
        switch self {
        case .channel(let channel, _): channel.isActive
        case .plane(let stream, _): stream.isOpen
        }
    }

    var remoteAddress: SocketAddress? {
        switch self {
        case .channel(let channel, _): channel.remoteAddress
        case .plane(_, let remote): remote
        }
    }

    var localAddress: SocketAddress? {
        switch self {
        case .channel(let channel, _): channel.localAddress
        case .plane(let stream, _): stream.localAddress
        }
    }

    /// The relay's client side starts: on NIO its handler joins the channel's pipeline; a plane stream gets its
    /// idle timeouts.
    func start(idleTimeout: TimeAmount?, finTimeout: TimeAmount?) {
        switch self {
        case .channel(let channel, let relay): try? channel.pipeline.syncOperations.addHandler(relay)
        case .plane(let stream, _): stream.setIdleTimeout(idleTimeout, fin: finTimeout)
        }
    }

    /// Reads again after maxconn or a session rate held the connection back (a plane stream is not read before
    /// the session attaches it: nothing to resume).
    func resumeReading() {
        if case .channel(let channel, _) = self { try? channel.syncOptions?.setOption(.autoRead, value: true) }
    }

    func close() {
        switch self {
        case .channel(let channel, _): channel.close(promise: nil)
        case .plane(let stream, _): stream.close()
        }
    }

    /// HAProxy's `silent-drop`, before the close.
    func silence() {
        switch self {
        case .channel(let channel, _): SilentDrop.silence(channel)
        case .plane(let stream, _): stream.silence()
        }
    }
}

/// The server's connection of a TCP session, once connected.
enum TCPServerConnection {
    case channel(any Channel, RelayHandler)
    case plane(PlaneStream)

    var side: any TCPRelaySide {
        switch self {
        case .channel(_, let relay): relay
        case .plane(let stream): stream
        }
    }

    var localAddress: SocketAddress? {
        switch self {
        case .channel(let channel, _): channel.localAddress
        case .plane(let stream): stream.localAddress
        }
    }

    var remoteAddress: SocketAddress? {
        switch self {
        case .channel(let channel, _): channel.remoteAddress
        case .plane(let stream): stream.remoteAddress
        }
    }

    /// Writes `bytes` first (a PROXY protocol header), before anything relayed.
    func writeFirst(_ bytes: [UInt8]) {
        switch self {
        case .channel(let channel, _): channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
        case .plane(let stream): stream.write(bytes)
        }
    }

    func close() {
        switch self {
        case .channel(let channel, _): channel.close(promise: nil)
        case .plane(let stream): stream.close()
        }
    }

    /// Joins the two sides of the relay (what each read early goes over now).
    func attach(to client: TCPClientConnection) {
        switch (self, client) {
        case (.channel(_, let back), .channel(_, let front)):
            back.attach(front)
            front.attach(back)
        case (.plane(let back), .plane(let front, _)):
            PlaneStream.relay(front, back)
        default:
            // A session's two sides are always on the same kind of loop (the server's connection is made on the
            // client's).
            close()
        }
    }
}
