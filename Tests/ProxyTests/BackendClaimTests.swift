import Testing

@testable import Proxy

/// The backend path's decisions, as HAProxy 2.6 takes them (its logs: `retries`, `+` for a redispatch, the queue
/// figures). The sessions follow these through `BackendAssignee`; the interop tests see the same beside HAProxy.
@Suite("The backend path's decisions")
struct BackendClaimTests {
    /// Runs `claim` through a balancer that gives `servers` in turn, attempting after each step, until an attempt
    /// on a server in `reachable` succeeds or the retries are spent; returns the servers attempted.
    func attempts(
        _ claim: inout BackendClaim, retries: Int, redispatch: Bool, balancer servers: [Int], reachable: Set<Int>
    ) -> (attempted: [Int], released: [Int], connected: Bool) {
        var given = servers[...]
        var attempted: [Int] = []
        var released: [Int] = []
        while true {
            let step = claim.next(redispatch: redispatch)
            switch step {
            case .attempt(let server):
                attempted.append(server)
            case .choose(let excluding, let giveBack, _):
                if let giveBack { released.append(giveBack) }
                guard let server = given.popFirst() else { return (attempted, released, false) }
                #expect(server != excluding, "the balancer leaves out the server that failed")
                claim.assigned(server, for: step)
                attempted.append(server)
            }
            _ = claim.startAttempt()
            if reachable.contains(attempted.last ?? -1) { return (attempted, released, true) }
            guard claim.mayRetry(retries: retries) else { return (attempted, released, false) }
        }
    }

    @Test func theFirstAttemptChoosesAndTheRetriesStayOnTheServer() {
        var claim = BackendClaim()
        let run = attempts(&claim, retries: 3, redispatch: false, balancer: [0, 1], reachable: [])
        #expect(run.attempted == [0, 0, 0, 0], "retries 3: four attempts, all on the chosen server")
        #expect(run.released.isEmpty)
        #expect(claim.retries == 3)
        #expect(!claim.redispatched)
        #expect(claim.server == 0)
        #expect(claim.slot == 0, "the slot is held until the session ends")
        #expect(claim.release() == 0)
        #expect(claim.slot == nil)
        #expect(claim.release() == nil, "given back once")
    }

    @Test func redispatchMovesTheFirstRetryAndOnlyIt() {
        var claim = BackendClaim()
        let run = attempts(&claim, retries: 3, redispatch: true, balancer: [0, 1, 2], reachable: [])
        #expect(run.attempted == [0, 1, 1, 1], "the first retry goes elsewhere, the later ones stay there")
        #expect(run.released == [0], "the failed server's slot goes back before choosing")
        #expect(claim.redispatched)
        #expect(claim.retries == 3)
        #expect(claim.server == 1)
    }

    @Test func aResponseIsRetriedOnceLessThanAFailedConnectAndTheRefusedRetryIsCounted() {
        // HAProxy 2.6's `do_l7_retry`: `++conn_retries < retries`; the log shows the count it reached.
        var claim = BackendClaim()
        _ = claim.next(redispatch: false)
        claim.assigned(0, for: .choose(excluding: nil, released: nil, redispatching: false))
        var attempts = 0
        while true {
            _ = claim.startAttempt()
            attempts += 1
            guard claim.mayRetryResponse(retries: 3) else {
                claim.refusedResponseRetry()
                break
            }
            _ = claim.next(redispatch: false)
        }
        #expect(attempts == 3 && claim.retries == 3)
        #expect(RetryOn.parse(["503", "504"]).map { $0.connectionFailure } == .success(false))
        #expect(RetryOn.parse(["all-retryable-errors"]).map { $0.statuses } == .success([500, 502, 503, 504]))
        #expect(RetryOn.parse(["none"]).map(\.layer7) == .success(false))
        if case .failure(let e) = RetryOn.parse(["none", "503"]) {
            #expect(e.message == "'retry-on' 'none' keyworld only usable alone")
        } else {
            Issue.record("none with another keyword was accepted")
        }
        if case .failure(let e) = RetryOn.parse(["505"]) { #expect(e.message == "'retry-on': unknown keyword '505'") }
    }

    @Test func aRedispatchThatFindsTheSameServerIsNotMarked() {
        // The balancer may have nothing else (one server): the session goes back to it, without the `+`.
        var claim = BackendClaim()
        let first = claim.next(redispatch: true)
        claim.assigned(0, for: first)
        _ = claim.startAttempt()
        let retry = claim.next(redispatch: true)
        #expect(retry == .choose(excluding: 0, released: 0, redispatching: true))
        claim.assigned(0, for: retry)
        #expect(!claim.redispatched)
    }

    @Test func aConnectionOnTheFirstAttemptIsNoRetry() {
        var claim = BackendClaim()
        let run = attempts(&claim, retries: 3, redispatch: true, balancer: [2], reachable: [2])
        #expect(run.attempted == [2])
        #expect(run.connected)
        #expect(claim.retries == 0)
        #expect(!claim.redispatched)
    }

    @Test func retriesZeroGivesOneAttempt() {
        var claim = BackendClaim()
        let run = attempts(&claim, retries: 0, redispatch: true, balancer: [0, 1], reachable: [])
        #expect(run.attempted == [0])
        #expect(!run.connected)
    }

    @Test func queuePlacesAddUpOverEachQueueLeft() {
        var claim = BackendClaim()
        let step = claim.next(redispatch: false)
        #expect(step == .choose(excluding: nil, released: nil, redispatching: false))
        claim.queued(for: 1)
        #expect(claim.server == 1, "the log names the server queued for")
        #expect(claim.slot == nil, "no slot while queued")
        // Its server went down: it leaves the queue without a slot and chooses again.
        claim.leftQueue(granted: nil, serverPosition: 3, backendPosition: 0)
        claim.noServer()
        #expect(claim.server == nil)
        claim.queued(for: nil)
        claim.leftQueue(granted: 0, serverPosition: 0, backendPosition: 5)
        #expect(claim.serverQueue == 3)
        #expect(claim.backendQueue == 5)
        #expect(claim.server == 0)
        #expect(claim.slot == 0)
        #expect(claim.next(redispatch: false) == .attempt(0), "the slot that came from the queue is used")
    }

    @Test func noServerLeavesTheLogWithoutOne() {
        var claim = BackendClaim()
        let step = claim.next(redispatch: false)
        claim.assigned(1, for: step)
        claim.noServer()
        #expect(claim.server == nil)
        #expect(claim.release() == 1, "the slot it held still goes back")
    }
}
