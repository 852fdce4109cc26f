import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The `stats socket` listeners: a UNIX socket (bound under a temporary name, given its `mode` and owner, then
/// renamed over the path, so that a reload replaces the old process's socket in one step, as HAProxy does) or a TCP
/// one, each connection served by a `CLIConnectionHandler` at the socket's level; at most `stats maxconn`
/// connections at once.
final class StatsSocketListener: Sendable {
    private let api: RuntimeAPI
    private let sockets: [StatsSocket]
    private let timeout: TimeAmount
    private let maxConnections: Int
    private let open = Atomic<Int>(0)
    private let channels = Mutex<[(channel: any Channel, path: String?, inode: ino_t)]>([])
    private let acceptors = Mutex<[(acceptor: UnixAcceptor, path: String, inode: ino_t)]>([])

    init(api: RuntimeAPI, global: GlobalSettings) {
        self.api = api
        sockets = global.statsSockets
        timeout = .microseconds(global.statsTimeout.microseconds)
        maxConnections = global.statsMaxconn
    }

    /// Binds every socket; a socket that cannot be made stops the start with its reason. `listeners` gives the
    /// proxy's listening sockets for `_getsocks` (`expose-fd listeners`).
    func start(group: any EventLoopGroup, listeners: @escaping @Sendable () -> [Int32]) async throws {
        for socket in sockets {
            let label = socket.address.description
            do {
                switch socket.address {
                case .unix(let path):
                    try startUnix(socket, path: path, label: label, group: group, listeners: listeners)
                case .tcp(let host, let port):
                    let channel = try await ServerBootstrap(group: group)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .childChannelInitializer { [self] channel in
                            channel.eventLoop.makeCompletedFuture {
                                guard admit(channel) else { return }
                                try channel.pipeline.syncOperations.addHandler(
                                    CLIConnectionHandler(api: api, level: socket.level, timeout: timeout, socket: label))
                            }
                        }
                        .bind(host: host, port: port).get()
                    channels.withLock { $0.append((channel, nil, 0)) }
                }
            } catch {
                throw ListenerStartError("stats socket \(label): cannot bind: \(error)")
            }
        }
    }

    /// `stats maxconn`: a connection beyond it is closed at once.
    private func admit(_ channel: any Channel) -> Bool {
        guard open.add(1, ordering: .relaxed).newValue <= maxConnections else {
            open.subtract(1, ordering: .relaxed)
            channel.close(promise: nil)
            return false
        }
        channel.closeFuture.whenComplete { [self] _ in open.subtract(1, ordering: .relaxed) }
        return true
    }

    /// A UNIX socket: made here (not by NIO) and accepted by a thread of its own, so that each connection's
    /// descriptor is known for `_getsocks`; the connections are then served on the event loops. Bound under a
    /// temporary name, given its mode and owner, then renamed over the path.
    private func startUnix(
        _ socket: StatsSocket, path: String, label: String, group: any EventLoopGroup,
        listeners: @escaping @Sendable () -> [Int32]
    ) throws {
        var ownership = UnixBind()
        (ownership.mode, ownership.uid, ownership.gid) = (socket.mode, socket.uid, socket.gid)
        let (fd, inode): (Int32, ino_t)
        do {
            (fd, inode) = try ListenerHandoff.placeUnixListener(at: path, ownership: ownership)
        } catch let failure as ListenerHandoff.Failure {
            throw StartError(failure.description)
        }
        let (api, timeout) = (self.api, self.timeout)
        let acceptor = UnixAcceptor(fd: fd, name: "proxy stats socket \(path)") { [self] client in
            ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard self.admit(channel) else { return }
                        try channel.pipeline.syncOperations.addHandler(
                            CLIConnectionHandler(
                                api: api, level: socket.level, timeout: timeout, socket: label,
                                handoff: socket.exposeListeners ? .init(descriptor: client, listeners: listeners) : nil))
                    }
                }
                .withConnectedSocket(client)
                .whenFailure { _ in close(client) }
        }
        acceptors.withLock { $0.append((acceptor, path, inode)) }
    }

    /// Closes the sockets; a UNIX socket's file is removed unless a newer process has put its own there.
    func stop() async {
        let all = channels.withLock { list in
            defer { list = [] }
            return list
        }
        for (channel, _, _) in all { try? await channel.close() }
        let unix = acceptors.withLock { list in
            defer { list = [] }
            return list
        }
        for (acceptor, path, inode) in unix {
            acceptor.stop()
            var status = stat()
            if stat(path, &status) == 0 && status.st_ino == inode { unlink(path) }
        }
    }

    struct StartError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// One runtime API connection, as HAProxy's CLI serves it: lines in, each line's `;`-separated commands run in
