import NIOCore

/// One side of a TCP relay: what it reads goes to the other side's channel, with back-pressure (a side reads
/// only while the other can take more: NIO's writability), half-close passed on (a side's end of input shuts
/// the other's output), and a close passed on. Both channels live on the same event loop. With an idle timeout
/// (`timeout client` / `timeout server`), a side that neither reads nor writes for that long calls `onTimeout`
/// (kept here rather than in two more handlers per side: fewer allocations and hops per session).
final class RelayHandler: ChannelDuplexHandler, BatchFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    /// What arrived before the other side was connected (NIO delivers data and the end of input of a half-closed
    /// peer even without a read request): handed over by `attach`.
    private var early: [ByteBuffer] = []
    private var earlyEnd = false
    private var readPending = false
    /// Reads go on before `attach` (the server side of a TLS server: its handshake is read then; what comes
    /// after it waits in `early`).
    var readsBeforeAttach = false
    private var attached = false
    /// Called after what arrived before `attach` grew, or its sender ended its side (a TCP frontend's content rules
    /// read it: see `TCPSession.inspect`).
    var onEarly: (() -> Void)?
    private var earlyCount = 0

    /// What arrived before `attach`, in one piece.
    var earlyBytes: [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(earlyCount)
        for buffer in early { all += buffer.readableBytesView }
        return all
    }

    /// Whether the sender ended its side before `attach`.
    var earlyEnded: Bool { earlyEnd }
    /// Bytes read on this side (and handed to the other).
    private(set) var bytesIn: Int64 = 0
    /// Called once when this side's channel has closed, with whether it ended by an error (reset).
    var onClose: ((_ error: Bool) -> Void)?
    private var sawError = false
    /// The side's idle timeout (`timeout client` / `timeout server`), the sessions' one timer type; nil: none.
    private let idle: IdleTimer?
    /// Called when the side has been idle for its timeout.
    var onTimeout: (() -> Void)?

    /// `timeout client-fin` / `server-fin`: the idle timeout once this side's output is shut.
    private let finTimeout: TimeAmount?

    init(idleTimeout: TimeAmount? = nil, finTimeout: TimeAmount? = nil) {
        idle = (idleTimeout ?? finTimeout).map { IdleTimer(timeout: $0) }
        self.finTimeout = finTimeout
    }

    /// What is forwarded is flushed at the end of the event loop's batch (see `FlushBatch`).
    private var batch: FlushBatch?
    var flushQueued = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        batch = FlushBatch.current(on: context.eventLoop)
        if let idle {
            idle.expired = { [self] in onTimeout?() }
            idle.start(on: context.eventLoop)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        idle?.cancel()
        onTimeout = nil
    }

    // MARK: From this side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        bytesIn += Int64(buffer.readableBytes)
        idle?.touch()
        if let partner {
            partner.forward(buffer)
        } else {
            earlyCount += buffer.readableBytes
            early.append(buffer)
        }
    }

    /// Connects this side to the other: what arrived early goes over now.
    func attach(_ other: RelayHandler) {
        partner = other
        attached = true
        for buffer in early { other.forward(buffer) }
        early = []
        earlyCount = 0
        onEarly = nil
        if earlyEnd { other.shutOutput() } else { other.flushForwarded() }
        resumeReading()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let partner { partner.flushForwarded() } else { onEarly?() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            if let partner {
                partner.shutOutput()
            } else {
                earlyEnd = true
                onEarly?()
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        sawError = true
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idle?.cancel()
        // The callbacks hold the session: let go of them, or the session and this handler keep each other.
        onTimeout = nil
        onEarly = nil
        let close = onClose
        onClose = nil
        close?(sawError)
        partner?.closeAfterWrites()
        context.fireChannelInactive()
    }

    /// The channel's reads (autoRead asks for one after each batch) go through only while the other side is
    /// connected and can take more; otherwise the read waits for `resumeReading`.
    func read(context: ChannelHandlerContext) {
        if let partner, partner.canTakeMore {
            context.read()
        } else if readsBeforeAttach && !attached && earlyCount < ProxyRuntime.bufferSize {
            // A TLS handshake with the server, or the client's first bytes for the content rules, before the relay
            // starts (up to a buffer's worth, as HAProxy's).
            context.read()
        } else {
            readPending = true
        }
    }

    // MARK: From the other side

    private var canTakeMore: Bool { context?.channel.isWritable ?? false }

    private func forward(_ buffer: ByteBuffer) {
        idle?.touch()
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func flushForwarded() { batch?.flush(self) }

    func flushNow() { context?.flush() }

    private func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    private func shutOutput() {
        guard let context else { return }
        context.flush()
        context.close(mode: .output, promise: nil)
        // Half-closed: this side now has its `-fin` timeout, from now.
        if let finTimeout, let idle {
            idle.stop()
            idle.start(on: context.eventLoop, timeout: finTimeout)
        }
    }

    /// The other side closed: what is queued goes out, then this side closes too.
    private func closeAfterWrites() {
        guard let context else { return }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
        partner = nil
    }

    /// This side failed by a timeout: remembered for the termination state, then closed.
    func timedOut() {
        context?.close(promise: nil)
    }
}
