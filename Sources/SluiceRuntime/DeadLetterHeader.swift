// DeadLetterHeader: the AMQP headers of a message in the dead-letter queue. Written by the worker
// when it gives up on a message or a job, read by `DeadLetters` (`sluice dead list|replay`) and
// by any other consumer of the queue; defined once so writer and reader cannot drift.

public enum DeadLetterHeader {
    /// Why: `invalid_arguments`, `unknown_kind`, `exhausted`, `not_retryable`, `worker_lost`…
    public static let reason = "x-sluice-reason"
    /// The last error, cut to 1 KiB.
    public static let error = "x-sluice-error"
    /// The attempt that failed (integer).
    public static let attempt = "x-sluice-attempt"
    /// The workload class whose queue the message came from; a replay goes back there.
    public static let workloadClass = "x-sluice-class"
    /// The job's kind, when the envelope could be read.
    public static let kind = "x-sluice-kind"
    /// When it was dead-lettered (ISO 8601, UTC, milliseconds).
    public static let failedAt = "x-sluice-failed-at"
}
