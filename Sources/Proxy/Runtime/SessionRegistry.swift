import HAProxyLog
import Synchronization

/// The sessions open on one server, for what ends them from outside: `on-marked-down shutdown-sessions` when the
/// server's checks take it down, the runtime API's `shutdown sessions server`. Kept only for the backends that may
/// need it (a lock and a dictionary slot per session, which the others do not pay).
final class SessionRegistry: Sendable {
    /// Ends one session, logged with `cause` (`D`: its server went down, `K`: an administrator); called on any
    /// thread, it hops onto the session's loop.
    typealias Kill = @Sendable (TerminationState.Cause) -> Void

    private struct Entries {
        var next: UInt64 = 0
        var kills: [UInt64: Kill] = [:]
    }
    private let entries = Mutex(Entries())

    func add(_ kill: @escaping Kill) -> UInt64 {
        entries.withLock { e in
            e.next += 1
            e.kills[e.next] = kill
            return e.next
        }
    }

    func remove(_ id: UInt64) { _ = entries.withLock { $0.kills.removeValue(forKey: id) } }

    var count: Int { entries.withLock { $0.kills.count } }

    /// Ends every session open now; returns how many.
    @discardableResult
    func killAll(_ cause: TerminationState.Cause) -> Int {
        let kills = entries.withLock { Array($0.kills.values) }
        for kill in kills { kill(cause) }
        return kills.count
    }
}
