// JobStatusUpdate: one change of a job's status as dashboards see it in Redis.
//
// Becomes an HSET of the changed fields of `<prefix>job:<id>` and one entry of the
// `<prefix>events` stream. Field values are strings; results and progress are JSON text.

import Foundation
import SluiceCore

public struct JobStatusUpdate: Sendable {
    public var id: JobID
    public var state: JobState
    /// Hash fields besides `state` (kind, class, attempt, timings, error, result, worker…).
    public var fields: [String: String]
    /// Only set `state` when the hash has none yet (the producer's first write can arrive
    /// after a fast worker's `completed`).
    public var stateIfAbsent: Bool

    public init(id: JobID, state: JobState, fields: [String: String] = [:], stateIfAbsent: Bool = false) {
        self.id = id
        self.state = state
        self.fields = fields
        self.stateIfAbsent = stateIfAbsent
    }

    /// Fields describing a job as enqueued.
    public static func fields(of envelope: Envelope, workloadClass: String) -> [String: String] {
        [
            "kind": envelope.kind.rawValue, "class": workloadClass, "attempt": String(envelope.attempt),
            "enqueued_at": Timestamp.format(envelope.enqueuedAt),
        ]
    }
}
