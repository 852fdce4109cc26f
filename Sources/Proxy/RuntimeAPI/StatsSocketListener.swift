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

    init(api: RuntimeAPI, global: GlobalSettings) {
        self.api = api
        sockets = global.statsSockets
        timeout = .microseconds(global.statsTimeout.microseconds)
        maxConnections = global.statsMaxconn
    }

    /// Binds every socket; a socket that cannot be made stops the start with its reason.
    func start(group: any EventLoopGroup) async throws {
        for socket in sockets {
            let label = socket.address.description
            let bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard open.add(1, ordering: .relaxed).newValue <= maxConnections else {
                            open.subtract(1, ordering: .relaxed)
                            channel.close(promise: nil)
                            return
                        }
                        channel.closeFuture.whenComplete { [self] _ in open.subtract(1, ordering: .relaxed) }
                        try channel.pipeline.syncOperations.addHandler(
                            CLIConnectionHandler(api: api, level: socket.level, timeout: timeout, socket: label))
                    }
                }
            do {
                switch socket.address {
                case .unix(let path):
                    let temporary = "\(path).\(getpid()).tmp"
                    let channel = try await bootstrap.bind(unixDomainSocketPath: temporary, cleanupExistingSocketFile: true)
                        .get()
                    if let mode = socket.mode, chmod(temporary, mode_t(mode)) != 0 {
                        throw StartError("cannot set mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
                    }
                    if socket.uid != nil || socket.gid != nil,
                        chown(temporary, socket.uid ?? UInt32.max, socket.gid ?? UInt32.max) != 0
                    {
                        throw StartError("cannot change its owner: \(String(cString: strerror(errno)))")
                    }
                    guard rename(temporary, path) == 0 else {
                        let reason = String(cString: strerror(errno))
                        unlink(temporary)
                        throw StartError(reason)
                    }
                    var status = stat()
                    let inode = stat(path, &status) == 0 ? status.st_ino : 0
                    channels.withLock { $0.append((channel, path, inode)) }
                case .tcp(let host, let port):
                    let channel = try await bootstrap.bind(host: host, port: port).get()
                    channels.withLock { $0.append((channel, nil, 0)) }
                }
            } catch {
                throw ListenerStartError("stats socket \(label): cannot bind: \(error)")
            }
        }
    }

    /// Closes the sockets; a UNIX socket's file is removed unless a newer process has put its own there.
    func stop() async {
        let all = channels.withLock { list in
            defer { list = [] }
            return list
        }
        for (channel, path, inode) in all {
            try? await channel.close()
            guard let path else { continue }
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

    private let api: RuntimeAPI
    private var session: CLISession
    private var pending: [UInt8] = []
    private var idle: Scheduled<Void>?
    private var closing = false

    init(api: RuntimeAPI, level: RuntimeLevel, timeout: TimeAmount, socket: String) {
        self.api = api
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
