// Worker: consumes the queues of its classes and runs jobs in slots (`sluice worker`).
//
// Per delivery: decode and validate (bad → dead letter naming the field, ack); re-delay a job
// that is not due; claim it in the ledger (batched); ack right after the claim, so the
// broker's consumer_timeout never sees a long job; run it with its timeout; record the
// outcome (completed / retry via the delay ladder / dead letter). A heartbeat keeps the
// leases of running jobs alive and picks up cancel requests; one elected worker rescues jobs
// whose lease expired. Consumers reconnect with backoff. `stop()` drains: no new deliveries,
// running jobs get `shutdownGrace`, then they are cancelled and handed back.

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

public final class Worker: Service, Sendable {
    public let configuration: WorkerConfiguration
    private let registry: JobRegistry
    private let ledger: Ledger
    private let publisher: JobPublisher
    private let results: ResultStore
    /// Follow-up enqueues from running jobs (`JobContext.enqueue`): one producer for the worker.
    private let producer: Producer
    private let topology: TopologyConfiguration
    private let logger: Logger
    private let running = RunningJobs()
    /// Pools per (target, class), opened on first use.
    public let pools: TargetPools
    private let elector: LeaseElector

    private struct Control {
        var stopping = false
        var consumers: [ObjectIdentifier: AMQPConsumer] = [:]
        var stopWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiter = 0
    }
    private let control = Mutex(Control())
    private let counters = Mutex(WorkerCounters())

    public init(
        configuration: WorkerConfiguration, registry: JobRegistry, ledger: Ledger, publisher: JobPublisher,
        results: ResultStore, topology: TopologyConfiguration, logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.ledger = ledger
        self.publisher = publisher
        self.results = results
        self.topology = topology
        self.producer = Producer(registry: registry, ledger: ledger, publisher: publisher, results: results, logger: logger)
        var logger = logger
        logger[metadataKey: "worker"] = .string(configuration.name)
        self.logger = logger
        var classes: [WorkloadClass: ClassSettings] = [:]
        for c in configuration.classes { classes[c.workloadClass] = c }
        pools = TargetPools(configuration: .init(targets: configuration.targets, classes: classes,
                                                 idleTimeout: configuration.targetIdleTimeout), logger: logger)
        elector = LeaseElector(pool: ledger.pool, schema: ledger.schema, name: "rescue", holder: configuration.name,
                               ttl: max(configuration.rescueInterval * 3, .seconds(3)))
    }

    /// Jobs finished by this worker so far, by outcome.
    public var statistics: WorkerCounters { counters.withLock { $0 } }

