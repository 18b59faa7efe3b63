// Worker+Execute: running one claimed job on its target's pool under its timeout and the
// operator's cancel, and recording how it ended: completed, retried through the delay ladder,
// dead-lettered, cancelled, or handed back at shutdown.

import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import SluiceMetrics
import Synchronization

extension Worker {
    enum Outcome: Sendable {
        case success(JSONValue)
        case failure(any Error)
        case stopped(StopReason)
    }

    /// How one run of a job ended, and when it ran.
    struct Performed: Sendable {
        var outcome: Outcome
        var startedAt: Date
        var finishedAt: Date
        /// A transactional kind's run: recorded completed in its own transaction, or its claim
        /// was no longer this worker's (its effect rolled back). Nil: not yet recorded.
        var settled: Settled? = nil
    }

    enum Settled: Sendable {
        case recorded
        case lostClaim
    }

    /// Runs a claimed job and records how it ended.
    func execute(_ envelope: Envelope, workloadClass: WorkloadClass) async {
        let performed = await perform(envelope, workloadClass: workloadClass, startedAt: Date())
        await record(performed, envelope, workloadClass: workloadClass)
    }

    /// Runs one job on its target's pool (its status `running` in Redis while it runs).
    func perform(_ envelope: Envelope, workloadClass: WorkloadClass, startedAt: Date) async -> Performed {
        let className = workloadClass.rawValue
        let id = envelope.id
        running.add(id)
        let waited = startedAt.timeIntervalSince(max(envelope.enqueuedAt, envelope.notBefore ?? envelope.enqueuedAt))
        configuration.metrics?.jobStarted(workloadClass: className, kind: envelope.kind.rawValue, queueWait: .milliseconds(Int64(waited * 1000)))
        var started = [
            JobStatusField.attempt: String(envelope.attempt), JobStatusField.startedAt: Timestamp.format(startedAt), JobStatusField.worker: configuration.name,
            JobStatusField.kind: envelope.kind.rawValue, JobStatusField.workloadClass: className]
        // The identity admission settled on (the producer wrote the same at enqueue; a job
        // published by hand gets it here).
        if let by = envelope.enqueuedBy { started[JobStatusField.enqueuedBy] = by }
        results.record(JobStatusUpdate(id: id, state: .running, fields: started))
        var outcome: Outcome
        var settled: Settled? = nil
        do {
            if registry.isTransactional(envelope.kind) {
                (outcome, settled) = try await pools.withPool(target: envelope.target, workloadClass: workloadClass) { pool in
                    await runInTransaction(envelope, pool: pool, logger: logger)
                }
            } else {
                outcome = try await pools.withPool(target: envelope.target, workloadClass: workloadClass) { pool in
                    await run(envelope, pool: pool, logger: logger)
                }
            }
        } catch {
            // The target cannot be reached from here (no URL, shutting down): retried like any failure.
            outcome = .failure(error)
        }
        running.remove(id)
        let finishedAt = Date()
        if let metrics = configuration.metrics, let label = metricsOutcome(outcome, envelope) {
            metrics.jobFinished(workloadClass: className, kind: envelope.kind.rawValue, outcome: label,
                                duration: .milliseconds(Int64(finishedAt.timeIntervalSince(startedAt) * 1000)))
        }
        return Performed(outcome: outcome, startedAt: startedAt, finishedAt: finishedAt, settled: settled)
    }

    /// Why a transactional run's transaction was rolled back.
    private struct Rollback: Error {
        /// The run's own end (failure, timeout, cancel, shutdown); nil when it succeeded but the
        /// claim was no longer this worker's.
        var outcome: Outcome?
    }

    /// Runs a transactional kind in a home-database transaction that also records the job
    /// completed, fenced by this worker's claim (still `running`, under this worker, at this
    /// attempt). Any other end rolls the job's effect back and goes on as usual (retry, dead
    /// letter, cancel, hand-back). A lost connection or a failed commit is a failure: when the
    /// commit did land, the retry finds the job final and runs nothing.
    func runInTransaction(_ envelope: Envelope, pool: PostgresPool, logger jobLogger: Logger) async -> (Outcome, Settled?) {
        do {
            return try await ledger.pool.withConnection { c in
                do {
                    return try await c.withTransaction { c in
                        let outcome = await run(envelope, pool: pool, transaction: c, logger: jobLogger)
                        guard case .success(let result) = outcome else { throw Rollback(outcome: outcome) }
                        guard try await ledger.completeFenced(envelope.id, attempt: envelope.attempt, worker: configuration.name,
                                                              result: result, connection: c) else {
                            throw Rollback(outcome: nil)
                        }
                        return (outcome, Settled.recorded)
                    }
                } catch let rollback as Rollback {
                    guard let outcome = rollback.outcome else {
                        JobContext.logger(jobLogger, for: envelope).warning("the job's claim is no longer this worker's; its effect was rolled back")
                        return (.success(.null), Settled.lostClaim)
                    }
                    return (outcome, nil)
                }
            }
        } catch {
            return (.failure(error), nil)
        }
    }

