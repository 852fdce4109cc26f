import Foundation
import HAProxyLog
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A UDP socket on 127.0.0.1 with a kernel-chosen port that hands every datagram it gets to an async stream.
public final class LoopbackUDPReceiver: Sendable {
    public let port: Int
    /// Each datagram with when it arrived (stamped on the receiver's own thread, not when a test reads it: a test
    /// process busy with other tests may read late).
    public let arrivals: AsyncStream<(bytes: [UInt8], at: ContinuousClock.Instant)>
    private let channel: any Channel

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: (bytes: [UInt8], at: ContinuousClock.Instant).self)
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.arrivals = stream
    }

    /// The next datagram, or nil when the receiver was closed.
    public func next() async -> [UInt8]? {
        await nextArrival()?.bytes
    }

    /// The next datagram and when it arrived, or nil when the receiver was closed.
    public func nextArrival() async -> (bytes: [UInt8], at: ContinuousClock.Instant)? {
        var iterator = arrivals.makeAsyncIterator()
        return await iterator.next()
    }

    public func close() async throws {
        try await channel.close()
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let continuation: AsyncStream<(bytes: [UInt8], at: ContinuousClock.Instant)>.Continuation
        init(continuation: AsyncStream<(bytes: [UInt8], at: ContinuousClock.Instant)>.Continuation) {
            self.continuation = continuation
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            continuation.yield((Array(envelope.data.readableBytesView), ContinuousClock.now))
        }
        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
            context.fireChannelInactive()
        }
    }
}

/// A TCP listener on 127.0.0.1 with a kernel-chosen port that collects the bytes of every connection.
public final class LoopbackTCPReceiver: Sendable {
    public let port: Int
    public let chunks: AsyncStream<[UInt8]>
    private let channel: any Channel

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.chunks = stream
    }

    /// Reads until `count` bytes have arrived in all.
    public func read(count: Int) async -> [UInt8] {
        var out: [UInt8] = []
        for await chunk in chunks {
            out.append(contentsOf: chunk)
            if out.count >= count { break }
        }
        return out
    }

    public func close() async throws {
        try await channel.close()
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<[UInt8]>.Continuation
        init(continuation: AsyncStream<[UInt8]>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(Array(unwrapInboundIn(data).readableBytesView))
        }
    }
}

/// A bound unix datagram socket (like /dev/log) read with plain POSIX calls: NIO drops datagrams from unbound
/// senders such as `logger` and `syslog(3)`.
public final class UnixDatagramReceiver: Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String) throws {
        unlink(path)
        #if canImport(Darwin)
            let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #else
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #endif
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let address = try SocketAddress(unixDomainSocketPath: path)
        let rc = address.withSockAddr { sa, length in bind(fd, sa, socklen_t(length)) }
        guard rc == 0 else {
            let error = errno
            close(fd)
            throw IOError(errnoCode: error, reason: "bind \(path)")
        }
        // Receive with a timeout so a test waiting for a datagram that never comes fails instead of hanging.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
        self.path = path
    }

    /// The next datagram, or nil after the 5-second receive timeout.
    public func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { return nil }
        return Array(buffer[..<n])
    }

    deinit {
        close(fd)
        unlink(path)
    }
}

extension LoopbackUDPReceiver {
    /// The next traffic line (tcplog/httplog) among the datagrams, skipping the proxy's other lines, with the
    /// record HAProxyLog reads back from it.
    public func nextTraffic() async -> (datagram: String, line: HAProxyLogRecord?)? {
        while let d = await next() {
            let text = String(decoding: d, as: UTF8.self)
            guard let colon = text.range(of: "]: ") else { continue }
            let message = Array(String(text[colon.upperBound...]).trimmingCharacters(in: .newlines).utf8)
            let record = message.withUnsafeBufferPointer { p -> HAProxyLogRecord? in
                guard case .traffic(let line) = HAProxyLogParser.parse(p) else { return nil }
                return line.record(in: p)
            }
            if record != nil { return (text, record) }
        }
        return nil
    }

    /// The next line whose message starts with `prefix` (e.g. `audit: `), as text.
    public func nextMessage(startingWith prefix: String) async -> String? {
        while let d = await next() {
            let text = String(decoding: d, as: UTF8.self)
            if let colon = text.range(of: "]: "), text[colon.upperBound...].hasPrefix(prefix) { return text }
        }
        return nil
    }
}

extension LoopbackUDPReceiver {
    /// The next datagram if one comes within `seconds`, else nil. The wait is not cancelled (a cancelled wait would
    /// end the stream): after a nil the receiver must not be read again, only closed (which ends the wait).
    public func next(within seconds: Double) async -> [UInt8]? {
        let box = NIOLockedValueBox<(done: Bool, value: [UInt8]?)>((false, nil))
        Task {
            let value = await self.next()
            box.withLockedValue { $0 = (true, value) }
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let result = box.withLockedValue({ $0.done ? $0 : nil }) { return result.value }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return box.withLockedValue { $0.value }
    }
}
