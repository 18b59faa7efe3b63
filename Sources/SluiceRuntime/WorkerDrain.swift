// WorkerDrain: a worker's shutdown as a pure state machine. Events come in (stop requested,
// grace period over, every slot drained), actions come out; the worker performs them.
//
// running ──stop──▶ draining ──grace over──▶ cancelling ──slots drained──▶ stopped
//    └──────────────────────────slots drained (from any state)──────────────────┘
//
// Invariants: deliveries are taken only while `running`; consumers are closed exactly once (on
// the first stop); running jobs are cancelled (and handed back to their queue) only after the
// grace period, and only when some are still running.

struct WorkerDrain: Sendable, Equatable {
    enum State: Sendable, Equatable {
        /// Consuming and running jobs.
        case running
        /// Stop requested: no new deliveries; running jobs have the grace period.
        case draining
        /// Grace period over: running jobs were asked to stop and are being handed back.
        case cancelling
        /// Every slot is free; the worker flushes and closes.
        case stopped
    }

    enum Action: Sendable, Equatable {
        case none
        /// Wake whoever waits for the stop: consumer watchers close their consumers, the grace
        /// timer starts.
        case closeConsumersAndStartGrace
        /// Cancel the running jobs; each is handed back to its queue with the same attempt.
        case cancelRunningJobs
    }

    private(set) var state: State = .running

    /// True while new deliveries may be taken.
    var acceptsDeliveries: Bool { state == .running }

    mutating func stopRequested() -> Action {
        guard state == .running else { return .none }
        state = .draining
        return .closeConsumersAndStartGrace
    }

    mutating func graceElapsed(runningJobs: Int) -> Action {
        guard state == .draining else { return .none }
        state = .cancelling
        return runningJobs > 0 ? .cancelRunningJobs : .none
    }

    mutating func slotsDrained() -> Action {
        state = .stopped
        return .none
    }
}
