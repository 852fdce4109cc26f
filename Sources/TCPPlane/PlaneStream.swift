import CPlane
import NIOCore

/// One connected TCP socket of the data plane, one side of a relay: what it reads goes straight to its partner's
/// socket (through the loop's buffer: no copy is kept unless the partner cannot take it all), with back-pressure (a
/// side reads only while its partner has nothing left to write), half-close passed on (the end of a side's input
/// shuts its partner's output), and a close passed on (the partner writes what it holds, then closes). With an idle
/// timeout (`timeout client` / `timeout server`), a side with no traffic for that long calls `onTimeout`; once its
/// output is shut, its `-fin` timeout applies.
///
/// Before `relay` joins it to its partner a side reads only with `readsBeforeAttach` (a TCP frontend's content rules
/// read the client's first bytes), into `earlyBytes`, up to a buffer; what it read goes to the partner then.
///
/// A held connection keeps no buffer: the only memory per side is this object (and `pending` while the partner is
/// slower than the sender).
public final class PlaneStream: PlaneReady {
    public let loop: PlaneLoop
    private var fd: Int32
    public private(set) var bytesIn: Int64 = 0
    private var partner: PlaneStream?
    private var attached = false
    private var inputEnded = false
    private var outputShut = false
    /// The end of the partner's input came while this side still had bytes to write: shut after them.
    private var shutAfterWrites = false
    /// The partner closed: close once what is left is written.
    private var closeAfterWrites = false
    /// Input may be waiting (an edge was seen and the socket not read to its end).
    private var mayRead = false
    /// The peer ended its side (an RDHUP/HUP edge): read to the end whatever the size of each read.
    private var peerEnded = false
    /// Bytes this side could not write yet (the peer reads slower than the partner sends).
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var early: [UInt8] = []
    private var earlyEnd = false
    private var sawError = false

    /// Read before `relay` (up to `earlyLimit` bytes). Input that arrived before this was set (a session held back
    /// by maxconn) is read now: its edge has passed.
    public var readsBeforeAttach = false {
        didSet { if readsBeforeAttach && !attached && mayRead && fd >= 0 { readEarly() } }
    }
    public var earlyLimit = 16_384
    /// Called after what arrived before `relay` grew, or its sender ended its side.
    public var onEarly: (() -> Void)?
    /// Called once when this side's socket has closed, with whether it ended by an error (reset).
    public var onClose: ((_ error: Bool) -> Void)?
    /// Called when the side has been idle for its timeout.
    public var onTimeout: (() -> Void)?

    private var idleTimeout: TimeAmount?
    private var finTimeout: TimeAmount?
    private var lastActivity: NIODeadline
    private var idleTimer: PlaneTimer?

    /// A connect in progress: its completion and its `timeout connect`.
    private var connecting: ((PlaneError?) -> Void)?
    private var connectTimer: PlaneTimer?

    private init(fd: Int32, loop: PlaneLoop, idleTimeout: TimeAmount?, finTimeout: TimeAmount?) {
        self.fd = fd
        self.loop = loop
        self.idleTimeout = idleTimeout ?? finTimeout
        self.finTimeout = finTimeout
        lastActivity = loop.now
    }

    /// An accepted socket (`PlaneListener`), watched from now on.
    static func accepted(
        _ fd: Int32, on loop: PlaneLoop, keepalive: Bool
    ) -> PlaneStream? {
        plane_tune_accepted(fd, keepalive ? 1 : 0)
        let stream = PlaneStream(fd: fd, loop: loop, idleTimeout: nil, finTimeout: nil)
        guard loop.watch(fd, stream) == 0 else {
            plane_close(fd, 0)
            return nil
        }
        return stream
    }

    /// Connects to `address` from `loop`; `completion` gets the connected side, or the reason it failed (refused,
    /// unreachable, `timeout` expired: `ETIMEDOUT`).
    public static func connect(
        to address: SocketAddress, on loop: PlaneLoop, keepalive: Bool, timeout: TimeAmount?,
        idleTimeout: TimeAmount?, finTimeout: TimeAmount?,
        _ completion: @escaping (Result<PlaneStream, PlaneError>) -> Void
    ) {
        var fd: Int32 = -1
        let started = PlaneAddress.with(address) { plane_connect($0, $1, keepalive ? 1 : 0, &fd) } ?? -97  // EAFNOSUPPORT
        guard started >= 0 else { return completion(.failure(PlaneError(code: -started, doing: "connect"))) }
        let stream = PlaneStream(fd: fd, loop: loop, idleTimeout: idleTimeout, finTimeout: finTimeout)
        let watched = loop.watch(fd, stream)
        guard watched == 0 else {
            plane_close(fd, 0)
            return completion(.failure(PlaneError(code: -watched, doing: "epoll_ctl")))
        }
        if started == 0 {
            stream.startIdle()
            return completion(.success(stream))
        }
        stream.connecting = { [stream] error in
            if let error {
                stream.connectFailed()
                completion(.failure(error))
            } else {
                stream.startIdle()
                completion(.success(stream))
            }
        }
        if let timeout {
            stream.connectTimer = loop.schedule(after: timeout) { [stream] in
                stream.connectTimer = nil
                stream.finishConnect(PlaneError(code: 110, doing: "connect"))  // ETIMEDOUT
            }
        }
    }

