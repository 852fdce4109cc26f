import Testing

@testable import Proxy

@Suite("Balancing")
struct BalancerTests {
    func balancer(_ algorithm: BalanceAlgorithm, _ weights: [Int], backups: Set<Int> = [], allBackups: Bool = false)
        -> Balancer
    {
        Balancer(
            algorithm: algorithm,
            servers: weights.enumerated().map {
                Balancer.Server(name: "s\($0.offset)", weight: $0.element, backup: backups.contains($0.offset))
            }, allBackups: allBackups)
    }

    @Test func roundRobinGivesEachItsWeightSpreadEvenly() {
        var b = balancer(.roundrobin, [5, 1, 1])
        let first = (0..<7).compactMap { _ in b.pick() }
        #expect(first == [0, 0, 1, 0, 2, 0, 0], "smooth: the heavy server's turns are spread, not in a burst")
        var counts = [0, 0, 0]
        for _ in 0..<700 { if let i = b.pick() { counts[i] += 1 } }
        #expect(counts == [500, 100, 100])
    }

    @Test func theSeedsTwoEqualServersAlternate() {
        var b = balancer(.roundrobin, [10, 10])
        #expect((0..<6).compactMap { _ in b.pick() } == [0, 1, 0, 1, 0, 1])
    }

    @Test func weightZeroTakesNoNewSessionsAndDownServersAreSkipped() {
        var b = balancer(.roundrobin, [0, 3, 1])
        #expect(!(0..<100).contains { _ in b.pick() == 0 })
        b.setUp(1, false)
        #expect((0..<10).allSatisfy { _ in b.pick() == 2 })
        b.setUp(2, false)
        #expect(b.pick() == nil, "no usable server: HAProxy's <NOSRV>")
    }

    @Test func backupsOnlyWhenNoActiveServerIsUp() {
        var b = balancer(.roundrobin, [1, 1, 1, 1], backups: [2, 3])
        #expect((0..<20).allSatisfy { _ in (b.pick() ?? -1) < 2 })
        b.setUp(0, false)
        b.setUp(1, false)
        #expect((0..<20).allSatisfy { _ in b.pick() == 2 }, "only the first backup without allbackups")
        var all = balancer(.roundrobin, [1, 1, 1, 1], backups: [2, 3], allBackups: true)
        all.setUp(0, false)
        all.setUp(1, false)
        #expect(Set((0..<20).compactMap { _ in all.pick() }) == [2, 3])
        b.setUp(0, true)
        #expect(b.pick() == 0, "back to the active server as soon as one is up")
    }

    @Test func leastconnPrefersTheLightestAndRotatesAmongEquals() {
        var b = balancer(.leastconn, [1, 1, 1])
        for _ in 0..<3 { b.opened(0) }
        b.opened(1)
        #expect(b.pick() == 2)
        b.opened(2)
        #expect(b.pick() == 1, "1 and 2 tie: round-robin goes on past 2")
        var equal = balancer(.leastconn, [1, 1, 1])
        #expect((0..<6).compactMap { _ in equal.pick() } == [0, 1, 2, 0, 1, 2])
        var weighted = balancer(.leastconn, [2, 1])
        weighted.opened(0)
        #expect(weighted.pick() == 0, "(1+1)/2 is lighter than (0+1)/1: weights count")
    }

