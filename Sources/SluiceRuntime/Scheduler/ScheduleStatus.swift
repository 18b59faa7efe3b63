// ScheduleStatus: one schedule as `sluice schedule list` shows it: its definition, the last
// fire the leader recorded and the next one due.

import Foundation
import SluiceCore

public struct ScheduleStatus: Sendable {
    public var job: ScheduledJob
    public var lastFire: Date?
    /// The job of the last recorded fire, once its enqueue confirmed.
    public var lastJobID: JobID?
    /// The next fire after now (nil when disabled or when none comes within 400 years).
    public var nextFire: Date?

    public var name: String { job.name }

    /// snake_case JSON for `--json`.
    public var json: JSONValue {
        let d = job.definition
        var zone: JSONValue = .null
        if case .cron(_, let tz) = d.spec { zone = .string(tz.identifier == "GMT" ? "UTC" : tz.identifier) }
        return .object([
            "name": .string(d.name), "spec": .string(d.spec.description), "kind": .string(d.kind.rawValue),
            "time_zone": zone, "target": .string(job.target), "args": .object(d.args),
            "unique_key": d.uniqueKey.map { .string($0) } ?? .null, "missed_runs": .string(d.missedRuns.description),
            "enabled": .bool(d.enabled), "last_fire": lastFire.map { .string(Timestamp.format($0)) } ?? .null,
            "last_job_id": lastJobID.map { .string($0.description) } ?? .null,
            "next_fire": nextFire.map { .string(Timestamp.format($0)) } ?? .null,
        ])
    }
}
