import NIOCore
import NIOHTTP1

/// One session's place with its backend, as the backend path keeps it: the claim (`BackendClaim`'s decisions),
/// and while it waits in a queue its ticket and `timeout queue` timer. The TCP session is its own seat; in HTTP
/// mode each request (`Exchange`) is one.
protocol BackendSeat: AnyObject, SendableMetatype {
    var claim: BackendClaim { get set }
    /// While queued.
    var ticket: ProxyRuntime.Backend.Ticket? { get set }
    var queueTimer: (any SessionTimer)? { get set }
    /// When the seat left the queues (nil: it never waited).
    var dequeuedAt: NIODeadline? { get set }
    /// The server a persistence cookie sends the seat to, past the balancer (nil: none).
    var persistTo: Int? { get }
    /// `force-persist`: `persistTo` takes the seat even when it is down or in maintenance.
    var forcesPersistence: Bool { get }
    /// The server `option prefer-last-server` sends the seat to when it may take it now (nil: none).
    var preferredServer: Int? { get }
    /// The request `balance uri|url_param|hdr` hashes (nil: a TCP session).
    var balanceRequest: HTTPRequestHead? { get }
}

extension BackendSeat {
    var persistTo: Int? { nil }
    var forcesPersistence: Bool { false }
    var preferredServer: Int? { nil }
    var balanceRequest: HTTPRequestHead? { nil }
}

/// Why the backend path gave up on a seat.
enum AssignmentFailure {
    /// No server can take it (`<NOSRV>`, `SC`).
    case noServer
    /// The connection attempts failed and the retries are spent, or the server has no address (`SC`).
    case unreachable
    /// `timeout queue` expired before a slot came (`sQ`).
    case queueTimeout
}

/// The one backend path of the TCP and the HTTP session, confined to the client's event loop: it chooses a server
/// through the backend's balancer or queues the seat (with `timeout queue`), counts the attempts and retries
/// (the log's counters and the stats'), moves the first retry to another server with `option redispatch`, and
/// gives the slot back at the end. The decisions are `BackendClaim`'s; the connecting is the session's (a NIO
/// channel, a pooled connection, or another data plane), through `attempt`.
protocol BackendAssignee: AnyObject, SendableMetatype {
    associatedtype Seat: BackendSeat
    associatedtype Loop: SessionLoop
    /// The loop the session and its seats live on (a dequeued seat is handed back on it). Read only when a seat
    /// waits in a queue.
    var sessionLoop: Loop { get }
    /// The client's address (for `balance source`).
    var clientAddress: SocketAddress? { get }
    /// Whether `seat` still wants a server (its session or request has not ended meanwhile).
    func wantsServer(_ seat: Seat) -> Bool
    /// Where the session is listed for the runtime API (nil: nothing asks).
    var listing: SessionDirectory.Listing? { get }
    /// Connects `seat` to `server`, whose slot it holds; reports a failure through `attemptFailed`.
    func attempt(_ seat: Seat, server: Int, backend: ProxyRuntime.Backend)
    /// The backend path gave up on `seat`: the session answers or closes, and logs.
    func assignmentFailed(_ seat: Seat, _ failure: AssignmentFailure)
}

extension BackendAssignee {
    /// Finds a server for `seat`: the held slot, or one from the balancer (again, leaving out the one that failed
    /// under `option redispatch`), or a place in a queue.
    func assignServer(_ seat: Seat, _ backend: ProxyRuntime.Backend) {
        listing?.entered(backend)
        let step = seat.claim.next(redispatch: backend.redispatch)
        let excluding: Int?
        switch step {
        case .attempt(let server): return startAttempt(seat, server, backend)
        case .choose(let excluded, let released, _):
            if let released { backend.release(released) }
            excluding = excluded
        }
        func resume() -> ProxyRuntime.Backend.Resume {
            let loop = sessionLoop
            let bound = LoopBound((self, seat), loop: loop)
            return { granted, serverPosition, backendPosition in
                loop.runNowOrSoon {
                    let (session, seat) = bound.value
                    session.dequeued(seat, granted, serverPosition, backendPosition, backend)
                }
            }
        }
        // A persistence cookie's server first (not after a failure moved the seat away), if it still may take it;
        // else the server `option prefer-last-server` names, if it is usable now.
        let direct =
            excluding == nil
            ? seat.persistTo.flatMap { backend.assign(direct: $0, forced: seat.forcesPersistence, resume: resume) }
                ?? seat.preferredServer.flatMap { backend.assign(preferring: $0, resume: resume) } : nil
        let assignment = direct ?? backend.assign(
            client: clientAddress, request: seat.balanceRequest, excluding: excluding, resume: resume)
        switch assignment {
        case .server(let server):
            let before = seat.claim.redispatched
            seat.claim.assigned(server, for: step)
            if seat.claim.redispatched && !before { backend.sessions.update { $0.redispatches += 1 } }
            startAttempt(seat, server, backend)
        case .queued(let ticket):
            seat.ticket = ticket
            seat.claim.queued(for: ticket.server)
            seat.queueTimer = sessionLoop.schedule(after: backend.queueTimeout) { [self] in
                queueTimedOut(seat, backend)
            }
        case .unavailable:
            seat.claim.noServer()
            backend.sessions.update { $0.connectErrors += 1 }
            assignmentFailed(seat, .noServer)
        }
    }

