// Worker+Consume: taking deliveries. One consumer per class (reconnected with backoff), slots
// bounded by the class's concurrency; per delivery: decode and validate (a bad message is
// dead-lettered naming the field, then acked), re-delay a job that is not due, run it the short
// way (Worker+Short: no claim, one record, then the ack) or claim it in the ledger and ack right
// after the claim, so the broker's consumer_timeout never sees a long job.

import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import Synchronization

extension Worker {
    func consume(_ settings: ClassSettings) async {
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
                    if !c.drain.acceptsDeliveries { return false }
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
                        if !Task.isCancelled {
                            await self.waitForShortClaims()
                            await consumer.stop()
                        }
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

    func handle(_ delivery: AMQPDelivery, consumer: AMQPConsumer, settings: ClassSettings) async {
        let className = settings.workloadClass.rawValue
        var envelope: Envelope
        do {
            envelope = try Envelope.decode(delivery.body)
        } catch {
            await reject(delivery, consumer: consumer, reason: error.code.rawValue, error: error.description,
                         className: className, kind: nil, attempt: nil, id: nil)
            return
        }
        // Who may enqueue (Worker+Admission.swift): signature, the key's grants, the identity.
        switch admission(delivery, envelope, className: className) {
        case .admit(let enqueuedBy): envelope.enqueuedBy = enqueuedBy
        case .refuse(let reason, let error):
            await reject(delivery, consumer: consumer, reason: reason, error: error, className: className,
                         kind: envelope.kind.rawValue, attempt: envelope.attempt, id: nil)
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
        let threshold = shortThreshold(settings)
        if threshold > .zero, !registry.isTransactional(envelope.kind), await runShort(envelope, delivery: delivery, consumer: consumer, settings: settings, threshold: threshold) {
            return
        }
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
    func reject(
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
                JobStatusField.error: String(error.prefix(1024)), JobStatusField.finishedAt: Timestamp.format(Date())]))
        }
    }

    func deadHeaders(reason: String, error: String, className: String, kind: String?, attempt: Int?) -> AMQPTable {
        var h: AMQPTable = [
            DeadLetterHeader.reason: .string(reason), DeadLetterHeader.error: .string(String(error.utf8.prefix(1024)) ?? ""),
            DeadLetterHeader.workloadClass: .string(className), DeadLetterHeader.failedAt: .string(Timestamp.format(Date())),
        ]
        if let kind { h[DeadLetterHeader.kind] = .string(String(kind.prefix(100))) }
        if let attempt { h[DeadLetterHeader.attempt] = .int64(Int64(attempt)) }
        return h
    }
}
