import Foundation
import Testing

@testable import SyslogSink

/// rsyslog's action suspension, as the forwards and ompgsql share it: the pause, its growth, the retries, the notices.
@Suite("Action suspension")
struct ActionSuspensionTests {
    @Test func pausesGrowEveryTenFailuresUpToTheMaximum() {
        var settings = ActionQueueSettings()
        settings.resumeInterval = 30
        settings.resumeIntervalMax = 100
        settings.resumeRetryCount = -1
        var s = ActionSuspension(settings)
        let t0 = ContinuousClock.now
        let first = s.failed("cannot connect", action: "omfwd x", at: t0)
        #expect(first.pause == 30)
        #expect(first.notice == "action 'omfwd x' suspended: cannot connect; next try in 30 s, messages are held")
        #expect(s.isWaiting(at: t0 + .seconds(29)) && !s.isWaiting(at: t0 + .seconds(30)))
        var pauses: [Int] = []
        for _ in 2...25 {
            let (pause, notice) = s.failed("again", action: "omfwd x", at: t0)
            #expect(notice == nil, "one notice per suspension")
            pauses.append(pause)
        }
        #expect(pauses.prefix(8).allSatisfy { $0 == 30 } && pauses[8] == 60 && pauses.last == 90)
        #expect(!s.retriesUsedUp)
        #expect(s.resumed(action: "omfwd x", waiting: 12, at: t0 + .seconds(75)) == "action 'omfwd x' resumed after 75 s (12 messages waiting)")
        #expect(s.failures == 0 && s.until == nil && s.since == nil)
        #expect(s.resumed(action: "omfwd x", waiting: 0, at: t0) == nil, "no notice without a suspension")
    }

    @Test func retriesAreUsedUpAfterTheCountAndTryAtOnceClearsTheWait() {
        var settings = ActionQueueSettings()
        settings.resumeRetryCount = 2
        var s = ActionSuspension(settings)
        let t0 = ContinuousClock.now
        #expect(s.failed("x", action: "a", at: t0).notice?.hasSuffix("messages are dropped after 2 more tries") == true)
        _ = s.failed("x", action: "a", at: t0)
        #expect(!s.retriesUsedUp)
        _ = s.failed("x", action: "a", at: t0)
        #expect(s.retriesUsedUp)
        s.tryAtOnce()
        #expect(!s.isWaiting(at: t0))
        // A suspended thread looks again within 0.2 s, or at the end of its wait when sooner.
        let far = s.nextLook(until: t0 + .seconds(5), now: t0).timeIntervalSinceNow
        let near = s.nextLook(until: t0 + .milliseconds(50), now: t0).timeIntervalSinceNow
        #expect(far > 0.1 && far <= 0.2 && near <= 0.05 && near >= 0)
    }
}