/// order, each answer followed by an empty line (and `> ` in prompt mode). Without prompt mode the connection
/// closes once the lines received so far are answered; `quit` closes it at once; it closes after `stats timeout`
/// (or `set timeout cli`) without a line. A line longer than 16 KiB (HAProxy's buffer) closes it.
final class CLIConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let maximumLine = 16_384

    /// `expose-fd listeners`: this connection's descriptor and the proxy's listening sockets, for `_getsocks`.
    struct Handoff {
        let descriptor: Int32
        let listeners: @Sendable () -> [Int32]
    }

    private let api: RuntimeAPI
    private let handoff: Handoff?
    private var session: CLISession
    private var pending: [UInt8] = []
    private var idle: Scheduled<Void>?
    private var closing = false

    init(api: RuntimeAPI, level: RuntimeLevel, timeout: TimeAmount, socket: String, handoff: Handoff? = nil) {
        self.api = api
        self.handoff = handoff
        session = CLISession(level: level, timeout: timeout, peer: "", socket: socket)
    }

    func channelActive(context: ChannelHandlerContext) {
        setPeer(CLIConnectionHandler.address(context.channel) ?? "peer=unknown")
        // A UNIX peer: its uid and pid (SO_PEERCRED; on the loop, the future is already complete).
        if context.channel.remoteAddress?.ipAddress == nil, let provider = context.channel as? any SocketOptionProvider {
            let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            credentials.assumeIsolated().whenSuccess { [self] c in setPeer("uid=\(c.uid) pid=\(c.pid)") }
        }
        armTimeout(context)
        context.fireChannelActive()
    }

    private func setPeer(_ peer: String) {
        session = CLISession(level: session.level, timeout: session.timeout, peer: peer, socket: session.socket)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idle?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        var buffer = unwrapInboundIn(data)
        pending.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
        var out = ""
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            for words in CLICommandLine.commands(line) {
                if words == ["_getsocks"] {
                    // A new process (`-x`) takes the listening sockets; the exchange is its own, then the connection
                    // closes. Without `expose-fd listeners` nothing is sent.
                    if let handoff { _ = ListenerHandoff.send(handoff.listeners(), on: handoff.descriptor) }
                    return finish(context, "")
                }
                let reply = api.execute(words, &session)
                if reply.quit {
                    return finish(context, out)
                }
                out += reply.text + "\n"
                if session.interactive { out += "> " }
            }
            if !session.interactive { return finish(context, out) }
        }
        if pending.count > CLIConnectionHandler.maximumLine { return finish(context, out) }
        if !out.isEmpty { write(context, out) }
        armTimeout(context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func write(_ context: ChannelHandlerContext, _ text: String) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
    }

    /// Answers what is left, then closes.
    private func finish(_ context: ChannelHandlerContext, _ text: String) {
        closing = true
        idle?.cancel()
        let buffer = context.channel.allocator.buffer(string: text)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func armTimeout(_ context: ChannelHandlerContext) {
        idle?.cancel()
        let channel = context.channel
        idle = context.eventLoop.scheduleTask(in: session.timeout) { channel.close(promise: nil) }
    }

    /// A TCP client's address, for the audit trail.
    static func address(_ channel: any Channel) -> String? {
        guard let remote = channel.remoteAddress, let ip = remote.ipAddress else { return nil }
        return "client=\(remote.protocol == .inet6 ? "[\(ip)]" : ip):\(remote.port ?? 0)"
    }
}

@available(*, unavailable)
extension CLIConnectionHandler: Sendable {}

/// Linux's `struct ucred` (which Swift's Glibc module does not import): what SO_PEERCRED fills.
struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Accepts connections on a listening UNIX socket on a thread of its own (polling, so that `stop` ends it within a
/// fifth of a second), handing each accepted descriptor to `accepted`.
final class UnixAcceptor: Sendable {
    private let fd: Int32
    private let running = NIOLockedValueBox(true)
    private let finished = DispatchSemaphore(value: 0)

    init(fd: Int32, name: String, accepted: @escaping @Sendable (Int32) -> Void) {
        self.fd = fd
        let running = self.running
        let finished = self.finished
        let thread = Thread {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while running.withLockedValue({ $0 }) {
                guard poll(&poller, 1, 200) > 0 else { continue }
                let client = accept(fd, nil, nil)
                guard client >= 0 else { continue }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                accepted(client)
            }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops accepting and closes the socket.
    func stop() {
        let wasRunning = running.withLockedValue { value -> Bool in
            defer { value = false }
            return value
        }
        guard wasRunning else { return }
        finished.wait()
        close(fd)
    }
}
