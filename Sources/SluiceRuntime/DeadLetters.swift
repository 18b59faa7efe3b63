// DeadLetters: list, replay and purge the dead-letter queue (`sluice dead …`).
//
// Listing consumes up to `limit` messages without acking them and then closes its connection,
// so the broker puts them all back (marked redelivered). Replay resets the ledger row to
// `available` (attempt 1) and republishes the original envelope to its class's queue before
// acking the dead letter: a crash in between leaves a duplicate, never a loss.

import Foundation
import Logging
import RabbitMQ
import SluiceCore

public struct DeadLetter: Sendable {
    public var messageID: String?
    public var reason: String?
    public var error: String?
    public var attempt: Int?
    public var workloadClass: String?
    public var kind: String?
    public var failedAt: String?
    public var body: [UInt8]

    init(_ d: AMQPDelivery) {
        let h = d.properties.headers
        messageID = d.properties.messageId
        reason = h[DeadLetterHeader.reason]?.stringValue
        error = h[DeadLetterHeader.error]?.stringValue
        attempt = h[DeadLetterHeader.attempt]?.intValue.map { Int($0) }
        workloadClass = h[DeadLetterHeader.workloadClass]?.stringValue
        kind = h[DeadLetterHeader.kind]?.stringValue
        failedAt = h[DeadLetterHeader.failedAt]?.stringValue
        body = d.body
    }

    public var json: JSONValue {
        func s(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        return .object([
            "id": s(messageID), "reason": s(reason), "error": s(error), "attempt": attempt.map { .int(Int64($0)) } ?? .null,
            "class": s(workloadClass), "kind": s(kind), "failed_at": s(failedAt),
            "body_bytes": .int(Int64(body.count)),
        ])
    }
}

public struct DeadLetters: Sendable {
    let amqp: AMQPConfiguration
    let topology: TopologyConfiguration
    let ledger: Ledger
    let publisher: JobPublisher
    let logger: Logger

    public init(amqp: AMQPConfiguration, topology: TopologyConfiguration, ledger: Ledger, publisher: JobPublisher, logger: Logger) {
        self.amqp = amqp
        self.topology = topology
        self.ledger = ledger
        self.publisher = publisher
        self.logger = logger
    }

    /// Up to `limit` dead letters, oldest first; the queue is left as it was.
    public func list(limit: Int = 100) async throws -> [DeadLetter] {
        try await scan(limit: limit) { _ in false }.0
    }

    /// Replays the dead letter of job `id`. Returns false when no dead letter has that id
    /// (among the first `scanLimit`).
    public func replay(_ id: JobID, scanLimit: Int = 10_000) async throws -> Bool {
        let (_, found) = try await scan(limit: scanLimit) { d in
            guard d.properties.messageId == id.description else { return false }
            let envelope: Envelope
            do {
                envelope = try Envelope.decode(d.body)
            } catch {
                throw ReplayError(reason: "the dead letter of \(id) is not a valid envelope (\(error)); it cannot be replayed")
            }
            var fresh = envelope
            fresh.attempt = 1
            fresh.notBefore = nil
            let workloadClass = d.properties.headers[DeadLetterHeader.workloadClass]?.stringValue ?? "analytics"
            try await ledger.resetForReplay(id)
            try await publisher.publish(publisher.message(for: fresh, workloadClass: workloadClass, tier: nil), tries: 3)
            return true
        }
        return found
    }

    /// Deletes every dead letter; returns how many.
    public func purge() async throws -> Int {
        let connection = try await AMQPConnection.connect(configuration: amqp, logger: logger)
        do {
            let channel = try await connection.openChannel()
            let n = Int(try await channel.purgeQueue(topology.deadQueue))
            await connection.close()
            return n
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Reads up to `limit` messages; `take` may claim one (it is then acked and the scan ends).
    private func scan(limit: Int, take: (AMQPDelivery) async throws -> Bool) async throws -> ([DeadLetter], Bool) {
        let depth = try await QueueInspector(amqp: amqp, topology: topology, logger: logger).deadDepth()
        let want = min(depth, limit)
        guard want > 0 else { return ([], false) }
        let consumer = try await AMQPConsumer.start(configuration: amqp, queue: topology.deadQueue,
                                                    prefetch: UInt16(clamping: min(want, 1000)), logger: logger)
        var out: [DeadLetter] = []
        var found = false
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Stop waiting when the queue has nothing more for us.
                group.addTask {
                    try await Task.sleep(for: .seconds(5))
                    await consumer.stop()
                }
                for try await d in consumer.deliveries {
                    out.append(DeadLetter(d))
                    if try await take(d) {
                        consumer.ack(d.deliveryTag)
                        found = true
                        break
                    }
                    if out.count >= want { break }
                }
                group.cancelAll()
            }
        } catch {
            await consumer.stop()
            throw error
        }
        await consumer.stop()
        return (out, found)
    }
}

public struct ReplayError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
