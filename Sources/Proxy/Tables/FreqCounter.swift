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

    /// The window as of `now`: the current period's events and the previous one's, after the rotations that
    /// `now` implies, and the part of the period still overlapping the previous one.
    private func window(period: UInt32, now: UInt32) -> (current: UInt64, past: UInt64, remain: UInt64) {
        var current = UInt64(self.current)
        var past = UInt64(previous)
        var remain = Int64(Int32(bitPattern: tick &+ period &- now))
        if remain < 0 {
            remain += Int64(period)
            past = remain >= 0 ? current : 0
            current = 0
        }
        return (current, past, UInt64(max(remain, 0)))
    }

    /// `read_freq_ctr_period`: the events over the last `period` as of `now` (the flapping correction at very low
    /// rates included: nothing this period and at most one before reads as that one).
    func rate(period: UInt32, now: UInt32) -> UInt32 {
        guard period > 0 else { return current }
        let w = window(period: period, now: now)
        if w.current == 0 && w.past <= 1 { return UInt32(w.past) }
        return UInt32(truncatingIfNeeded: (w.past &* w.remain &+ w.current &* UInt64(period)) / UInt64(period))
    }

    /// `freq_ctr_total` with `pending` events to come: the events of the window scaled by the period (no
    /// correction at low rates).
    func total(period: UInt32, now: UInt32, pending: UInt32 = 0) -> UInt64 {
        let w = window(period: period, now: now)
        return w.past &* w.remain &+ (w.current &+ UInt64(pending)) &* UInt64(period)
    }

    /// `freq_ctr_remain`: how many more events `freq` a second lets through now.
    func remaining(freq: UInt32, now: UInt32) -> UInt32 {
        let average = total(period: 1_000, now: now) / 1_000
        return freq - UInt32(min(average, UInt64(freq)))
    }

    /// `next_event_delay`: milliseconds before one more event is let through at `freq` a second (0: now).
    func nextEventDelay(freq: UInt32, now: UInt32) -> UInt32 {
        let total = total(period: 1_000, now: now)
        let limit = UInt64(freq) * 1_000
        guard total >= limit else { return 0 }
        return UInt32(max(1, min((total - limit) / UInt64(max(freq, 1)), 1_000)))
    }

    /// The current period's count as HAProxy's `inc_gpc0` fetch returns it (`curr_ctr`).
    var currentCount: UInt32 { current }
}
