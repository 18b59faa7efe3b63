// ClaimRequest: a worker's claim of a delivered job, and what the conditional claim found.

import SluiceCore

public struct ClaimRequest: Sendable {
    public var envelope: Envelope
    public var workloadClass: String
    public var worker: String
    public var lease: Duration

    public init(envelope: Envelope, workloadClass: String, worker: String, lease: Duration) {
        self.envelope = envelope
        self.workloadClass = workloadClass
        self.worker = worker
        self.lease = lease
    }
}

public enum ClaimOutcome: Sendable, Equatable {
    /// This worker holds the job now; run attempt `attempt`.
    case claimed(attempt: Int)
    /// The job is final (completed, cancelled, discarded): ack and skip.
    case final(JobState)
    /// Another live lease holds it (or a duplicate message in the same batch): ack and skip.
    case busy(worker: String?)
}
