// Scheduler+Enqueue: turning a recorded fire into exactly one job, manual fires
// (`sluice schedule run`) and the status `sluice schedule list` prints.
//
// Attempt n of a fire uses the job id `FireJobID.make(key:attempt: n)`. Before a new attempt
// the ids of the earlier ones are looked up in the ledger: a job found there (in any state but
// "publish failed") is the fire's job, and one still `available` is published again, because
// its publish may never have happened (a duplicate message is harmless: claims are
// conditional). Only when every earlier id is absent or failed to publish is a new job made.

import Foundation
import SluiceCore

extension Scheduler {
    /// Enqueues the fire's job unless an earlier attempt made it; records the job id on the
    /// fire. Returns the job's id, or nil when the enqueue failed (a later tick retries).
    func enqueue(_ job: ScheduledJob, _ fire: ScheduleStore.Fire, previousAttempts: Int) async throws -> JobID? {
        let key = fire.key
        for n in 0..<previousAttempts {
            let id = FireJobID.make(key: key, attempt: n)
            guard let row = try await producer.ledger.job(id) else { continue }
            if row.state == .discarded && row.error == "publish_failed" { continue }
            if row.state == .available {
                let message = producer.publisher.message(for: row.envelope(), workloadClass: row.workloadClass, tier: nil)
                try await producer.publisher.publish(message, tries: 2)
            }
            try await store.recordJob(fire, id: id, duplicate: false)
            state.withLock { $0.firesEnqueued += 1 }
            logger.notice("found the job of an unconfirmed fire", metadata: ["schedule": "\(fire.schedule)", "job.id": "\(id)"])
            return id
        }
        guard let attempt = try await store.beginAttempt(fire) else { return nil }  // another leader finished it
        let d = job.definition
        var request = JobRequest(
            kind: d.kind, args: d.args, target: job.target, uniqueKey: d.uniqueKey(for: fire.time), maxAttempts: job.maxAttempts,
            timeoutSeconds: job.timeoutSeconds, traceID: key, producer: "scheduler",
            enqueuedBy: "scheduler:\(fire.schedule)")
        request.id = FireJobID.make(key: key, attempt: attempt - 1)
        do {
            let result = try await producer.enqueue(request)
            try await store.recordJob(fire, id: result.id, duplicate: result.duplicate)
            state.withLock { $0.firesEnqueued += 1 }
            logger.info("fired", metadata: [
                "schedule": "\(fire.schedule)", "fire": "\(key)", "job.id": "\(result.id)", "duplicate": "\(result.duplicate)",
            ])
            return result.id
        } catch {
            logger.error("enqueue of a fire failed; it will be retried", metadata: [
                "schedule": "\(fire.schedule)", "fire": "\(key)", "attempt": "\(attempt)", "error": "\(error)",
            ])
            try? await store.recordError(fire, "\(error)")
            return nil
        }
    }

    /// What `fireNow` did.
    public struct ManualFire: Sendable {
        public var schedule: String
        public var fireTime: Date
        /// `<name>@manual@<time>`.
        public var key: String
        public var jobID: JobID
        /// True when a live job held the unique key: `jobID` is that job's.
        public var duplicate: Bool
    }

    /// Fires `name` now, whoever leads: one job, keyed `<name>@manual@<now>`. Works on a
    /// disabled schedule too (an operator asked). Does not change `last_fire`.
    public func fireNow(_ name: String) async throws -> ManualFire {
        guard let job = jobs.first(where: { $0.name == name }) else {
            throw SchedulerError(.unknownSchedule, "no schedule is named '\(name.prefix(100))'")
        }
        let fire = ScheduleStore.Fire(schedule: name, time: now(), manual: true)
        let existing = try await store.recordManual(fire)
        if let id = existing.job {
            return ManualFire(schedule: name, fireTime: fire.time, key: fire.key, jobID: id, duplicate: true)
        }
        guard let id = try await enqueue(job, fire, previousAttempts: existing.attempts) else {
            throw SchedulerError(.enqueueFailed, "the fire \(fire.key) is recorded but its job could not be enqueued; a scheduler will retry it")
        }
        let duplicate = id != FireJobID.make(key: fire.key, attempt: 0)
        return ManualFire(schedule: name, fireTime: fire.time, key: fire.key, jobID: id, duplicate: duplicate)
    }

    /// Each schedule with its last recorded fire and next fire after `now()`, in catalog order.
    public func status() async throws -> [ScheduleStatus] {
        let stored = try await store.status()
        let at = now()
        return jobs.map { j in
            let s = stored[j.name]
            return ScheduleStatus(job: j, lastFire: s?.last, lastJobID: s?.job,
                                  nextFire: j.definition.enabled ? j.definition.spec.nextFire(after: at) : nil)
        }
    }
}
