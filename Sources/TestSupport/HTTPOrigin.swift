import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A keep-alive HTTP/1.1 origin on 127.0.0.1 built on NIOHTTP1, for the proxy's HTTP tests:
/// - `GET /chunked`: a chunked response in three parts;
/// - `POST /echo` (any body, either framing): `got N bytes`;
/// - `GET /hang`: never answers; `GET /drop`: closes without answering;
/// - `GET /missing`: `404 Not Found` with `not found\n`;
/// - `GET /health`: the status `setHealth` chose (200 at first), for health checks;
/// - `GET /slow`: as anything else, a second later; `GET /held`: as anything else, once `releaseHeld` is called;
/// - anything else: `200 OK` with `origin NAME\n` and a `Content-Length`.
/// It counts the connections it accepted (to see server-side reuse) and keeps the last request head it read.
public final class HTTPOrigin: Sendable {
    public let port: Int
    public let name: String
    private let channel: any Channel
    private let state = NIOLockedValueBox((connections: 0, lastHead: HTTPRequestHead?.none))
    private let health = NIOLockedValueBox(200)
    private let held = NIOLockedValueBox<[@Sendable () -> Void]>([])

    /// How many `GET /held` requests wait.
    public var heldCount: Int { held.withLockedValue { $0.count } }

    /// Answers the `GET /held` requests waiting so far.
    public func releaseHeld() {
        for answer in held.withLockedValue({ list in defer { list = [] }; return list }) { answer() }
    }

    /// What `GET /health` answers from now on.
    public func setHealth(_ status: Int) { health.withLockedValue { $0 = status } }

    public var connections: Int { state.withLockedValue { $0.connections } }
    public var lastHead: HTTPRequestHead? { state.withLockedValue { $0.lastHead } }

    public init(
        name: String, port requested: Int = 0, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws {
        self.name = name
        let state = self.state
        let health = self.health
        let held = self.held
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(name: name, state: state, health: health, held: held))
                }
            }
            .bind(host: "127.0.0.1", port: requested).get()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    public func close() async throws { try await channel.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        let state: NIOLockedValueBox<(connections: Int, lastHead: HTTPRequestHead?)>
        var head: HTTPRequestHead?
        var received = 0

        let health: NIOLockedValueBox<Int>
        let held: NIOLockedValueBox<[@Sendable () -> Void]>

        init(
            name: String, state: NIOLockedValueBox<(connections: Int, lastHead: HTTPRequestHead?)>,
            health: NIOLockedValueBox<Int>, held: NIOLockedValueBox<[@Sendable () -> Void]>
        ) {
            self.name = name
            self.state = state
            self.health = health
            self.held = held
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                received = 0
                state.withLockedValue { $0.lastHead = h }
            case .body(let b):
                received += b.readableBytes
            case .end:
                guard let head else { return }
                respond(context, head)
            }
        }

        private func respond(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
            switch head.uri {
            case "/hang":
                return
            case "/slow":
                context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.plain(context, head) }
            case "/held":
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                let loop = context.eventLoop
                held.withLockedValue { $0.append({ loop.execute { bound.value.0.plain(bound.value.1, head) } }) }
            case "/drop":
                context.close(promise: nil)
                return
            case "/chunked":
                var headers = HTTPHeaders()
                headers.add(name: "Transfer-Encoding", value: "chunked")
                context.write(
                    wrapOutboundOut(.head(.init(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                for part in ["one ", "two ", "three\n"] {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: part)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case "/missing":
                send(context, .notFound, "not found\n", type: "text/plain")
            case "/health":
                let status = HTTPResponseStatus(statusCode: health.withLockedValue { $0 })
                send(context, status, "\(status.code)\n", type: nil)
            default:
                plain(context, head)
            }
        }

        private func plain(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
            send(context, .ok, head.uri == "/echo" ? "got \(received) bytes\n" : "origin \(name)\n", type: "text/plain")
        }

        /// A response with a `Content-Length`, head and body in one flush (one segment on loopback).
        private func send(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ text: String, type: String?) {
            var headers = HTTPHeaders()
            if let type { headers.add(name: "Content-Type", value: type) }
            headers.add(name: "Content-Length", value: "\(text.utf8.count)")
            context.write(wrapOutboundOut(.head(.init(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