    /// Tries the held server again (an idle connection it had closed meanwhile), as a retry.
    func reattempt(_ seat: Seat, _ backend: ProxyRuntime.Backend) {
        guard let server = seat.claim.slot else { return assignServer(seat, backend) }
        startAttempt(seat, server, backend)
    }

    private func startAttempt(_ seat: Seat, _ server: Int, _ backend: ProxyRuntime.Backend) {
        if seat.claim.startAttempt() {
            backend.sessions.update { $0.retries += 1 }
            backend.serverSessions[server].update { $0.retries += 1 }
        }
        listing?.attempting(server, of: backend, retries: seat.claim.retries)
        attempt(seat, server: server, backend: backend)
    }

    /// A connection attempt failed: another (with `retries` left and the client still there) or the end.
    func attemptFailed(_ seat: Seat, _ backend: ProxyRuntime.Backend, clientActive: Bool) {
        if let server = seat.claim.server { backend.serverSessions[server].update { $0.connectErrors += 1 } }
        // `retry-on` without `conn-failure`: a failed connection is not tried again.
        if backend.retryOn.connectionFailure && seat.claim.mayRetry(retries: backend.retries) && clientActive {
            return assignServer(seat, backend)
        }
        backend.sessions.update { $0.connectErrors += 1 }
        assignmentFailed(seat, .unreachable)
    }

    /// A slot came free for the queued seat (or, `granted` nil, its server went down: it chooses again).
    private func dequeued(
        _ seat: Seat, _ granted: Int?, _ serverPosition: Int, _ backendPosition: Int, _ backend: ProxyRuntime.Backend
    ) {
        seat.ticket = nil
        seat.queueTimer?.cancel()
        seat.queueTimer = nil
        guard wantsServer(seat) else {
            seat.claim.leftQueue(granted: nil, serverPosition: serverPosition, backendPosition: backendPosition)
            if let granted { backend.release(granted) }
            return
        }
        seat.claim.leftQueue(granted: granted, serverPosition: serverPosition, backendPosition: backendPosition)
        seat.dequeuedAt = .now()
        guard let granted else {
            seat.claim.noServer()
            return assignServer(seat, backend)
        }
        startAttempt(seat, granted, backend)
    }

    /// `timeout queue` expired: the seat gives up, unless a slot reached it first.
    private func queueTimedOut(_ seat: Seat, _ backend: ProxyRuntime.Backend) {
        seat.queueTimer = nil
        guard leaveQueue(seat, backend, countingPlaces: true) else { return }
        assignmentFailed(seat, .queueTimeout)
    }

    /// Takes the seat out of its queue (the client left, or the session ends): true if it was still queued.
    /// `countingPlaces`: the places it passed go to the log's queue figures.
    @discardableResult
    func leaveQueue(_ seat: Seat, _ backend: ProxyRuntime.Backend, countingPlaces: Bool) -> Bool {
        seat.queueTimer?.cancel()
        seat.queueTimer = nil
        guard let ticket = seat.ticket else { return false }
        seat.ticket = nil
        guard let departure = backend.withdraw(ticket) else { return false }
        if countingPlaces {
            seat.claim.leftQueue(
                granted: nil, serverPosition: departure.serverPosition, backendPosition: departure.backendPosition)
            seat.dequeuedAt = .now()
        }
        return true
    }

    /// The session or request ends: out of any queue, and its slot back to the backend (the oldest waiting
    /// session takes it).
    func leaveBackend(_ seat: Seat, _ backend: ProxyRuntime.Backend) {
        // A seat holds a timer only while it holds a ticket.
        if seat.ticket != nil { leaveQueue(seat, backend, countingPlaces: false) }
        if let slot = seat.claim.release() { backend.release(slot) }
        listing?.leftBackend()
    }
}
