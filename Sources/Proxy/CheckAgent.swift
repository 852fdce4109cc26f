import Dispatch
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `proxy check-agent`: what the seed ran with xinetd and a shell script on each node (port 48700): every
/// connection gets `HTTP/1.1 200 OK` when the node is fine and `HTTP/1.1 503 Service Unavailable` when not, so
/// that `option httpchk` (ours or HAProxy's) can tell. Fine means: the probed TCP address accepts a connection
/// within the timeout, or the probe command exits with status 0.
public final class CheckAgent: Sendable {
    public enum Probe: Sendable {
        case tcp(host: String, port: Int)
        case command(String)
    }

    private let probe: Probe
    private let timeout: TimeAmount
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// Listens on `host:port` (port 0: one the system chooses; read `port`).
    public init(host: String, port: Int, probe: Probe, timeout: TimeAmount = .seconds(2)) async throws {
        self.probe = probe
        self.timeout = timeout
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AgentHandler(probe: probe, timeout: timeout))
                }
            }
            .bind(host: host, port: port).get()
    }

    public var port: Int { channel.localAddress?.port ?? 0 }

    public func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    /// The answer for a probe's outcome, as the seed's script words it.
    static func answer(up: Bool) -> String {
        let body = up ? "Node is up.\r\n" : "Node is down.\r\n"
        let status = up ? "200 OK" : "503 Service Unavailable"
        return "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
            + "Connection: close\r\n\r\n\(body)"
    }

    /// Runs the probe off the event loop (a command may take its time); the answer goes back on the loop.
    static func check(_ probe: Probe, timeout: TimeAmount, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        switch probe {
        case .tcp(let host, let port):
            return ClientBootstrap(group: loop).connectTimeout(timeout).connect(host: host, port: port)
                .map { channel in
                    channel.close(promise: nil)
                    return true
                }
                .recover { _ in false }
        case .command(let command):
            let promise = loop.makePromise(of: Bool.self)
            DispatchQueue.global().async {
                promise.succeed(CheckAgent.run(command))
            }
            return promise.futureResult
        }
    }

    /// `/bin/sh -c COMMAND`, true when it exits with 0.
    static func run(_ command: String) -> Bool {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { for p in argv { free(p) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ) == 0 else { return false }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status == 0
    }
}

/// Answers one connection: probe, then the HTTP status, then close. Whatever the client sent is not needed.
final class AgentHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let probe: CheckAgent.Probe
    private let timeout: TimeAmount

    init(probe: CheckAgent.Probe, timeout: TimeAmount) {
        self.probe = probe
        self.timeout = timeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        CheckAgent.check(probe, timeout: timeout, on: context.eventLoop).whenSuccess { up in
            channel.writeAndFlush(ByteBuffer(string: CheckAgent.answer(up: up))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
