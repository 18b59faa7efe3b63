// WorkerDrain without a server: events in, actions out.

@testable import SluiceRuntime
import Testing

@Suite struct WorkerDrainTests {
    @Test func aStopClosesConsumersOnceThenTheGraceCancelsWhatStillRuns() {
        var d = WorkerDrain()
        #expect(d.acceptsDeliveries)
        #expect(d.stopRequested() == .closeConsumersAndStartGrace)
        #expect(!d.acceptsDeliveries && d.state == .draining)
        #expect(d.stopRequested() == .none, "a second SIGTERM changes nothing")
        #expect(d.graceElapsed(runningJobs: 3) == .cancelRunningJobs)
        #expect(d.state == .cancelling)
        #expect(d.graceElapsed(runningJobs: 3) == .none, "cancelled once")
        #expect(d.slotsDrained() == .none && d.state == .stopped)
        #expect(d.stopRequested() == .none)
    }

    @Test func nothingIsCancelledWhenEveryJobFinishedInTime() {
        var d = WorkerDrain()
        _ = d.stopRequested()
        #expect(d.graceElapsed(runningJobs: 0) == .none)
        #expect(d.state == .cancelling)
    }

    @Test func theGraceTimerIsInertBeforeAStop() {
        var d = WorkerDrain()
        #expect(d.graceElapsed(runningJobs: 5) == .none)
        #expect(d.acceptsDeliveries)
    }

    @Test func drainingEndsWhenSlotsAreFreeEvenWithoutAStop() {
        // The consumers ended on their own (the broker went away for good at shutdown).
        var d = WorkerDrain()
        _ = d.slotsDrained()
        #expect(d.state == .stopped && !d.acceptsDeliveries)
    }
}
