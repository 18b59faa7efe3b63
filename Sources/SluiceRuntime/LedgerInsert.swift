// LedgerInsert: a row the producer inserts at enqueue, and what the insert found.

import SluiceCore

/// A row to insert at enqueue.
public struct LedgerInsert: Sendable {
    public var envelope: Envelope
    public var workloadClass: String
    /// `available`, or `scheduled` for a job with a future `not_before`.
    public var state: JobState

    public init(envelope: Envelope, workloadClass: String, state: JobState) {
        self.envelope = envelope
        self.workloadClass = workloadClass
        self.state = state
    }
}

public enum InsertOutcome: Sendable, Equatable {
    case inserted
    /// A live job already holds the unique key.
    case duplicate(of: JobID)
}
