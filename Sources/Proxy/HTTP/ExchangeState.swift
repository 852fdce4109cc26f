/// Where one HTTP exchange stands, as a value with no I/O: how far the client's request has been read, who
/// answers it, how far its server leg has come, and whether its line is logged. The session changes it only
/// through the transitions below, each named after an event of the session; a transition that does not apply
/// where the exchange stands changes nothing and says so (returns false), so a late event (a connection made
/// after the client left, a second end) cannot undo what was decided. The tallies, the relay and the log record
/// read it.
struct ExchangeState: Equatable, Sendable {
    /// Who answers the request.
    enum Answer: Equatable, Sendable {
        /// A server (once one is found): the default.
        case server
        /// The stats page; what is left of the request's body is read and dropped.
        case stats
        /// The stats page's admin form (a POST under `stats admin`): its body is kept, and answered at its end.
        case statsForm
        /// The proxy itself (a refusal, a deny, no backend, an error page after a server failed). `timersKnown`:
        /// false when HAProxy logs no timer at all, not even the request's (a request it could not parse, a
        /// frontend with no backend).
        case proxy(timersKnown: Bool)
        /// The `monitor-uri` page: answered, and not logged (as HAProxy does not log it).
        case monitor
    }

    /// The server leg, in the order it is walked. Each step is counted where HAProxy counts it: the backend's
    /// open sessions (the log's `beconn`) from `inBackend` on, the server's (`srv_conn`) on `onServer`.
    enum ServerLeg: Equatable, Sendable {
        case none
        /// Counted in its backend; looking for a server (balanced, queued, connecting).
        case inBackend
        /// Connected and counted on the server, the request's head sent; `reused`: over a connection kept from
        /// an earlier request (which the server may have closed meanwhile: see `pooledConnectionLost`).
        case onServer(reused: Bool)
    }

    private(set) var requestDone = false
    private(set) var answer = Answer.server
    private(set) var leg = ServerLeg.none
    private(set) var logged = false
    /// The proxy answered before the request's end was read (a redirect to a keep-alive client): the exchange
    /// finishes when it is.
    private(set) var awaitsRequestEnd = false

    /// A request that never completed (bad, cut short, timed out): nothing more of it will be read.
    static var badRequest: ExchangeState {
        var state = ExchangeState()
        state.requestDone = true
        return state
    }

    // MARK: Reading

    /// The request's end was read (or the proxy stops reading it, refusing it). Returns whether the exchange is
    /// now complete on the client's side and should be finished: the stats page had answered and only waited for
    /// the body it drops.
    mutating func requestEnded() -> Bool {
        guard !requestDone else { return false }
        requestDone = true
        return (answer == .stats || answer == .statsForm || awaitsRequestEnd) && !logged
    }

    /// Whether a body part read now is dropped (the stats page or the proxy answered the request).
    var dropsBody: Bool { answer == .stats || awaitsRequestEnd }

    /// Whether the request's parts go straight to the server (its head was sent) rather than being held.
    var relaysToServer: Bool {
        if case .onServer = leg { return true }
        return false
    }

    // MARK: Answering

    /// The stats page answered. Only before a server was looked for.
    @discardableResult
    mutating func answeredByStats() -> Bool {
        guard !logged, answer == .server, leg == .none else { return false }
        answer = .stats
        return true
    }

    /// The stats page's admin form: its body is read and kept, and the answer waits for its end. Only before a
    /// server was looked for.
    @discardableResult
    mutating func answeredByStatsForm() -> Bool {
        guard !logged, answer == .server, leg == .none else { return false }
        answer = .statsForm
        return true
    }

    /// Whether the request is the stats page's admin form, waiting for its body.
    var awaitsStatsForm: Bool { answer == .statsForm && !logged }

    /// The proxy answers itself; `timersKnown` false: the log shows no timer (see `Answer.proxy`). A later call
    /// keeps what an earlier one said of the timers.
    @discardableResult
    mutating func answeredByProxy(timersKnown: Bool = true) -> Bool {
        guard !logged else { return false }
        if case .proxy(let known) = answer {
            answer = .proxy(timersKnown: known && timersKnown)
        } else {
            answer = .proxy(timersKnown: timersKnown)
        }
        return true
    }

    /// The monitor URI was asked (see `Answer.monitor`). Only before a server was looked for.
    @discardableResult
    mutating func answeredByMonitor() -> Bool {
        guard !logged, answer == .server, leg == .none else { return false }
        answer = .monitor
        return true
    }

    /// The proxy has answered (`answeredByProxy`, `answeredByMonitor`) before the request's end was read: the
    /// exchange finishes when it is (`requestEnded` then returns true). False when the request was read in full
    /// already (finish it now) or nobody but a server answers.
    @discardableResult
    mutating func finishesAtRequestEnd() -> Bool {
        guard !requestDone, !logged, answer != .server, answer != .stats, answer != .statsForm else { return false }
        awaitsRequestEnd = true
        return true
    }

    /// Whether the exchange's line is written (the monitor URI's is not).
    var isLogged: Bool { answer != .monitor }

    // MARK: The server leg

    /// A backend was chosen: the exchange is counted in its sessions.
    @discardableResult
    mutating func enteredBackend() -> Bool {
        guard !logged, leg == .none, answer == .server else { return false }
        leg = .inBackend
        return true
    }

    /// A connection to the chosen server is ready (`reused`: a kept one) and the request's head goes out on it:
    /// the exchange is counted on the server. False when it no longer wants one (logged meanwhile).
    @discardableResult
    mutating func connected(reused: Bool) -> Bool {
        guard !logged, leg == .inBackend else { return false }
        leg = .onServer(reused: reused)
        return true
    }

    /// `retry-on`: the server's response (or its close, or its silence) calls for another attempt, and the request
    /// went out whole (`requestDone`): the exchange is back to looking for a server (no longer counted on it).
    mutating func retryingResponse() -> Bool {
        guard !logged, answer == .server, requestDone, case .onServer = leg else { return false }
        leg = .inBackend
        return true
    }

    /// The server's connection closed before any response. When it was a kept connection and nothing of the
    /// body had gone out (`bodySent` false), the server had simply closed an idle connection: the exchange is
    /// back to looking for a server (no longer counted on it) and true is returned — try again. Otherwise false:
    /// the server failed.
    mutating func pooledConnectionLost(bodySent: Bool) -> Bool {
        guard !logged, leg == .onServer(reused: true), !bodySent else { return false }
        leg = .inBackend
        return true
    }

    /// Whether the request went out over a kept connection.
    var reusedConnection: Bool { leg == .onServer(reused: true) }

    // MARK: Logging

    /// What to count as closed when the line is logged, once: the backend's and the server's open sessions.
    /// Nil when the exchange was logged already.
    mutating func log() -> (backend: Bool, server: Bool)? {
        guard !logged else { return nil }
        logged = true
        switch leg {
        case .none: return (false, false)
        case .inBackend: return (true, false)
        case .onServer: return (true, true)
        }
    }

    // MARK: For the log record

    /// The log shows no timer at all (`-1` for the request's too).
    var timersUnknown: Bool { answer == .proxy(timersKnown: false) }
    /// The stats page answered (HAProxy logs its connect and response times as 0).
    var answeredByStatsPage: Bool { answer == .stats || answer == .statsForm }
}
