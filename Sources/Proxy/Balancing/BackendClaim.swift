/// Where one session (a TCP connection, or one HTTP request) stands with its backend, and what it does next:
/// the decisions of HAProxy's connection path without any I/O. The TCP and the HTTP session keep one each and
/// follow it through `BackendAssignee`: choose a server through the balancer (or wait in a queue), attempt a
/// connection, retry on the same server, and with `option redispatch` move the first retry to another one.
///
/// As HAProxy 2.6 does it (seen in its logs): `retries N` allows N attempts after the first; with `option redispatch`
/// the retry after the first failed attempt chooses again, leaving out the server that failed (HAProxy writes `+1`
/// in the log whatever `retries` is), and the later retries stay on the server then chosen. The log's retry count
/// is the attempts after the first; its queue figures add up the places passed in each queue the session left.
struct BackendClaim: Sendable, Equatable {
    /// The server the log names: the one chosen, or the one the session queues for (nil: `<NOSRV>`).
    private(set) var server: Int?
    /// The server whose connection slot the session holds (counted in the balancer's `opened`).
    private(set) var slot: Int?
    /// Connection attempts started so far.
    private(set) var attempts = 0
    /// The session went to another server than the one it failed on (`+` before the log's retry count).
    private(set) var redispatched = false
    /// The log's `srv_queue` and `backend_queue`: the sessions served before this one while it waited.
    private(set) var serverQueue = 0
    private(set) var backendQueue = 0

    /// What to do before the next connection attempt.
    enum Step: Equatable {
        /// Connect to this server: its slot is held.
        case attempt(Int)
        /// Ask the balancer for a server, leaving out `excluding`; the slot held until now, `released`, goes back
        /// first.
        case choose(excluding: Int?, released: Int?, redispatching: Bool)
    }

    /// The step towards the next attempt, with `option redispatch` set or not on the backend. A choice gives
    /// back the slot held until now (the step names it: the caller releases it).
    mutating func next(redispatch: Bool) -> Step {
        let redispatching = redispatch && attempts == 1
        if let held = slot, !redispatching { return .attempt(held) }
        let released = slot
        slot = nil
        return .choose(excluding: redispatching ? released : nil, released: released, redispatching: redispatching)
    }

    /// The balancer gave a slot on `server` for `step`.
    mutating func assigned(_ server: Int, for step: Step) {
        if case .choose(let excluding, _, let redispatching) = step, redispatching, server != excluding {
            redispatched = true
        }
        self.server = server
        slot = server
    }

    /// The session waits in a queue, for `server` if the balancer tied it to one (else for any).
    mutating func queued(for server: Int?) {
        if let server { self.server = server }
    }

    /// The session left its queue after `serverPosition` and `backendPosition` sessions went before it, with a
    /// slot on `granted`, or without one (its server went down, a timeout, the client left).
    mutating func leftQueue(granted: Int?, serverPosition: Int, backendPosition: Int) {
        serverQueue += serverPosition
        backendQueue += backendPosition
        if let granted {
            server = granted
            slot = granted
        }
    }

    /// No server can take the session, or the one it queued for went down (it chooses again): the log names none
    /// until one is chosen.
    mutating func noServer() {
        server = nil
    }

    /// An attempt starts on the held slot; true when it is a retry.
    mutating func startAttempt() -> Bool {
        attempts += 1
        return attempts > 1
    }

    /// After a failed attempt: whether `retries` allows another one.
    func mayRetry(retries: Int) -> Bool { attempts <= retries }

    /// After a response `retry-on` names (a status, a close, a timeout): whether another attempt may go. HAProxy
    /// 2.6 counts the retry before comparing (`++conn_retries < retries`): one fewer than after a failed connect,
    /// and a refused one is still counted in the log (`refusedResponseRetry`).
    func mayRetryResponse(retries: Int) -> Bool { attempts < retries }

    /// The retry `mayRetryResponse` refused, counted as HAProxy counts it.
    mutating func refusedResponseRetry() { uncountedRetry = 1 }
    private var uncountedRetry = 0

    /// The session ends: the slot it held, to give back.
    mutating func release() -> Int? {
        defer { slot = nil }
        return slot
    }

    /// The log's retry count.
    var retries: Int { max(0, attempts - 1) + uncountedRetry }
}