    /// Records how a claimed job's run ended: completed, cancelled, handed back, retried or
    /// dead-lettered.
    func record(_ performed: Performed, _ envelope: Envelope, workloadClass: WorkloadClass) async {
        let className = workloadClass.rawValue
        let id = envelope.id
        let finishedAt = performed.finishedAt
        let duration = String(Int(finishedAt.timeIntervalSince(performed.startedAt) * 1000))
        switch performed.outcome {
        case .success(let result):
            switch performed.settled {
            case .lostClaim?:
                counters.withLock { $0.skipped += 1 }
                return
            case .recorded?: break  // committed with the job's effect
            case nil: await finish(id, .completed, result: result, error: nil, attempt: envelope.attempt)
            }
            results.record(JobStatusUpdate(id: id, state: .completed, fields: [
                JobStatusField.result: result.jsonString, JobStatusField.finishedAt: Timestamp.format(finishedAt), JobStatusField.durationMS: duration]))
            counters.withLock { $0.completed += 1 }
        case .stopped(.cancelled):
            await finish(id, .cancelled, result: nil, error: "cancelled by operator", attempt: envelope.attempt)
            results.record(JobStatusUpdate(id: id, state: .cancelled, fields: [
                JobStatusField.error: "cancelled by operator", JobStatusField.finishedAt: Timestamp.format(finishedAt), JobStatusField.durationMS: duration]))
            counters.withLock { $0.cancelled += 1 }
        case .stopped(.shutdown):
            await handBack(envelope, className: className)
        case .stopped(.timeout):
            await failed(envelope, className: className, error: "timeout: exceeded \(envelope.timeoutSeconds) s", reason: nil,
                         retryable: true, duration: duration)
        case .failure(let error):
            let retryable = (error as? any RetryClassifying)?.isRetryable ?? true
            await failed(envelope, className: className, error: "\(error)", reason: nil, retryable: retryable, duration: duration)
        }
    }

    /// The kind's backoff when it declares one, else the worker's.
    func retryPolicy(for kind: JobKind) -> RetryPolicy {
        registry.defaults(of: kind)?.retry ?? configuration.retryPolicy
    }

    /// The `outcome` label of an attempt's end (nil for a shutdown hand-back: not the job's end).
    func metricsOutcome(_ outcome: Outcome, _ envelope: Envelope) -> JobMetrics.Outcome? {
        switch outcome {
        case .success: return .completed
        case .stopped(.cancelled): return .cancelled
        case .stopped(.shutdown): return nil
        case .stopped(.timeout): return .timeout
        case .failure(let error):
            let retryable = (error as? any RetryClassifying)?.isRetryable ?? true
            if case .retry = retryPolicy(for: envelope.kind).decide(attempt: envelope.attempt, maxAttempts: envelope.maxAttempts, retryable: retryable) {
                return .retried
            }
            return .discarded
        }
    }

    /// Runs one job on `pool` under its timeout and the operator's cancel; returns how it ended.
    func run(_ envelope: Envelope, pool: PostgresPool, transaction: PostgresConnection? = nil, logger jobLogger: Logger) async -> Outcome {
        let id = envelope.id
        let context = JobContext(
            envelope: envelope, logger: jobLogger, pool: pool, home: ledger.pool, schema: ledger.schema, catalog: registry.catalog(for: envelope.target),
            redis: results.redis, redisPrefix: results.configuration.prefix, transaction: transaction,
            progress: { [results, running, ledger] value in
                results.record(JobStatusUpdate(id: id, state: .running, fields: [JobStatusField.progress: value.jsonString]))
                if running.progressDue(id, interval: .seconds(2)) { try? await ledger.progress(id, value) }
            },
            output: { [results] name, fields in await results.writeOutput(name, fields: fields) },
            enqueue: { [producer] request in
                // A follow-up is enqueued by its parent, whatever the kind says.
                var request = request
                request.enqueuedBy = "job:\(id)"
                return try await producer.enqueue(request)
            })
        let entry = registry.entry(envelope.kind)!
        let task = Task { () -> Outcome in
            do {
                return .success(try await entry.run(envelope.args, context))
            } catch {
                return .failure(error)
            }
        }
        running.attach(id, task: task, deadline: .now + .seconds(envelope.timeoutSeconds))
        let outcome = await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
        // Stopped (cancel, timeout, shutdown): its own outcome no longer matters unless it
        // succeeded after all.
        if case .success = outcome { return outcome }
        if let reason = running.reason(id) { return .stopped(reason) }
        return Task.isCancelled ? .stopped(.shutdown) : outcome
    }

