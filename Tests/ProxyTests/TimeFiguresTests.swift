import Testing

@testable import Proxy

/// HAProxy's backend and server time figures (`qtime`, `ctime`, `rtime`, `ttime`): a plain sum while fewer than 512
/// sessions came, then a sliding sum (`swrate_add_dynamic`), averaged over the samples or the window.
@Suite("Time figures")
struct TimeFiguresTests {
    @Test func averagesOverTheSessionsThenOverTheWindow() {
        var t = ProxyRuntime.Tally.Times()
        #expect(t.averages.queue == 0)
        t.add(queue: 10, connect: 1, data: 100, total: 120)
        t.add(queue: 20, connect: 3, data: 200, total: 230)
        #expect(t.averages.queue == 15 && t.averages.connect == 2 && t.averages.data == 150 && t.averages.total == 175)
        #expect(t.maxima.queue == 20 && t.maxima.total == 230)
        for _ in 0..<2000 { t.add(queue: 5, connect: 5, data: 5, total: 5) }
        #expect(t.averages.queue == 5, "the window forgets the old sessions")
        #expect(t.maxima.data == 200, "the maxima do not")
        t.add(queue: -1, connect: 0, data: 0, total: 0)
        #expect(t.averages.queue <= 5, "a negative time counts as 0")
    }
}
