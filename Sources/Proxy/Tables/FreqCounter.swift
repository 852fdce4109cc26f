/// HAProxy's event-rate counter over a period (its `freq_ctr`, as 2.6 keeps the `*_rate(PERIOD)` data of a stick
/// table): the events of the current period and of the one before, read as a sliding window — the current count
/// plus the previous one weighted by the part of the window that still overlaps it.
///
/// Times are milliseconds of a monotonic clock, wrapping as HAProxy's `now_ms` does (all arithmetic wraps).
struct FreqCounter: Hashable, Sendable {
    /// When the current period started.
    var tick: UInt32 = 0
    var current: UInt32 = 0
    var previous: UInt32 = 0

    /// `update_freq_ctr_period`: counts `events` now; a period that is over rotates first (two or more over: the
    /// previous one is empty and the new period starts now).
    mutating func add(_ events: UInt32, period: UInt32, now: UInt32) {
        guard now &- tick >= period else {
            current &+= events
            return
        }
        previous = current
        current = events
        tick &+= period
        if now &- tick >= period {
            previous = 0
            tick = now
        }
    }

    /// `read_freq_ctr_period`: the events over the last `period` as of `now` (the flapping correction at very low
    /// rates included: nothing this period and at most one before reads as that one).
    func rate(period: UInt32, now: UInt32) -> UInt32 {
        guard period > 0 else { return current }
        var current = UInt64(self.current)
        var past = UInt64(previous)
        var remain = Int64(Int32(bitPattern: tick &+ period &- now))
        if remain < 0 {
            remain += Int64(period)
            past = remain >= 0 ? current : 0
            current = 0
        }
        if current == 0 && past <= 1 { return UInt32(past) }
        let total = past &* UInt64(max(remain, 0)) &+ current &* UInt64(period)
        return UInt32(truncatingIfNeeded: total / UInt64(period))
    }

    /// The current period's count as HAProxy's `inc_gpc0` fetch returns it (`curr_ctr`).
    var currentCount: UInt32 { current }
}
