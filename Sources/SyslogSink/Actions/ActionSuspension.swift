import Foundation

/// rsyslog's suspension of an action whose peer cannot be reached (a collector, a database): after a failed try the
/// action waits `action.resumeInterval` seconds (longer after every 10 failures, at most `action.resumeIntervalMax`);
/// after `action.resumeRetryCount` failed tries (-1: never) what waits is dropped. The decisions only: the actions
/// count, log and wait. Times are given, so it is tested without a clock.
struct ActionSuspension {
    let settings: ActionQueueSettings
    private(set) var failures = 0
    /// When the next try may be made (nil: now).
    private(set) var until: ContinuousClock.Instant?
    /// When the current suspension began (nil: not suspended).
    private(set) var since: ContinuousClock.Instant?

    init(_ settings: ActionQueueSettings) { self.settings = settings }

    /// A failed try at `now`: the pause before the next one, and the notice to log when this failure begins a
    /// suspension (nil while one goes on).
    mutating func failed(_ reason: String, action name: String, at now: ContinuousClock.Instant) -> (pause: Int, notice: String?) {
        failures += 1
        let pause = min(settings.resumeInterval * (1 + failures / 10), settings.resumeIntervalMax)
        until = now + .seconds(pause)
        guard since == nil else { return (pause, nil) }
        since = now
        let keep =
            settings.resumeRetryCount < 0
            ? "messages are held" : "messages are dropped after \(settings.resumeRetryCount) more tries"
        return (pause, "action '\(name)' suspended: \(reason); next try in \(pause) s, \(keep)")
    }

    /// When a suspended action's thread looks again (for a stop, or the end of the wait): at most 0.2 s on, never
    /// after `until`.
    func nextLook(until: ContinuousClock.Instant, now: ContinuousClock.Instant = .now) -> Date {
        let left = until - now
        let seconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        return Date(timeIntervalSinceNow: min(0.2, max(0, seconds)))
    }

    /// Whether a try must wait at `now`.
    func isWaiting(at now: ContinuousClock.Instant) -> Bool { until.map { now < $0 } ?? false }

    /// Whether the tries are used up: what waits is dropped while the action stays suspended.
    var retriesUsedUp: Bool { settings.resumeRetryCount >= 0 && failures > settings.resumeRetryCount }

    /// The next try may be made at once (a connection that broke after working).
    mutating func tryAtOnce() { until = nil }

    /// A try succeeded at `now`: the notice to log when it ends a suspension (`waiting` messages queued).
    mutating func resumed(action name: String, waiting: Int, at now: ContinuousClock.Instant) -> String? {
        defer {
            failures = 0
            until = nil
            since = nil
        }
        guard let since else { return nil }
        let seconds = (now - since).components.seconds
        return "action '\(name)' resumed after \(seconds) s (\(waiting) messages waiting)"
    }
}
