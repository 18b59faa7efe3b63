// ClaimRequest: a worker's claim of a delivered job, and what the conditional claim found.

import Foundation
import SluiceCore

public struct ClaimRequest: Sendable {
    public var envelope: Envelope
    public var workloadClass: String
    public var worker: String
    public var lease: Duration
    /// When the attempt started; nil: now. A short job claimed at its threshold keeps the time
    /// it really started (`Worker+Short`).
    public var startedAt: Date?

    public init(envelope: Envelope, workloadClass: String, worker: String, lease: Duration, startedAt: Date? = nil) {
        self.envelope = envelope
        self.workloadClass = workloadClass
        self.worker = worker
        self.lease = lease
        self.startedAt = startedAt
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
