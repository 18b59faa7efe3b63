// Worker+Short: a short job recorded once (issue 19). A delivery is run at once, without the
// claim commit and without its ack: a read first skips a job that is final or held by a live
// lease. When the job completes inside its class's threshold (default 250 ms,
// `WorkerConfiguration.defaultShortJobThreshold`; the class's `short_job_threshold` wins, and
// zero claims every job first), one conditional statement records it completed and the ack
// follows that commit. A job still running at the threshold (or when the worker starts
// stopping) is claimed then by the worker's `ShortWatch`, with the time it really started,
// acked, and goes on as a long job (lease, heartbeat, cancel, finish). A short job that fails
// is claimed when it ends and then retried or dead-lettered as a long one.
//
// Guarantees: a worker killed while a short job runs or before its record commits leaves the
// delivery unacked, so the broker redelivers it and it runs again, recorded once; a job recorded
// final is skipped on redelivery. Two copies of one message (a publish repeated after a lost
// confirm) delivered at once to two workers may both run; the conditional record keeps one.

import Foundation
import Logging
import RabbitMQ
import SluiceCatalog
import SluiceCore

extension Worker {
    /// The class's short-job threshold: its own (zero: every job is claimed before it runs),
    /// else `WorkerConfiguration.defaultShortJobThreshold`, at most a tenth of the lease.
    func shortThreshold(_ settings: ClassSettings) -> Duration {
        settings.shortJobThreshold ?? min(WorkerConfiguration.defaultShortJobThreshold, configuration.lease / 10)
    }

    /// Runs a delivered job the short way. Returns false when it must take the long way (its
    /// row is running under an expired lease: claim it first).
    func runShort(_ envelope: Envelope, settle: Settlement, settings: ClassSettings, threshold: Duration) async -> Bool {
        var job = envelope
        do {
            switch try await ledger.peek(envelope.id) {
            case .final, .busy:
                settle.ack()
                counters.withLock { $0.skipped += 1 }
                return true
            case .claim:
                return false
            case .run(let attempt):
                job.attempt = max(job.attempt, attempt ?? 0)
            }
        } catch {
            logger.warning("ledger read failed; requeueing", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            settle.requeue()
            return true
        }
        let workloadClass = settings.workloadClass
        let startedAt = Date()
        unclaimedShortRuns.withLock { $0 += 1 }
        let run = ShortRun { [job] run in
            await self.claimAtThreshold(run, job, workloadClass: workloadClass, startedAt: startedAt, settle: settle)
        }
        let key = shortWatch.add(run, deadline: .now + threshold)
        let performed = await perform(job, workloadClass: workloadClass, startedAt: startedAt)
        let phase = await run.end()
        shortWatch.remove(key)
        switch phase {
        case .claimed(let attempt):
            job.attempt = attempt
            await record(performed, job, workloadClass: workloadClass)
        case .lost:
            counters.withLock { $0.skipped += 1 }
        case .unclaimed, .claiming, .ended:
            await recordShort(performed, job, workloadClass: workloadClass, settle: settle)
            unclaimedShortRuns.withLock { $0 -= 1 }
        }
        return true
    }

    /// The run's threshold passed (or the worker started stopping) before it ended: claim it,
    /// with the time it really started, and ack its message; it goes on as a long job. A claim
    /// that fails is tried again in half a second.
    private func claimAtThreshold(_ run: ShortRun, _ job: Envelope, workloadClass: WorkloadClass, startedAt: Date,
                                  settle: Settlement) async {
        guard run.beginClaim() else { return }
        do {
            let request = ClaimRequest(envelope: job, workloadClass: workloadClass.rawValue, worker: configuration.name,
                                       lease: configuration.lease, startedAt: startedAt)
            switch try await ledger.claim(request) {
            case .claimed(let attempt):
                run.claimEnded(.claimed(attempt: attempt))
            case .final, .busy:
                run.claimEnded(.lost)
                running.stop(job.id, .cancelled)
            }
            settle.ack()
            unclaimedShortRuns.withLock { $0 -= 1 }
        } catch {
            logger.warning("claim at the short-job threshold failed; trying again", metadata: [
                "job.id": "\(job.id)", "error": "\(error)"])
            run.claimEnded(nil)
            shortWatch.retry(run, after: .milliseconds(500))
        }
    }

    /// Records an unclaimed run that ended: completed with one statement, then the ack; any
    /// other end claims the job first and goes the long way (retry, dead letter, hand-back).
    private func recordShort(_ performed: Performed, _ job: Envelope, workloadClass: WorkloadClass, settle: Settlement) async {
        switch performed.outcome {
        case .success(let result):
            let completion = ShortCompletion(envelope: job, workloadClass: workloadClass.rawValue, worker: configuration.name,
                                             startedAt: performed.startedAt, result: result)
            var delay = Duration.milliseconds(200)
            for _ in 0..<10 {
                do {
                    let recorded = try await ledger.recordCompleted(completion)
                    settle.ack()
                    if recorded {
                        let duration = String(Int(performed.finishedAt.timeIntervalSince(performed.startedAt) * 1000))
                        results.record(JobStatusUpdate(id: job.id, state: .completed, fields: [
                            JobStatusField.result: result.jsonString, JobStatusField.finishedAt: Timestamp.format(performed.finishedAt),
                            JobStatusField.durationMS: duration]))
                        counters.withLock { $0.completed += 1 }
                    } else {
                        counters.withLock { $0.skipped += 1 }
                    }
                    return
                } catch {
                    logger.warning("ledger update failed; retrying", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(5))
                }
            }
            logger.error("ledger update failed for good; the job's message goes back to its queue", metadata: ["job.id": "\(job.id)"])
            settle.requeue()
        case .stopped(.shutdown):
            // Unclaimed and unacked: back to the queue with its attempt unchanged.
            settle.requeue()
        case .failure, .stopped(.timeout), .stopped(.cancelled):
            let request = ClaimRequest(envelope: job, workloadClass: workloadClass.rawValue, worker: configuration.name,
                                       lease: configuration.lease, startedAt: performed.startedAt)
            let outcome: ClaimOutcome
            do {
                outcome = try await ledger.claim(request)
            } catch {
                logger.warning("claim after a failed short run failed; requeueing", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                settle.requeue()
                return
            }
            settle.ack()
            guard case .claimed(let attempt) = outcome else {
                counters.withLock { $0.skipped += 1 }
                return
            }
            var claimed = job
            claimed.attempt = attempt
            await record(performed, claimed, workloadClass: workloadClass)
        }
    }

    /// Waits (at most `limit`) until every short run has been claimed or recorded, so closing
    /// the consumers does not hand a running job's delivery to another worker.
    func waitForShortClaims(limit: Duration = .seconds(2)) async {
        let deadline = ContinuousClock.now + limit
        while unclaimedShortRuns.withLock({ $0 }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