    @Test func sourceKeepsAClientOnItsServerAndSpreadsClientsByWeight() {
        var b = balancer(.source, [3, 1])
        let client: [UInt8] = [10, 0, 0, 42]
        let first = b.pick(client: client)
        #expect((0..<10).allSatisfy { _ in b.pick(client: client) == first })
        var counts = [0, 0]
        for n in 0..<4000 {
            if let i = b.pick(client: [10, UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)]) {
                counts[i] += 1
            }
        }
        #expect(abs(counts[0] - 3000) < 200 && abs(counts[1] - 1000) < 200, "\(counts)")
    }

    @Test func firstFillsServersInOrderUpToTheirMaxconn() {
        var b = Balancer(
            algorithm: .first,
            servers: [
                Balancer.Server(name: "a", weight: 1, maxconn: 2), Balancer.Server(name: "b", weight: 1, maxconn: 2),
            ])
        var picks: [Int] = []
        for _ in 0..<4 {
            if let i = b.pick() {
                picks.append(i)
                b.opened(i)
            }
        }
        #expect(picks == [0, 0, 1, 1])
        #expect(b.pick() == nil, "every slot taken")
        b.closed(0)
        #expect(b.pick() == 0)
    }

    @Test func fullServersQueueInTheBackendOrInTheirOwnQueueForSource() {
        let full = [
            Balancer.Server(name: "a", weight: 1, maxconn: 1), Balancer.Server(name: "b", weight: 1, maxconn: 1),
        ]
        var rr = Balancer(algorithm: .roundrobin, servers: full)
        for _ in 0..<2 {
            if case .server(let i) = rr.choose() { rr.opened(i) }
        }
        #expect(rr.choose() == .queue(server: nil), "every slot taken: the backend's queue")
        rr.setUp(0, false)
        rr.setUp(1, false)
        #expect(rr.choose() == .unavailable, "no server up: 503 at once, no queue")

        var source = Balancer(algorithm: .source, servers: full)
        let client = Array("192.0.2.7".utf8)
        guard case .server(let mine) = source.choose(client: client) else {
            Issue.record("a free server")
            return
        }
        source.opened(mine)
        #expect(source.choose(client: client) == .queue(server: mine), "source waits for its own server")
        var unlimited = Balancer(algorithm: .roundrobin, servers: [Balancer.Server(name: "z", weight: 1, maxconn: 0)])
        for _ in 0..<5 { unlimited.opened(0) }
        #expect(unlimited.choose() == .server(0), "maxconn 0 means no limit")
    }

    @Test func queuesServeTheOldestFirstAndCountPositionsAsHAProxy() {
        var q = PendingQueues<String>(servers: 2)
        let b1 = q.enqueue("b1")
        _ = q.enqueue("s0", server: 0)
        let b2 = q.enqueue("b2")
        #expect(q.total == 3 && q.backendCount == 2 && q.count(server: 0) == 1)
        // Server 1 takes from the backend's queue only; server 0 takes the oldest of its own and the backend's.
        let first = q.next(for: 1)
        #expect(first?.element == "b1" && first?.backendPosition == 1 && first?.serverPosition == 0)
        #expect(q.remove(b1) == nil, "already gone")
        let second = q.next(for: 0)
        #expect(second?.element == "s0" && second?.serverPosition == 1)
        // b2 waited while b1 left the backend's queue: position 2, whether it times out or gets a slot.
        let timedOut = q.remove(b2)
        #expect(timedOut?.element == "b2" && timedOut?.backendPosition == 2)
        #expect(q.next(for: 0) == nil && q.total == 0)
        #expect(q.next(for: 0, backendToo: false) == nil)
        _ = q.enqueue("x", server: 1)
        _ = q.enqueue("y", server: 1)
        #expect(q.takeAll(server: 1).map(\.element) == ["x", "y"], "a server going down gives its queue back")
    }

    @Test func redispatchPicksAnotherServerThanTheOneThatFailed() {
        var b = balancer(.roundrobin, [1, 1])
        #expect((0..<10).allSatisfy { _ in b.pick(excluding: 0) == 1 })
        var single = balancer(.roundrobin, [1])
        #expect(single.pick(excluding: 0) == 0, "with one server the retry goes to it again")
    }

    @Test func theServerLeftOutKeepsItsTurn() {
        // HAProxy's weighted round robin: after a redispatch away from server 0, the next request goes to it again
        // (checked beside HAProxy in RetryOnInteropTests).
        var b = balancer(.roundrobin, [1, 1])
        var picks: [Int?] = []
        for _ in 0..<3 {
            picks.append(b.pick())
            picks.append(b.pick(excluding: 0))
        }
        #expect(picks == [0, 1, 0, 1, 0, 1])
    }
}

@Suite("Health checks: rise and fall")
struct HealthStateTests {
    @Test func aSteadyServerGoesDownAfterFallFailuresAndUpAfterRiseSuccesses() {
        var h = HealthState(rise: 2, fall: 3, inter: .milliseconds(2000), fastinter: .milliseconds(500))
        #expect(h.isUp && h.health == 2)
        #expect(h.record(success: true) == .none)
        #expect(h.record(success: true) == .none)
        #expect(h.health == 4 && h.nextInterval == .milliseconds(2000), "steady: inter")
        #expect(h.record(success: false) == .none)
        #expect(h.progress == (2, 3) && h.nextInterval == .milliseconds(500), "going down: fastinter")
        #expect(h.record(success: false) == .none)
        #expect(h.record(success: false) == .wentDown)
        #expect(!h.isUp && h.health == 0)
        #expect(h.record(success: true) == .none)
        #expect(h.progress == (1, 2))
        #expect(h.record(success: false) == .none && h.health == 0, "a failure while down starts over")
        #expect(h.record(success: true) == .none)
        #expect(h.record(success: true) == .wentUp)
        #expect(h.isUp && h.health == 4)
    }