    private func finishConnect(_ error: PlaneError?) {
        guard let done = connecting else { return }
        connecting = nil
        connectTimer?.cancel()
        connectTimer = nil
        done(error)
    }

    private func connectFailed() {
        guard fd >= 0 else { return }
        loop.unwatch(fd)
        plane_close(fd, 0)
        fd = -1
    }

    public var isOpen: Bool { fd >= 0 }
    public var localAddress: SocketAddress? { fd >= 0 ? PlaneAddress.of(fd, peer: false) : nil }
    public var remoteAddress: SocketAddress? { fd >= 0 ? PlaneAddress.of(fd, peer: true) : nil }

    /// Sets the side's idle and `-fin` timeouts (`timeout client`, `client-fin`: an accepted side gets them when its
    /// session starts) and starts the idle one.
    public func setIdleTimeout(_ timeout: TimeAmount?, fin: TimeAmount?) {
        finTimeout = fin
        idleTimeout = timeout ?? fin
        startIdle()
    }

    /// Writes `bytes` before anything relayed (a PROXY protocol header to a server).
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send($0) }
    }

    // MARK: Events

    func ready(_ events: UInt32) {
        if connecting != nil {
            guard events & (PLANE_OUT | PLANE_ERR | PLANE_HUP) != 0 else { return }
            // Writable without an error: connected (no SO_ERROR to ask).
            let code = events & (PLANE_ERR | PLANE_HUP) == 0 ? 0 : plane_socket_error(fd)
            finishConnect(code == 0 ? nil : PlaneError(code: -code, doing: "connect"))
            guard fd >= 0 else { return }
        }
        // A reset (or another error of the socket): the side ends, as a relay's side ends on an error.
        if events & PLANE_ERR != 0 { return fail() }
        if events & (PLANE_RDHUP | PLANE_HUP) != 0 { peerEnded = true }
        if events & PLANE_OUT != 0 { writable() }
        if events & (PLANE_IN | PLANE_RDHUP | PLANE_HUP) != 0 {
            mayRead = true
            readable()
        }
    }

    private func readable() {
        guard fd >= 0, !inputEnded, mayRead else { return }
        guard let partner else {
            if readsBeforeAttach && !attached { readEarly() }
            return
        }
        let buffer = loop.scratch
        while true {
            // The partner writes what it holds first: until then this side waits (its input stays in the kernel).
            guard partner.fd >= 0, partner.pendingCount == 0 else { return }
            let n = plane_read(fd, buffer.baseAddress, buffer.count)
            if n > 0 {
                bytesIn += Int64(n)
                lastActivity = loop.now
                partner.send(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                if n < buffer.count && !peerEnded {
                    mayRead = false
                    return
                }
            } else if n == 0 {
                mayRead = false
                inputEnded = true
                partner.shutOutput()
                return finishIfDone()
            } else if n == -PLANE_EAGAIN {
                mayRead = false
                return
            } else if n != -PLANE_EINTR {
                return fail()
            }
        }
    }

    private func readEarly() {
        let buffer = loop.scratch
        var grew = false
        while early.count < earlyLimit && !earlyEnd {
            let n = plane_read(fd, buffer.baseAddress, min(buffer.count, earlyLimit - early.count))
            if n > 0 {
                bytesIn += Int64(n)
                lastActivity = loop.now
                early.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                grew = true
            } else if n == 0 {
                earlyEnd = true
                inputEnded = true
                grew = true
            } else if n == -PLANE_EAGAIN {
                mayRead = false
                break
            } else if n != -PLANE_EINTR {
                return fail()
            }
        }
        if grew { onEarly?() }
    }

    /// What arrived before `relay`.
    public var earlyBytes: [UInt8] { early }
    /// Whether the sender ended its side before `relay`.
    public var earlyEnded: Bool { earlyEnd }

    /// Joins two sides into a relay (`first` is handed the other's early bytes last: the client's go first, so that
    /// a server's answer may already be there when it is read). What each read early goes over now, then each reads.
    /// A side that closed meanwhile closes the other (after what it holds is written).
    public static func relay(_ first: PlaneStream, _ second: PlaneStream) {
        for (side, other) in [(first, second), (second, first)] {
            side.partner = other
            side.attached = true
            side.onEarly = nil
        }
        for (side, other) in [(first, second), (second, first)] {
            guard side.fd >= 0 else { continue }
            if !side.early.isEmpty {
                let held = side.early
                side.early = []
                held.withUnsafeBytes { other.send($0) }
            }
            if side.earlyEnd { other.shutOutput() }
        }
        for (side, other) in [(first, second), (second, first)] where side.fd < 0 {
            side.partner = nil
            other.partnerClosed()
        }
        first.readable()
        second.readable()
    }

    private var pendingCount: Int { pending.count - pendingStart }

    /// Writes `bytes` (read by the partner); what the socket cannot take now is kept for `writable`.
    private func send(_ bytes: UnsafeRawBufferPointer) {
        guard fd >= 0, !outputShut, bytes.count > 0 else { return }
        lastActivity = loop.now
        if pendingCount > 0 { return pending.append(contentsOf: bytes) }
        let n = plane_send(fd, bytes.baseAddress, bytes.count)
        if n == bytes.count { return }
        if n >= 0 {
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[n...]))
        } else if n == -PLANE_EAGAIN || n == -PLANE_EINTR {
            pending.append(contentsOf: bytes)
        } else {
            fail()
        }
    }

    /// Writes what is pending; once none is left, the partner reads again (or this side shuts or closes).
    private func writable() {
        guard fd >= 0, pendingCount > 0 else { return }
        while pendingCount > 0 {
            let n = pending.withUnsafeBytes { raw in
                raw.baseAddress.map { plane_send(fd, $0 + pendingStart, pendingCount) } ?? 0
            }
            if n > 0 {
                pendingStart += n
                lastActivity = loop.now
            } else if n == -PLANE_EAGAIN {
                return
            } else if n != -PLANE_EINTR {
                return fail()
            }
        }
        // Nothing held: the memory goes back (a held connection keeps no buffer).
        pending = []
        pendingStart = 0
        if closeAfterWrites { return close(error: false) }
        if shutAfterWrites { shutOutput() }
        partner?.readable()
    }

    private func shutOutput() {
        guard fd >= 0, !outputShut else { return }
        if pendingCount > 0 {
            shutAfterWrites = true
            return
        }
        outputShut = true
        // A side whose input has ended too closes now: the close sends the FIN (no shutdown call first).
        if inputEnded { return close(error: false) }
        _ = plane_shutdown_output(fd)
        // Half-closed: this side now has its `-fin` timeout, from now.
        if let finTimeout {
            idleTimeout = finTimeout
            lastActivity = loop.now
            idleTimer?.cancel()
            idleTimer = nil
            startIdle()
        }
        finishIfDone()
    }

    private func finishIfDone() {
        if inputEnded && outputShut { close(error: false) }
    }

    private func fail() {
        sawError = true
        close(error: true)
    }

    /// Closes the side now (an idle timeout, an administrator, the session's end): its peer sees the close.
    public func close() { close(error: false) }

    func shutdown() {
        if connecting != nil { finishConnect(PlaneError(code: 125, doing: "connect")) }
        close(error: false)
    }

    /// HAProxy's `silent-drop` on this side's socket before it is closed (see `plane_silence`).
    public func silence() {
        guard fd >= 0 else { return }
        plane_silence(fd)
    }

    private func close(error: Bool) {
        guard fd >= 0 else { return }
        if connecting != nil { return finishConnect(PlaneError(code: 125, doing: "connect")) }  // ECANCELED
        loop.unwatch(fd)
        plane_close(fd, 0)
        fd = -1
        idleTimer?.cancel()
        idleTimer = nil
        pending = []
        pendingStart = 0
        early = []
        onTimeout = nil
        onEarly = nil
        let closed = onClose
        onClose = nil
        closed?(error || sawError)
        let other = partner
        partner = nil
        other?.partnerClosed()
    }

    /// The other side closed: what is left goes out, then this side closes too.
    private func partnerClosed() {
        partner = nil
        guard fd >= 0 else { return }
        if pendingCount > 0 {
            closeAfterWrites = true
        } else {
            close(error: false)
        }
    }

    // MARK: Idle timeout

    private func startIdle() {
        guard let timeout = idleTimeout, fd >= 0, idleTimer == nil else { return }
        lastActivity = loop.now
        idleTimer = loop.schedule(at: lastActivity + timeout) { [unowned self] in idleCheck() }
    }

    private func idleCheck() {
        idleTimer = nil
        guard fd >= 0, let timeout = idleTimeout else { return }
        let due = lastActivity + timeout
        if due > loop.now {
            idleTimer = loop.schedule(at: due) { [unowned self] in idleCheck() }
            return
        }
        onTimeout?()
    }
}
