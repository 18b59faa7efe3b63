// Worker+Consume: taking deliveries. One consumer per class (reconnected with backoff), slots
// bounded by the class's concurrency (one per job: a pack's jobs take one each); per job (a
// delivery, or a line of a pack): decode and validate (a bad message is
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
                        deliveries: for try await delivery in consumer.deliveries {
                            // A pack's jobs take a slot each (slots count jobs, not messages); it
                            // is acked once every one of them is settled (Worker+Pack.swift).
                            let items = JobPack.isPack(delivery.properties) ? JobPack.split(delivery.body) : []
                            let pack = items.isEmpty ? nil : PackSettlement(delivery: delivery, consumer: consumer, count: items.count)
                            for n in 0..<max(items.count, 1) {
                                while active >= concurrency {
                                    await slots.next()
                                    active -= 1
                                }
                                // Stopping: leave it unacked; the broker redelivers it once our consumer is gone.
                                if isStopping { break deliveries }
                                active += 1
                                if let pack {
                                    let item = items[n]
                                    slots.addTask { await self.handle(item, of: pack, settings: settings) }
                                } else {
                                    slots.addTask { await self.handle(delivery, consumer: consumer, settings: settings) }
                                }
                            }
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

    /// A message of one job (any message that is not a pack).
    func handle(_ delivery: AMQPDelivery, consumer: AMQPConsumer, settings: ClassSettings) async {
        let verdict = publisher.signer?.verify(body: delivery.body, headers: delivery.properties.headers)
            ?? (delivery.properties.headers[EnvelopeSigner.signatureHeader] == nil ? .unsigned : .unknownKey(""))
        await handleJob(delivery.body, verdict: verdict, messageID: delivery.properties.messageId,
                        settle: Settlement(delivery: delivery, consumer: consumer, pack: nil), settings: settings)
    }

    /// One job, alone in its message or a line of a pack: decode and validate (a bad one is
    /// dead-lettered naming the field, then settled), re-delay it if it is not due, run it the
    /// short way (Worker+Short; a pack's line too) or claim it and settle its message right
    /// after the claim, then run it.
    func handleJob(_ body: [UInt8], verdict: EnvelopeSigner.Verdict, messageID: String?, settle: Settlement,
                   settings: ClassSettings) async {
        let className = settings.workloadClass.rawValue
        var envelope: Envelope
        do {
            envelope = try Envelope.decode(body)
        } catch {
            await reject(body, messageID: messageID, settle: settle, reason: error.code.rawValue, error: error.description,
                         className: className, kind: nil, attempt: nil, id: nil)
            return
        }
        // Who may enqueue (Worker+Admission.swift): signature, the key's grants, the identity.
        switch Self.admission(verdict, envelope, className: className, userID: settle.delivery.properties.userId,
                              requireSigned: configuration.requireSigned, catalog: registry.catalog) {
        case .admit(let enqueuedBy): envelope.enqueuedBy = enqueuedBy
        case .refuse(let reason, let error):
            await reject(body, messageID: messageID ?? envelope.id.description, settle: settle, reason: reason, error: error,
                         className: className, kind: envelope.kind.rawValue, attempt: envelope.attempt, id: nil)
            return
        }
        do {
            try registry.validate(kind: envelope.kind, args: envelope.args, target: envelope.target)
        } catch {
            await reject(body, messageID: messageID ?? envelope.id.description, settle: settle, reason: error.code.rawValue,
                         error: error.description, className: className, kind: envelope.kind.rawValue, attempt: envelope.attempt,
                         id: envelope.id)
            return
        }
        switch DelayLadder.decide(notBefore: envelope.notBefore, now: Date()) {
        case .run: break
        case .wait(let d): try? await Task.sleep(for: d)
        case .delay(let tier):
            do {
                try await publisher.publish(publisher.message(for: envelope, workloadClass: className, tier: tier))
                settle.ack()
            } catch {
                logger.warning("could not re-delay a job; requeueing it", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
                settle.requeue()
            }
            return
        }
        if isStopping {  // not claimed, not acked: redelivered to another worker
            settle.leave()
            return
        }
        let threshold = shortThreshold(settings)
        if threshold > .zero, !registry.isTransactional(envelope.kind),
           await runShort(envelope, settle: settle, settings: settings, threshold: threshold) {
            return
        }
        let outcome: ClaimOutcome
        do {
            outcome = try await ledger.claim(ClaimRequest(envelope: envelope, workloadClass: className,
                                                          worker: configuration.name, lease: configuration.lease))
        } catch {
            logger.warning("claim failed; requeueing", metadata: ["job.id": "\(envelope.id)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            settle.requeue()
            return
        }
        // Ack every claimed (or skipped) job at once: the lease, not the delivery, protects it now.
        settle.ack()
        guard case .claimed(let attempt) = outcome else {
            counters.withLock { $0.skipped += 1 }
            return
        }
        var job = envelope
        job.attempt = attempt
        await execute(job, workloadClass: settings.workloadClass)
    }

    /// Dead-letters what cannot become a job (a message, or one line of a pack: `body` is that
    /// line's envelope), then settles it.
    func reject(
        _ body: [UInt8], messageID: String?, settle: Settlement, reason: String, error: String, className: String,
        kind: String?, attempt: Int?, id: JobID?
    ) async {
        logger.warning("dead-lettering a bad message", metadata: ["reason": "\(reason)", "error": "\(error)"])
        let headers = deadHeaders(reason: reason, error: error, className: className, kind: kind, attempt: attempt)
        do {
            try await publisher.publish(publisher.deadLetter(body: body, messageID: messageID, headers: headers), tries: 3)
            settle.ack()
            counters.withLock { $0.deadLettered += 1 }
        } catch {
            logger.error("could not dead-letter a bad message; requeueing it", metadata: ["error": "\(error)"])
            try? await Task.sleep(for: .seconds(1))
            settle.requeue()
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
