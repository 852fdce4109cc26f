import Testing

@testable import Proxy

/// Where an HTTP exchange stands, as the session walks it: the paths a request takes (to a server, a kept
/// connection the server had closed, the stats page, the proxy's own answers), what each counts open and closes
/// when it is logged, and the late events that must change nothing.
@Suite("The exchange's state")
struct ExchangeStateTests {
    @Test func aRequestToAServerIsCountedInItsBackendThenOnTheServer() {
        var state = ExchangeState()
        #expect(!state.relaysToServer && !state.dropsBody)
        let r1 = state.enteredBackend()
        #expect(r1)
        #expect(state.leg == .inBackend && !state.relaysToServer, "parts are held until a server is connected")
        let r2 = state.connected(reused: false)
        #expect(r2)
        #expect(state.relaysToServer && !state.reusedConnection)
        let r3 = state.requestEnded()
        #expect(!r3, "a server answers: the end of the request does not finish the exchange")
        #expect(state.requestDone)
        let r4 = state.log()
        #expect(r4.map { [$0.backend, $0.server] } == [true, true])
        let r5 = state.log()
        #expect(r5 == nil, "logged once")
    }

    @Test func aKeptConnectionClosedByTheServerIsTriedAgainOnlyBeforeAnyBody() {
        var state = ExchangeState()
        state.enteredBackend()
        state.connected(reused: true)
        #expect(state.reusedConnection)
        let r6 = state.pooledConnectionLost(bodySent: false)
        #expect(r6)
        #expect(state.leg == .inBackend, "no longer counted on the server; looking again")
        let r7 = state.pooledConnectionLost(bodySent: false)
        #expect(!r7, "nothing to lose twice")
        state.connected(reused: false)
        let r8 = state.pooledConnectionLost(bodySent: false)
        #expect(!r8, "a fresh connection that closes is the server failing")

        var withBody = ExchangeState()
        withBody.enteredBackend()
        withBody.connected(reused: true)
        let r9 = withBody.pooledConnectionLost(bodySent: true)
        #expect(!r9, "a body that went out is not sent twice")
        #expect(withBody.reusedConnection)
    }

    @Test func theStatsPageDropsTheBodyAndFinishesAtTheRequestsEnd() {
        var state = ExchangeState()
        let r10 = state.answeredByStats()
        #expect(r10)
        #expect(state.dropsBody && state.answeredByStatsPage && !state.timersUnknown)
        let r11 = state.enteredBackend()
        #expect(!r11, "answered: no backend is looked for")
        let r12 = state.requestEnded()
        #expect(r12, "the end of the body it waited for finishes the exchange")
        let r13 = state.requestEnded()
        #expect(!r13, "a second end changes nothing")
        let r14 = state.log()
        #expect(r14.map { [$0.backend, $0.server] } == [false, false])
    }

    @Test func theProxysOwnAnswersKeepWhatWasSaidOfTheTimers() {
        var refused = ExchangeState()
        refused.answeredByProxy(timersKnown: false)
        refused.answeredByProxy()  // the error page written next
        #expect(refused.timersUnknown, "a later answer does not bring back timers HAProxy does not log")

        var timedOut = ExchangeState()
        timedOut.enteredBackend()
        timedOut.answeredByProxy()
        #expect(!timedOut.timersUnknown && timedOut.answer == .proxy(timersKnown: true))
        let r15 = timedOut.log()
        #expect(r15.map { [$0.backend, $0.server] } == [true, false], "counted in the backend only")
    }

    @Test func lateEventsAfterTheLogChangeNothing() {
        var state = ExchangeState()
        state.enteredBackend()
        _ = state.log()
        let logged = state
        let r16 = state.connected(reused: false)
        #expect(!r16, "a connection made after the client left is closed, not counted")
        let r17 = state.answeredByStats()
        let r18 = state.answeredByProxy()
        let r19 = state.enteredBackend()
        #expect(!r17 && !r18 && !r19)
        let r20 = state.pooledConnectionLost(bodySent: false)
        #expect(!r20)
        #expect(state == logged)
    }

    @Test func aProxyAnswerBeforeTheRequestsEndFinishesAtItsEnd() {
        var state = ExchangeState()
        state.answeredByProxy()
        let early = state.finishesAtRequestEnd()
        #expect(early && state.dropsBody && state.answer == .proxy(timersKnown: true))
        let ended = state.requestEnded()
        #expect(ended, "the end of the request finishes the exchange answered early")
        var read = ExchangeState.badRequest
        read.answeredByProxy()
        let late = read.finishesAtRequestEnd()
        #expect(!late, "a request read in full is finished at once, not at an end already read")
        var forServer = ExchangeState()
        let notAnswered = forServer.finishesAtRequestEnd()
        #expect(!notAnswered, "only an answer made here waits for the request's end")
        var monitor = ExchangeState()
        let asked = monitor.answeredByMonitor()
        #expect(asked && !monitor.isLogged && ExchangeState().isLogged)
    }

    @Test func aBadRequestIsReadInFull() {
        var state = ExchangeState.badRequest
        let r21 = state.requestEnded()
        #expect(state.requestDone && !r21)
    }
}