    /// `http-check disable-on-404`: a 404 stops a server that is UP (NOLB, at full health) until a plain success;
    /// failures take it DOWN from there as from UP.
    @Test func aConditionalSuccessStopsAnUpServerUntilAPlainOne() {
        var h = HealthState(rise: 2, fall: 2, inter: .milliseconds(300))
        #expect(h.record(success: true, conditional: true) == .wentStopping)
        #expect(h.isUp && h.stopping && h.health == 3)
        #expect(h.record(success: true, conditional: true) == .none)
        #expect(h.record(success: true) == .wentUp && !h.stopping)
        #expect(h.record(success: true, conditional: true) == .wentStopping)
        #expect(h.record(success: false) == .none && h.stopping && h.progress == (1, 2))
        #expect(h.record(success: false) == .wentDown && !h.stopping && !h.isUp)
        // The balancer leaves a stopping server out, and takes it in again.
        var b = Balancer(
            algorithm: .roundrobin, servers: [Balancer.Server(name: "a", weight: 1), Balancer.Server(name: "b", weight: 1)])
        b.setStopping(0, true)
        #expect((0..<4).map { _ in b.pick() } == [1, 1, 1, 1])
        b.setStopping(0, false)
        #expect(Set((0..<4).map { _ in b.pick() }) == [0, 1])
    }

    @Test func aServerThatFailsItsFirstCheckIsDownAtOnce() {
        var h = HealthState(rise: 2, fall: 3, inter: .milliseconds(2000))
        #expect(h.record(success: false) == .wentDown)
    }

    @Test func downIsNoticedWithinInterPlusFastintersWithAManualClock() {
        // The seed's servers: inter 2000ms rise 2 fall 3 (no fastinter: inter throughout).
        var h = HealthState(rise: 2, fall: 3, inter: .milliseconds(2000), downinter: .milliseconds(10_000))
        var clock: Int64 = 0
        while h.health < 4 {
            _ = h.record(success: true)
            clock += h.nextInterval.milliseconds
        }
        let failedAt = clock
        var transition = HealthState.Transition.none
        while transition == .none {
            clock += h.nextInterval.milliseconds
            transition = h.record(success: false)
        }
        #expect(transition == .wentDown && clock - failedAt == 3 * 2000, "fall × inter")
        #expect(h.nextInterval == .milliseconds(10_000), "fully down: downinter")
    }

    /// `slowstart`: a server that comes back UP takes a growing share of its weight (at least 1) until the period
    /// ends; one that goes DOWN meanwhile starts over.
    @Test func slowstartRampsTheWeightUp() {
        var a = Balancer.Server(name: "a", weight: 10)
        a.slowStart = 1000
        var b = Balancer(algorithm: .roundrobin, servers: [a, .init(name: "b", weight: 10)])
        b.setUp(0, false)
        b.setUp(0, true, at: 5_000)
        #expect(b.servers[0].effectiveWeight == 1 && b.warming)
        b.updateWarmup(at: 5_100)
        #expect(b.servers[0].effectiveWeight == 1)
        b.updateWarmup(at: 5_500)
        #expect(b.servers[0].effectiveWeight == 5)
        // Half the weight: a third of the picks.
        let picks = (0..<30).map { _ in b.pick() }
        #expect(picks.filter { $0 == 0 }.count == 10, "\(picks)")
        b.updateWarmup(at: 6_000)
        #expect(b.servers[0].effectiveWeight == 10 && !b.warming)
        // Without slowstart nothing ramps.
        b.setUp(1, false)
        b.setUp(1, true, at: 7_000)
        #expect(b.servers[1].effectiveWeight == 10 && !b.warming)
    }

    /// `balance random(N)`: drawn in proportion to the weights (one draw: the weights' shares), and with two draws
    /// the lighter of the two (a loaded server is taken only when both draws land on it); the same seed replays.
    @Test func randomDrawsByWeightAndTakesTheLighter() {
        func make(_ weights: [Int], draws: Int, seed: UInt64 = 42) -> Balancer {
            Balancer(
                algorithm: .random,
                servers: weights.enumerated().map { Balancer.Server(name: "s\($0.offset)", weight: $0.element) },
                draws: draws, seed: seed)
        }
        var single = make([1, 3], draws: 1)
        var counts = [0, 0]
        for _ in 0..<4_000 { if let i = single.pick() { counts[i] += 1 } }
        #expect((800...1_200).contains(counts[0]) && (2_800...3_200).contains(counts[1]), "\(counts)")
        var two = make([1, 1], draws: 2)
        for _ in 0..<50 { two.opened(0) }
        counts = [0, 0]
        for _ in 0..<4_000 { if let i = two.pick() { counts[i] += 1 } }
        // Server 0 only when both draws are it: a quarter of the time.
        #expect((800...1_200).contains(counts[0]), "\(counts)")
        var a = make([1, 2, 3], draws: 2, seed: 7)
        var b = make([1, 2, 3], draws: 2, seed: 7)
        #expect((0..<50).map { _ in a.pick() } == (0..<50).map { _ in b.pick() })
        var down = make([1, 1], draws: 2)
        down.setUp(0, false)
        #expect((0..<20).allSatisfy { _ in down.pick() == 1 })
        down.setUp(1, false)
        #expect(down.choose() == .unavailable)
    }
}
