// JobState: the closed set of states a job's ledger row can be in (River's names).
//
// Each case documents who moves a job into it and out of it. The set is part of the ledger
// schema (a CHECK constraint) and of the Redis contract; adding a state is a migration.

public enum JobState: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
    /// Enqueued and confirmed by the broker, waiting for a worker.
    /// In: the producer. Out: a worker claims it (running), or `cancel` (cancelled).
    case available
    /// Enqueued with a `not_before` in the future; it sits in a delay queue until then.
    /// In: the producer. Out: the delay expires and a worker claims it (running), or cancelled.
    case scheduled
    /// A worker holds it under a lease that its heartbeat keeps alive.
    /// In: a worker's claim. Out: the same worker (completed, retryable, discarded, cancelled),
    /// or the leader's rescue when the lease expires (available again).
    case running
    /// Failed with a retryable error and waits in a retry queue for its next attempt.
    /// In: a worker. Out: a worker claims the next attempt (running), or cancelled.
    case retryable
    /// Finished successfully; the result is in the ledger and in Redis. Final.
    case completed
    /// Cancelled by an operator (`sluice cancel`) before or while it ran. Final.
    case cancelled
    /// Failed for good (bad arguments, unknown kind, attempts exhausted) and dead-lettered with
    /// its reason. Final, unless an operator replays it from the dead-letter queue.
    case discarded

    public var description: String { rawValue }

    /// No worker will touch a job in a final state again.
    public var isFinal: Bool {
        switch self {
        case .completed, .cancelled, .discarded: return true
        case .available, .scheduled, .running, .retryable: return false
        }
    }

    /// States in which a `unique_key` is held: a duplicate enqueue returns the existing id.
    public var holdsUniqueKey: Bool { !isFinal }
}
