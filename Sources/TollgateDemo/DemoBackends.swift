import ArgumentParser
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport

/// `tollgate-demo --backends 18066,18067 --agents 48700`: the demo's database nodes (`EchoBackend`: each sends
/// back what it reads, standing in for the seed's MySQL middleware) and the check agent that replaces the seed's xinetd
/// script (`HTTP/1.1 200 OK` to whatever asks), on 127.0.0.1 until the process is stopped.
enum DemoBackends {
    static func run(backends: [Int], agents: [Int]) throws -> Never {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let started = DispatchSemaphore(value: 0)
        let failure = NIOLockedValueBox<String?>(nil)
        Task {
            do {
                for port in backends { _ = try await EchoBackend(port: port) }
            } catch {
                failure.withLockedValue { $0 = "\(error)" }
            }
            started.signal()
        }
        started.wait()
        if let failure = failure.withLockedValue({ $0 }) {
            throw ValidationError("cannot start the backends: \(failure)")
        }
        for port in agents {
            _ = try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Agent()) }
                }
                .bind(host: "127.0.0.1", port: port).wait()
        }
        print(
            "demo backends on \(backends.map(String.init).joined(separator: ", ")), check agent on "
                + agents.map(String.init).joined(separator: ", "))
        while true { pause() }
    }

    private final class Agent: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\n\r\n"))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
