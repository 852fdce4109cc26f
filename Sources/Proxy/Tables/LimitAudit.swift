/// When the audit trail hears of a source a limit blocks: at its first block, then at most once a minute for as
/// long as it keeps being blocked, each line counting the blocks since the last one (a flood gives one line a
/// minute, not one per request). A value with no I/O: times are seconds of a monotonic clock.
struct LimitAuditSchedule {
    private struct Source {
        var lineAt: UInt64
        var unreported: Int
    }
    private var sources: [String: Source] = [:]
    /// Seconds between two lines for one source.
    let interval: UInt64
    /// Sources remembered at most (the quietest are forgotten first when there are more).
    let capacity: Int

    init(interval: UInt64 = 60, capacity: Int = 100_000) {
        self.interval = interval
        self.capacity = capacity
    }

    /// `source` was blocked at `now`: the number of blocks the line written now reports, or nil when none is due.
    mutating func blocked(_ source: String, now: UInt64) -> Int? {
        if var known = sources[source] {
            known.unreported += 1
            guard now >= known.lineAt + interval else {
                sources[source] = known
                return nil
            }
            sources[source] = Source(lineAt: now, unreported: 0)
            return known.unreported
        }
        if sources.count >= capacity { forget(before: now) }
        sources[source] = Source(lineAt: now, unreported: 0)
        return 1
    }

    /// Sources whose last line is older than the interval and that were not blocked since (nothing to report) are
    /// forgotten; if that frees nothing, the oldest half goes.
    private mutating func forget(before now: UInt64) {
        sources = sources.filter { now < $0.value.lineAt + interval || $0.value.unreported > 0 }
        guard sources.count >= capacity else { return }
        let cut = sources.values.map(\.lineAt).sorted()[sources.count / 2]
        sources = sources.filter { $0.value.lineAt > cut }
    }
}