    /// Stops the jobs whose timeout passed, until cancelled (one task per worker).
    func timeoutLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(100))
            running.expire()
        }
    }

    func finish(_ id: JobID, _ state: JobState, result: JSONValue?, error: String?, attempt: Int) async {
        var delay = Duration.milliseconds(200)
        for _ in 0..<10 {
            do {
                try await ledger.finish(FinishRequest(id: id, state: state, result: result, error: error, attempt: attempt))
                return
            } catch {
                logger.warning("ledger update failed; retrying", metadata: ["job.id": "\(id)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        logger.error("ledger update failed for good; the lease rescue will rerun the job", metadata: ["job.id": "\(id)"])
    }

    /// Retry with backoff, or dead-letter when attempts are exhausted or the error is final.
    func failed(_ envelope: Envelope, className: String, error: String, reason: String?, retryable: Bool, duration: String) async {
        let id = envelope.id
        let now = Date()
        switch retryPolicy(for: envelope.kind).decide(attempt: envelope.attempt, maxAttempts: envelope.maxAttempts, retryable: retryable) {
        case .retry(let after):
            var next = envelope
            next.attempt += 1
            next.notBefore = now.addingTimeInterval(after.seconds)
            // Ledger first: a fast redelivery must find the row `retryable`, not under our lease.
            await finish(id, .retryable, result: nil, error: error, attempt: envelope.attempt)
            let tier = DelayLadder.tier(forRemaining: after)
            do {
                try await publisher.publish(publisher.message(for: next, workloadClass: className, tier: tier), tries: 3)
                results.record(JobStatusUpdate(id: id, state: .retryable, fields: [JobStatusField.error: String(error.prefix(1024)), JobStatusField.attempt: String(envelope.attempt)]))
                counters.withLock { $0.retried += 1 }
            } catch {
                logger.error("could not publish a retry; leaving it to the lease rescue", metadata: ["job.id": "\(id)", "error": "\(error)"])
                try? await ledger.expireLeases([id], worker: configuration.name)
            }
        case .discard(let why):
            let headers = deadHeaders(reason: reason ?? why.rawValue, error: error, className: className,
                                      kind: envelope.kind.rawValue, attempt: envelope.attempt)
            do {
                try await publisher.publish(publisher.deadLetter(body: envelope.encoded(), messageID: id.description, headers: headers), tries: 3)
            } catch {
                logger.error("could not publish a dead letter", metadata: ["job.id": "\(id)", "error": "\(error)"])
            }
            await finish(id, .discarded, result: nil, error: "\(why.rawValue): \(error)", attempt: envelope.attempt)
            results.record(JobStatusUpdate(id: id, state: .discarded, fields: [
                JobStatusField.error: String(error.prefix(1024)), JobStatusField.finishedAt: Timestamp.format(now), JobStatusField.durationMS: duration]))
            counters.withLock { $0.discarded += 1 }
        }
    }

    /// Shutdown after the grace period: the lease expires now and the job goes back to its queue
    /// with the same attempt (the interruption was not the job's fault).
    func handBack(_ envelope: Envelope, className: String) async {
        do {
            try await ledger.expireLeases([envelope.id], worker: configuration.name)
            try await publisher.publish(publisher.message(for: envelope, workloadClass: className, tier: nil), tries: 2)
            results.record(JobStatusUpdate(id: envelope.id, state: .available, fields: [JobStatusField.worker: ""]))
            counters.withLock { $0.requeued += 1 }
        } catch {
            logger.error("could not requeue a job at shutdown; the lease rescue will", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
        }
    }
}
