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
        var f = [
            JobStatusField.kind: envelope.kind.rawValue, JobStatusField.workloadClass: workloadClass,
            JobStatusField.attempt: String(envelope.attempt), JobStatusField.enqueuedAt: Timestamp.format(envelope.enqueuedAt),
        ]
        if let by = envelope.enqueuedBy { f[JobStatusField.enqueuedBy] = by }
        return f
    }
}

/// The fields of the `<prefix>job:<id>` hash (the dashboard contract in the README), defined
/// once for the writers (producer, worker, result store) and the readers (`sluice job`, the API).
public enum JobStatusField {
    public static let state = "state"
    public static let kind = "kind"
    public static let workloadClass = "class"
    public static let attempt = "attempt"
    public static let enqueuedAt = "enqueued_at"
    /// Who enqueued the job (`Envelope.enqueuedBy`).
    public static let enqueuedBy = "enqueued_by"
    public static let startedAt = "started_at"
    public static let finishedAt = "finished_at"
    public static let durationMS = "duration_ms"
    public static let worker = "worker"
    public static let error = "error"
    /// The job's report as JSON text.
    public static let result = "result"
    /// The last progress report as JSON text.
    public static let progress = "progress"
}
