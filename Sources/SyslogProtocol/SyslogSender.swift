import CDatagrams
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Sends syslog messages without ever making its caller wait: a log line that cannot leave now is dropped and
/// counted, never queued without bound and never thrown at the caller (HAProxy's behaviour, which the proxy keeps).
///
/// - UDP and unix datagram targets use one non-blocking socket: a UDP one connected to its target, one `send` per
///   message or one `sendmmsg` per batch of up to 64 (`send(_:messages:)`); a unix one unconnected, one `sendto`
///   per message, looked up by path on every send, so a restarted receiver is reached again (HAProxy's chrooted
///   `/dev/log` problem does not arise).
/// - TCP targets use a SwiftNIO connection with octet-counted framing, reconnecting with backoff; while it is down
///   or backed up, messages are dropped and counted.
public final class SyslogSender: Sendable {
    /// Where messages go.
    public enum Target: Hashable, Sendable, CustomStringConvertible {
        case udp(host: String, port: Int)
        /// TCP with RFC 6587 framing: octet-counted (`@@(o)`, the default here) or LF-terminated (`@@`).
        case tcp(host: String, port: Int, framing: SyslogFrameEncoder.Framing = .octetCounting)
        case unixDatagram(path: String)

        public var description: String {
            switch self {
            case .udp(let host, let port): "udp@\(host):\(port)"
            case .tcp(let host, let port, _): "tcp@\(host):\(port)"
            case .unixDatagram(let path): path
            }
        }
    }

    /// What happened to the messages handed over so far.
    public struct Counters: Hashable, Sendable {
        /// Handed to the kernel (UDP, unix) or written to the connection (TCP).
        public var sent = 0
        /// Not sent because the socket or connection was full or down (HAProxy's `DroppedLogs`).
        public var dropped = 0
        /// Refused with another error (no receiver on a unix path, network unreachable…).
        public var failed = 0
        /// The last error number seen, 0 when none.
        public var lastErrno: Int32 = 0

        /// Counts a message that could not leave, by its error: a full socket (or no buffers) drops it, anything
        /// else fails it.
        mutating func notSent(errno error: Int32) {
            if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS { dropped += 1 } else { failed += 1 }
            lastErrno = error
        }

        mutating func add(_ other: Counters) {
            sent += other.sent
            dropped += other.dropped
            failed += other.failed
            if other.lastErrno != 0 { lastErrno = other.lastErrno }
        }
    }

    public let target: Target
    private let counters = CounterStore()
    private let datagram: DatagramSocket?
    private let stream: StreamConnection?

    /// Opens a sender. Resolves a UDP host once, here; TCP connects in the background on `group`.
    public init(target: Target, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.target = target
        switch target {
        case .udp(let host, let port):
            let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
            datagram = try DatagramSocket(address: address)
            stream = nil
        case .unixDatagram(let path):
            datagram = try DatagramSocket(address: SocketAddress(unixDomainSocketPath: path))
            stream = nil
        case .tcp(let host, let port, let framing):
            datagram = nil
            stream = StreamConnection(host: host, port: port, framing: framing, group: group)
        }
        stream?.onResult = { [counters] result in
            counters.state.withLock { c in
                switch result {
                case .sent: c.sent += 1
                case .dropped: c.dropped += 1
                }
            }
        }
        stream?.start()
    }

    /// Hands one message over; returns at once whatever happens to it.
    public func send(_ message: some Collection<UInt8>) {
        trySend(message)
    }

    /// `send`, saying whether the message was handed over (a datagram to the kernel, a TCP message to the
    /// connection's queue).
    @discardableResult
    public func trySend(_ message: some Collection<UInt8>) -> Bool {
        if let datagram {
            let outcome = datagram.send(message)
            counters.state.withLock { $0.add(outcome) }
            return outcome.sent == 1
        } else if let stream {
            stream.send(message)
        }
        return true
    }

    /// Hands over several messages at once, each a range of `bytes`: a UDP target sends up to 64 datagrams per
    /// system call (`sendmmsg`), the others take them one by one.
    public func send(_ bytes: [UInt8], messages: [Range<Int>]) {
        if let datagram, datagram.isConnected {
            let outcome = datagram.send(bytes, messages: messages)
            counters.state.withLock { $0.add(outcome) }
        } else {
            for range in messages { trySend(bytes[range]) }
        }
    }

    /// The counters so far.
    public var currentCounters: Counters { counters.state.withLock { $0 } }

    /// Closes the socket or connection; later sends are counted as failed.
    public func close() {
        datagram?.close()
        stream?.close()
    }

    deinit {
        datagram?.close()
    }
}

/// The counters behind a lock, in a class so that the TCP connection's callback can share them.
private final class CounterStore: Sendable {
    let state = Mutex(SyslogSender.Counters())
}

/// A non-blocking datagram socket for one destination, shared by every thread that logs. Sends take no lock (two
/// event loops sending at once would otherwise wait on each other for the length of a system call): `close` only
/// marks the socket closed, later sends fail with `EBADF`, and the descriptor is released when the socket goes
/// (so that no send can use a number the process has meanwhile given to another file).
private final class DatagramSocket: Sendable {
    private let fd: Int32
    private let closed = Atomic<Bool>(false)
    private let address: SocketAddress

