// WorkerCounters: what a worker has done since it started, by outcome.

/// What a worker has done since it started.
public struct WorkerCounters: Sendable, Equatable {
    public var completed = 0
    public var retried = 0
    public var discarded = 0
    public var cancelled = 0
    public var requeued = 0
    public var deadLettered = 0
    /// Deliveries acked without running (already final, or running elsewhere).
    public var skipped = 0
}