    /// Runs until `stop()` or the service group's graceful shutdown (SIGTERM, SIGINT), and the
    /// drain that follows. Throws only when the broker cannot be reached at start.
    ///
    /// The worker runs its result store and its target pools as child tasks rather than as
    /// sibling services: their final flush and close must come after the drain, and only the
    /// worker knows when that is.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.serve()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func serve() async throws {
        _ = try await publisher.publisher(attempts: 5)
        logger.info("worker started", metadata: ["classes": "\(configuration.classes.map(\.workloadClass.rawValue))"])
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask { await self.results.run() }
            outer.addTask { await self.pools.maintain() }
            outer.addTask { await self.heartbeatLoop() }
            if configuration.rescue { outer.addTask { await self.rescueLoop() } }
            outer.addTask { await self.graceTimer() }
            await withTaskGroup(of: Void.self) { classes in
                for c in configuration.classes {
                    classes.addTask { await self.consume(c) }
                }
            }
            // Every slot has drained.
            results.finish()
            outer.cancelAll()
        }
        await results.flush()
        if configuration.rescue { try? await elector.release() }
        await pools.close()
        logger.info("worker stopped", metadata: ["jobs.completed": "\(statistics.completed)"])
    }

    /// Stops taking jobs; running jobs get the grace period. Returns at once: each consumer's
    /// watcher closes it (what it had prefetched goes back to the queue).
    public func stop() {
        let waiters = control.withLock { c -> [CheckedContinuation<Void, Never>] in
            c.stopping = true
            defer { c.stopWaiters = [:] }
            return Array(c.stopWaiters.values)
        }
        for w in waiters { w.resume() }
    }

    private var isStopping: Bool { control.withLock { $0.stopping } }

    /// Returns once `stop()` was called, or when the calling task is cancelled.
    private func waitForStop() async {
        let id = control.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = control.withLock { s -> Bool in
                    if s.stopping || s.cancelledWaiters.remove(id) != nil { return true }
                    s.stopWaiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = control.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.stopWaiters.removeValue(forKey: id) { return c }
                if !s.stopping { s.cancelledWaiters.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }

    private func graceTimer() async {
        await waitForStop()
        if Task.isCancelled { return }
        logger.info("stopping: waiting for running jobs", metadata: ["jobs.running": "\(running.count)",
                                                                      "grace_ms": "\(configuration.shutdownGrace.milliseconds)"])
        try? await Task.sleep(for: configuration.shutdownGrace)
        if Task.isCancelled { return }
        let n = running.count
        if n > 0 { logger.warning("grace period over: cancelling and requeueing running jobs", metadata: ["jobs.running": "\(n)"]) }
        running.stopAll(.shutdown)
    }

    // MARK: Consuming

    private func consume(_ settings: ClassSettings) async {
        let queue = topology.queue(for: settings.workloadClass.rawValue)
        let concurrency = max(1, settings.concurrency)
        let backoff = Backoff(base: .milliseconds(200), cap: .seconds(5), jitter: 0.5)
        var failures = 0
        await withTaskGroup(of: Void.self) { slots in
            var active = 0
            while !isStopping {
                let consumer: AMQPConsumer
                do {
                    _ = try await publisher.publisher(attempts: 1)
                    consumer = try await AMQPConsumer.start(
                        configuration: configuration.amqp, queue: queue, prefetch: UInt16(clamping: max(settings.prefetch, 1)),
                        logger: logger)
                } catch {
                    failures += 1
                    let delay = backoff.delay(attempt: failures)
                    logger.warning("consumer could not start; retrying", metadata: [
                        "queue.name": "\(queue)", "error": "\(error)", "retry.delay_ms": "\(delay.milliseconds)"])
                    try? await Task.sleep(for: delay)
                    continue
                }
                let key = ObjectIdentifier(consumer)
                let accepted = control.withLock { c -> Bool in
                    if c.stopping { return false }
                    c.consumers[key] = consumer
                    return true
                }
                if !accepted {
                    await consumer.stop()
                    break
                }
                if failures > 0 { logger.info("consumer reconnected", metadata: ["queue.name": "\(queue)"]) }
                failures = 0
                await withTaskGroup(of: Void.self) { watcher in
                    // Stopping closes the consumer, which ends its deliveries.
                    watcher.addTask {
                        await self.waitForStop()
                        if !Task.isCancelled { await consumer.stop() }
                    }
                    do {
                        for try await delivery in consumer.deliveries {
                            while active >= concurrency {
                                await slots.next()
                                active -= 1
                            }
                            // Stopping: leave it unacked; the broker redelivers it once our consumer is gone.
                            if isStopping { break }
                            active += 1
                            slots.addTask { await self.handle(delivery, consumer: consumer, settings: settings) }
                        }
                    } catch {
                        if !isStopping {
                            failures += 1
                            logger.warning("consumer broke; reconnecting", metadata: ["queue.name": "\(queue)", "error": "\(error)"])
                            try? await Task.sleep(for: backoff.delay(attempt: failures))
                        }
                    }
                    watcher.cancelAll()
                }
                control.withLock { _ = $0.consumers.removeValue(forKey: key) }
                await consumer.stop()
            }
        }
    }

    // MARK: One delivery

    private func handle(_ delivery: AMQPDelivery, consumer: AMQPConsumer, settings: ClassSettings) async {
        let className = settings.workloadClass.rawValue
        let envelope: Envelope
        do {
            envelope = try Envelope.decode(delivery.body)
        } catch {
            await reject(delivery, consumer: consumer, reason: error.code.rawValue, error: error.description,
                         className: className, kind: nil, attempt: nil, id: nil)
            return
        }
        do {
            try registry.validate(kind: envelope.kind, args: envelope.args, target: envelope.target)
        } catch {
            await reject(delivery, consumer: consumer, reason: error.code.rawValue, error: error.description,
                         className: className, kind: envelope.kind.rawValue, attempt: envelope.attempt, id: envelope.id)
            return
        }
        switch DelayLadder.decide(notBefore: envelope.notBefore, now: Date()) {
        case .run: break
        case .wait(let d): try? await Task.sleep(for: d)
        case .delay(let tier):
            do {
                try await publisher.publish(publisher.message(for: envelope, workloadClass: className, tier: tier))
                consumer.ack(delivery.deliveryTag)
            } catch {
                logger.warning("could not re-delay a job; requeueing it", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                consumer.nack(delivery.deliveryTag, requeue: true)
            }
            return
        }
        if isStopping { return }  // not claimed, not acked: redelivered to another worker
        let outcome: ClaimOutcome
        do {
            outcome = try await ledger.claim(ClaimRequest(envelope: envelope, workloadClass: className,
                                                          worker: configuration.name, lease: configuration.lease))
        } catch {
            logger.warning("claim failed; requeueing", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            consumer.nack(delivery.deliveryTag, requeue: true)
            return
        }
        // Ack every claimed (or skipped) job at once: the lease, not the delivery, protects it now.
        consumer.ack(delivery.deliveryTag)
        guard case .claimed(let attempt) = outcome else {
            counters.withLock { $0.skipped += 1 }
            return
        }
        var job = envelope
        job.attempt = attempt
        await execute(job, workloadClass: settings.workloadClass)
    }

    /// Dead-letters a message that cannot become a job, then acks it.
    private func reject(
        _ delivery: AMQPDelivery, consumer: AMQPConsumer, reason: String, error: String, className: String,
        kind: String?, attempt: Int?, id: JobID?
    ) async {
        logger.warning("dead-lettering a bad message", metadata: ["reason": "\(reason)", "error": "\(error)"])
        let headers = deadHeaders(reason: reason, error: error, className: className, kind: kind, attempt: attempt)
        do {
            try await publisher.publish(publisher.deadLetter(body: delivery.body, messageID: delivery.properties.messageId, headers: headers), tries: 3)
            consumer.ack(delivery.deliveryTag)
            counters.withLock { $0.deadLettered += 1 }
        } catch {
            logger.error("could not dead-letter a bad message; requeueing it", metadata: ["error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            consumer.nack(delivery.deliveryTag, requeue: true)
            return
        }
        if let id {
            try? await ledger.discard(id, error: "\(reason): \(error)")
            results.record(JobStatusUpdate(id: id, state: .discarded, fields: [
                "error": String(error.prefix(1024)), "finished_at": Timestamp.format(Date())]))
        }
    }

    private func deadHeaders(reason: String, error: String, className: String, kind: String?, attempt: Int?) -> AMQPTable {
        var h: AMQPTable = [
            "x-sluice-reason": .string(reason), "x-sluice-error": .string(String(error.utf8.prefix(1024)) ?? ""),
            "x-sluice-class": .string(className), "x-sluice-failed-at": .string(Timestamp.format(Date())),
        ]
        if let kind { h["x-sluice-kind"] = .string(String(kind.prefix(100))) }
        if let attempt { h["x-sluice-attempt"] = .int64(Int64(attempt)) }
        return h
    }

    // MARK: Running a job

    private enum Outcome: Sendable {
        case success(JSONValue)
        case failure(any Error)
        case stopped(StopReason)
    }

    private func execute(_ envelope: Envelope, workloadClass: WorkloadClass) async {
        let className = workloadClass.rawValue
        let id = envelope.id
        running.add(id)
        let startedAt = Date()
        let waited = startedAt.timeIntervalSince(max(envelope.enqueuedAt, envelope.notBefore ?? envelope.enqueuedAt))
        configuration.metrics?.jobStarted(workloadClass: className, kind: envelope.kind.rawValue, queueWait: .milliseconds(Int64(waited * 1000)))
        results.record(JobStatusUpdate(id: id, state: .running, fields: [
            "attempt": String(envelope.attempt), "started_at": Timestamp.format(startedAt), "worker": configuration.name,
            "kind": envelope.kind.rawValue, "class": className]))
        var jobLogger = logger
        jobLogger[metadataKey: "job.id"] = .string(id.description)
        jobLogger[metadataKey: "job.kind"] = .string(envelope.kind.rawValue)
        jobLogger[metadataKey: "db.target"] = .string(envelope.target)
        let outcome: Outcome
        do {
            outcome = try await pools.withPool(target: envelope.target, workloadClass: workloadClass) { pool in
                await run(envelope, pool: pool, logger: jobLogger)
            }
        } catch {
            // The target cannot be reached from here (no URL, shutting down): retried like any failure.
            outcome = .failure(error)
        }
        running.remove(id)
        let finishedAt = Date()
        let duration = String(Int(finishedAt.timeIntervalSince(startedAt) * 1000))
        if let metrics = configuration.metrics, let label = metricsOutcome(outcome, envelope) {
            metrics.jobFinished(workloadClass: className, kind: envelope.kind.rawValue, outcome: label,
                                duration: .milliseconds(Int64(finishedAt.timeIntervalSince(startedAt) * 1000)))
        }
        switch outcome {
        case .success(let result):
            await finish(id, .completed, result: result, error: nil, attempt: envelope.attempt)
            results.record(JobStatusUpdate(id: id, state: .completed, fields: [
                "result": result.jsonString, "finished_at": Timestamp.format(finishedAt), "duration_ms": duration]))
            counters.withLock { $0.completed += 1 }
        case .stopped(.cancelled):
            await finish(id, .cancelled, result: nil, error: "cancelled by operator", attempt: envelope.attempt)
            results.record(JobStatusUpdate(id: id, state: .cancelled, fields: [
                "error": "cancelled by operator", "finished_at": Timestamp.format(finishedAt), "duration_ms": duration]))
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

    /// The `outcome` label of an attempt's end (nil for a shutdown hand-back: not the job's end).
    private func metricsOutcome(_ outcome: Outcome, _ envelope: Envelope) -> JobMetrics.Outcome? {
        switch outcome {
        case .success: return .completed
        case .stopped(.cancelled): return .cancelled
        case .stopped(.shutdown): return nil
        case .stopped(.timeout): return .timeout
        case .failure(let error):
            let retryable = (error as? any RetryClassifying)?.isRetryable ?? true
            if case .retry = configuration.retryPolicy.decide(attempt: envelope.attempt, maxAttempts: envelope.maxAttempts, retryable: retryable) {
                return .retried
            }
            return .discarded
        }
    }

    /// Runs one job on `pool` under its timeout and the operator's cancel; returns how it ended.
    private func run(_ envelope: Envelope, pool: PostgresPool, logger jobLogger: Logger) async -> Outcome {
        let id = envelope.id
        let context = JobContext(
            envelope: envelope, logger: jobLogger, pool: pool, home: ledger.pool, schema: ledger.schema, catalog: registry.catalog,
            redis: results.redis, redisPrefix: results.configuration.prefix,
            progress: { [results, running, ledger] value in
                results.record(JobStatusUpdate(id: id, state: .running, fields: ["progress": value.jsonString]))
                if running.progressDue(id, interval: .seconds(2)) { try? await ledger.progress(id, value) }
            },
            output: { [results] name, fields in await results.writeOutput(name, fields: fields) },
            enqueue: { [producer] request in try await producer.enqueue(request) })
        let entry = registry.entry(envelope.kind)!
        let timeout = Duration.seconds(envelope.timeoutSeconds)
        return await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    return .success(try await entry.run(envelope.args, context))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask { [running] in
                let deadline = ContinuousClock.now + timeout
                while !Task.isCancelled {
                    if let reason = running.reason(id) { return .stopped(reason) }
                    let left = deadline - .now
                    if left <= .zero { return .stopped(.timeout) }
                    try? await Task.sleep(for: min(left, .milliseconds(250)))
                }
                return nil
            }
            var first: Outcome? = nil
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            if case .stopped = first {
                // Wait for the cancelled job to let go of its connection; its own outcome no
                // longer matters unless it succeeded after all.
                while let next = await group.next() {
                    if case .success(let v)? = next { first = .success(v) }
                }
            }
            return first ?? .stopped(.shutdown)
        }
    }

    private func finish(_ id: JobID, _ state: JobState, result: JSONValue?, error: String?, attempt: Int) async {
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
    private func failed(_ envelope: Envelope, className: String, error: String, reason: String?, retryable: Bool, duration: String) async {
        let id = envelope.id
        let now = Date()
        switch configuration.retryPolicy.decide(attempt: envelope.attempt, maxAttempts: envelope.maxAttempts, retryable: retryable) {
        case .retry(let after):
            var next = envelope
            next.attempt += 1
            next.notBefore = now.addingTimeInterval(after.seconds)
            // Ledger first: a fast redelivery must find the row `retryable`, not under our lease.
            await finish(id, .retryable, result: nil, error: error, attempt: envelope.attempt)
            let tier = DelayLadder.tier(forRemaining: after)
            do {
                try await publisher.publish(publisher.message(for: next, workloadClass: className, tier: tier), tries: 3)
                results.record(JobStatusUpdate(id: id, state: .retryable, fields: ["error": String(error.prefix(1024)), "attempt": String(envelope.attempt)]))
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
                "error": String(error.prefix(1024)), "finished_at": Timestamp.format(now), "duration_ms": duration]))
            counters.withLock { $0.discarded += 1 }
        }
    }

    /// Shutdown after the grace period: the lease expires now and the job goes back to its queue
    /// with the same attempt (the interruption was not the job's fault).
    private func handBack(_ envelope: Envelope, className: String) async {
        do {
            try await ledger.expireLeases([envelope.id], worker: configuration.name)
            try await publisher.publish(publisher.message(for: envelope, workloadClass: className, tier: nil), tries: 2)
            results.record(JobStatusUpdate(id: envelope.id, state: .available, fields: ["worker": ""]))
            counters.withLock { $0.requeued += 1 }
        } catch {
            logger.error("could not requeue a job at shutdown; the lease rescue will", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
        }
    }

    // MARK: Heartbeat and rescue

    private func heartbeatLoop() async {
        let interval = configuration.lease / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let ids = running.ids
            guard !ids.isEmpty else { continue }
            do {
                let cancelled = try await ledger.heartbeat(ids, worker: configuration.name, lease: configuration.lease)
                for id in cancelled {
                    logger.info("cancel requested", metadata: ["job.id": "\(id)"])
                    running.stop(id, .cancelled)
                }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func rescueLoop() async {
        while !Task.isCancelled && !isStopping {
            do {
                if try await elector.tryAcquire() {
                    let n = try await ledger.rescueExpired { jobs in await self.rescue(jobs) }
                    if n > 0 { logger.warning("rescued jobs whose worker was lost", metadata: ["jobs": "\(n)"]) }
                }
            } catch {
                logger.warning("lease rescue failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.rescueInterval)
        }
    }

    /// Republishes jobs whose lease expired (attempt + 1), or dead-letters them when that would
    /// exceed max_attempts. Only published jobs are moved in the ledger.
    private func rescue(_ jobs: [LedgerJob]) async -> [(JobID, JobState, String?)] {
        var verdicts: [(JobID, JobState, String?)] = []
        var messages: [AMQPOutgoingMessage] = []
        var pending: [(JobID, JobState, String?)] = []
        for job in jobs {
            let next = job.attempt + 1
            if next > job.maxAttempts {
                let headers = deadHeaders(reason: "worker_lost", error: "the worker running attempt \(job.attempt) was lost",
                                          className: job.workloadClass, kind: job.kind.rawValue, attempt: job.attempt)
                messages.append(publisher.deadLetter(body: job.envelope().encoded(), messageID: job.id.description, headers: headers))
                pending.append((job.id, .discarded, "worker_lost"))
            } else {
                var e = job.envelope(attempt: next)
                e.notBefore = nil
                messages.append(publisher.message(for: e, workloadClass: job.workloadClass, tier: nil))
                pending.append((job.id, .available, nil))
            }
        }
        let published = await publisher.publish(messages)
        for (i, r) in published.enumerated() {
            if case .success = r { verdicts.append(pending[i]) }
        }
        return verdicts
    }
}

/// What a worker has done since it started.
public struct WorkerCounters: Sendable, Equatable {
    public var completed = 0
    public var retried = 0
    public var discarded = 0
    public var cancelled = 0
    public var requeued = 0
    public var deadLettered = 0
    /// Deliveries acked without running (already final, or running elsewhere).
    public var skipped = 0
}