    init(address: SocketAddress) throws {
        let family: Int32
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        case .unixDomainSocket: family = AF_UNIX
        }
        #if canImport(Darwin)
            let type = SOCK_DGRAM
        #else
            let type = Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #endif
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        // A UDP socket is connected to its one destination: the kernel keeps the route instead of looking it up
        // for every datagram. A unix datagram socket stays unconnected, so that a restarted receiver (a new
        // socket at the same path) is reached without reconnecting.
        var connected = false
        if family != AF_UNIX {
            connected = address.withSockAddr { sa, length in connect(fd, sa, socklen_t(length)) } == 0
        }
        self.fd = fd
        self.address = address
        self.connected = connected
    }

    private let connected: Bool
    var isConnected: Bool { connected }

    /// Sends each range of `bytes` as a datagram on the connected socket, 64 per `sendmmsg`; what was sent, and what
    /// was not (dropped when the socket was full, failed otherwise).
    func send(_ bytes: [UInt8], messages: some RandomAccessCollection<Range<Int>>) -> SyslogSender.Counters {
        var outcome = SyslogSender.Counters()
        let perCall = Int(TOLLGATE_DATAGRAMS_PER_CALL)
        let fd = closed.load(ordering: .acquiring) ? -1 : self.fd
        bytes.withUnsafeBytes { buffer in
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: perCall) { iov in
                guard let base = buffer.baseAddress, let vectors = iov.baseAddress else { return }
                var index = 0
                while index < messages.count {
                    let count = min(perCall, messages.count - index)
                    for i in 0..<count {
                        let range = messages[messages.index(messages.startIndex, offsetBy: index + i)]
                        vectors[i] = iovec(
                            iov_base: UnsafeMutableRawPointer(mutating: base + range.lowerBound),
                            iov_len: range.count)
                    }
                    var sent: Int32 = -1
                    var error: Int32 = EBADF
                    // As for one datagram: a refusal reported by an earlier datagram's ICMP is cleared by the
                    // failed call, which is made once more.
                    for _ in 0..<2 where fd >= 0 {
                        sent = tollgate_send_datagrams(fd, vectors, UInt32(count), Self.flags)
                        if sent >= 0 { break }
                        error = errno
                        if error != ECONNREFUSED { break }
                    }
                    if sent > 0 {
                        outcome.sent += Int(sent)
                        index += Int(sent)
                    } else {
                        // The first of these could not leave: counted, and the rest tried after it.
                        outcome.notSent(errno: error)
                        index += 1
                    }
                }
            }
        }
        return outcome
    }

    #if canImport(Darwin)
        private static let flags = Int32(MSG_DONTWAIT)
    #else
        private static let flags = Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)
    #endif

    /// Sends one datagram: on a connected socket as a batch of one (the same refusal handling), else by `sendto`.
    func send(_ message: some Collection<UInt8>) -> SyslogSender.Counters {
        let bytes = Array(message)
        if connected { return send(bytes, messages: CollectionOfOne(0..<bytes.count)) }
        var outcome = SyslogSender.Counters()
        guard !closed.load(ordering: .acquiring) else {
            outcome.notSent(errno: EBADF)
            return outcome
        }
        let sent = bytes.withUnsafeBytes { buffer in
            address.withSockAddr { sa, length in
                sendto(fd, buffer.baseAddress, buffer.count, Self.flags, sa, socklen_t(length))
            }
        }
        if sent >= 0 { outcome.sent = 1 } else { outcome.notSent(errno: errno) }
        return outcome
    }

    func close() { closed.store(true, ordering: .releasing) }

    deinit { _ = closeDescriptor(fd) }
}

/// `close(2)` under whichever C library this is built on.
@discardableResult
public func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
        Glibc.close(fd)
    #elseif canImport(Musl)
        Musl.close(fd)
    #else
        Darwin.close(fd)
    #endif
}

/// A TCP connection that reconnects by itself and refuses to buffer more than the kernel and NIO already do.
private final class StreamConnection: Sendable {
    enum Result { case sent, dropped }

    private struct State {
        var channel: (any Channel)?
        var closed = false
        var backoff: TimeAmount = .milliseconds(100)
        var onResult: (@Sendable (Result) -> Void)?
    }

    private let host: String
    private let port: Int
    private let framing: SyslogFrameEncoder.Framing
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    init(host: String, port: Int, framing: SyslogFrameEncoder.Framing, group: any EventLoopGroup) {
        self.host = host
        self.port = port
        self.framing = framing
        self.group = group
    }

    var onResult: (@Sendable (Result) -> Void)? {
        get { state.withLock { $0.onResult } }
        set { state.withLock { $0.onResult = newValue } }
    }

    func start() { connect() }

    private func connect() {
        if state.withLock({ $0.closed }) { return }
        let framing = self.framing
        let future = ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        MessageToByteHandler(SyslogFrameEncoder(framing: framing)))
                }
            }
            .connect(host: host, port: port)
        future.whenSuccess { [self] channel in
            let keep = state.withLock { s -> Bool in
                guard !s.closed else { return false }
                s.channel = channel
                s.backoff = .milliseconds(100)
                return true
            }
            guard keep else {
                channel.close(promise: nil)
                return
            }
            channel.closeFuture.whenComplete { [self] _ in
                state.withLock { $0.channel = nil }
                scheduleReconnect()
            }
        }
        future.whenFailure { [self] _ in scheduleReconnect() }
    }

    private func scheduleReconnect() {
        let delay = state.withLock { s -> TimeAmount? in
            guard !s.closed else { return nil }
            let d = s.backoff
            s.backoff = min(s.backoff * 2, .seconds(5))
            return d
        }
        guard let delay else { return }
        group.next().scheduleTask(in: delay) { [self] in connect() }
    }

    func send(_ message: some Collection<UInt8>) {
        let (channel, report) = state.withLock { ($0.channel, $0.onResult) }
        guard let channel, channel.isActive, channel.isWritable else {
            report?(.dropped)
            return
        }
        channel.writeAndFlush(ByteBuffer(bytes: message), promise: nil)
        report?(.sent)
    }

    func close() {
        let channel = state.withLock { s -> (any Channel)? in
            s.closed = true
            return s.channel
        }
        channel?.close(promise: nil)
    }
}
