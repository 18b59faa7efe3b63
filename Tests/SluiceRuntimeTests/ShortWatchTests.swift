// ShortWatch and ShortRun without a server: deadlines in, claims out.

@testable import SluiceRuntime
import Synchronization
import Testing

@Suite struct ShortWatchTests {
    final class Fired: Sendable {
        let count = Mutex(0)
        func withLock<T: Sendable>(_ body: (inout Int) -> T) -> T { count.withLock { body(&$0) } }
    }

    /// A run whose threshold fires count how often, and whose claim ends as `claim` says.
    private func run(_ fired: Fired, claim: ShortRun.Phase?) -> ShortRun {
        ShortRun { run in
            guard run.beginClaim() else { return }
            fired.withLock { $0 += 1 }
            run.claimEnded(claim)
        }
    }

    private func until(_ condition: () -> Bool) async {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition() && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
    }

    @Test func aRunPastItsDeadlineIsClaimedOnceAndARunThatEndedFirstNever() async {
        let watch = ShortWatch(tick: .milliseconds(10))
        let sweeper = Task { await watch.run() }
        defer { sweeper.cancel() }
        let slowFired = Fired(), quickFired = Fired()
        let slow = run(slowFired, claim: ShortRun.Phase.claimed(attempt: 1))
        let quick = run(quickFired, claim: ShortRun.Phase.claimed(attempt: 1))
        _ = watch.add(slow, deadline: .now + .milliseconds(30))
        let quickKey = watch.add(quick, deadline: .now + .milliseconds(30))
        #expect(await quick.end() == .unclaimed, "ended before its threshold: recorded the short way")
        watch.remove(quickKey)
        await until { slowFired.withLock { $0 } > 0 }
        try? await Task.sleep(for: .milliseconds(60))
        #expect(slowFired.withLock { $0 } == 1)
        #expect(quickFired.withLock { $0 } == 0)
        #expect(await slow.end() == .claimed(attempt: 1), "crossed its threshold: goes on as a long job")
    }

    @Test func stoppingClaimsEveryRunAtOnceAndEveryRunAddedAfter() async {
        let watch = ShortWatch(tick: .milliseconds(10))
        let sweeper = Task { await watch.run() }
        defer { sweeper.cancel() }
        let fired = Fired()
        for _ in 0..<3 { _ = watch.add(run(fired, claim: ShortRun.Phase.lost), deadline: .now + .seconds(3600)) }
        watch.stop()
        await until { fired.withLock { $0 } == 3 }
        #expect(fired.withLock { $0 } == 3)
        let late = run(fired, claim: ShortRun.Phase.lost)
        _ = watch.add(late, deadline: .now + .seconds(3600))
        await until { fired.withLock { $0 } == 4 }
        #expect(await late.end() == .lost)
    }

    @Test func aRunThatEndsWhileItsClaimIsUnderWayWaitsForTheClaim() async {
        let run = ShortRun { _ in }
        #expect(run.beginClaim())
        #expect(!run.beginClaim(), "one claim at a time")
        let ended = Task { await run.end() }
        try? await Task.sleep(for: .milliseconds(20))
        run.claimEnded(.claimed(attempt: 2))
        #expect(await ended.value == .claimed(attempt: 2))
    }

    @Test func aFailedClaimLeavesTheRunToBeRecordedShortWhenItEndedMeanwhileElseToBeTriedAgain() async {
        let waiting = ShortRun { _ in }
        #expect(waiting.beginClaim())
        let ended = Task { await waiting.end() }
        try? await Task.sleep(for: .milliseconds(20))
        waiting.claimEnded(nil)
        #expect(await ended.value == .unclaimed)
        #expect(!waiting.beginClaim(), "ended: never claimed after")

        let running = ShortRun { _ in }
        #expect(running.beginClaim())
        running.claimEnded(nil)
        #expect(running.beginClaim(), "still running: the next try may claim it")
    }
}
