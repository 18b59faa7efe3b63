// QueueInspector: depth and consumers of every class queue and of the dead-letter queue, by
// passive declare: the one place that reads the broker's queue figures (`sluice status`, the
// API's /v1/queues and its queue gauges). A queue that does not exist yet (no worker ever
// ran) is absent, not an error; a passive declare of a missing queue closes its channel, so
// each queue gets its own.

import Logging
import RabbitMQ
import SluiceCore

public struct QueueInspector: Sendable {
    public struct Snapshot: Sendable {
        /// By class name; a class whose queue does not exist is absent.
        public var classes: [String: AMQPQueueState] = [:]
        /// Nil when the dead-letter queue does not exist.
        public var dead: AMQPQueueState?
    }

    public let amqp: AMQPConfiguration
    public let topology: TopologyConfiguration
    public let logger: Logger

    public init(amqp: AMQPConfiguration, topology: TopologyConfiguration, logger: Logger) {
        self.amqp = amqp
        self.topology = topology
        self.logger = logger
    }

    /// Throws when the broker cannot be reached.
    public func ping() async throws {
        let connection = try await AMQPConnection.connect(configuration: amqp, logger: logger)
        await connection.close()
    }

    /// Messages ready in the dead-letter queue; throws when the broker cannot be reached or the
    /// queue does not exist.
    public func deadDepth() async throws -> Int {
        let connection = try await AMQPConnection.connect(configuration: amqp, logger: logger)
        do {
            let channel = try await connection.openChannel()
            let depth = Int(try await channel.declareQueuePassive(topology.deadQueue).messageCount)
            await connection.close()
            return depth
        } catch {
            await connection.close()
            throw error
        }
    }

    /// One connection, one passive declare per queue. Throws only when the broker cannot be reached.
    public func snapshot() async throws -> Snapshot {
        let connection = try await AMQPConnection.connect(configuration: amqp, logger: logger)
        var out = Snapshot()
        for c in WorkloadClass.allCases {
            if let channel = try? await connection.openChannel(),
               let q = try? await channel.declareQueuePassive(topology.queue(for: c.rawValue)) {
                out.classes[c.rawValue] = q
            }
        }
        if let channel = try? await connection.openChannel() {
            out.dead = try? await channel.declareQueuePassive(topology.deadQueue)
        }
        await connection.close()
        return out
    }
}

extension QueueInspector.Snapshot {
    /// One class's figures as `sluice status --json` and GET /v1/queues show them: its queue's
    /// name, depth and consumers (null when the queue does not exist) and the ledger's counts.
    public func json(class workloadClass: String, queue: String, counts n: ClassCounts?) -> [String: JSONValue] {
        let q = classes[workloadClass]
        return [
            "queue": .string(queue),
            "depth": q.map { .int(Int64($0.messageCount)) } ?? .null,
            "consumers": q.map { .int(Int64($0.consumerCount)) } ?? .null,
            "waiting": .int(Int64(n?.waiting ?? 0)), "running": .int(Int64(n?.running ?? 0)),
            "completed_last_hour": .int(Int64(n?.completedLastHour ?? 0)),
            "failed_last_hour": .int(Int64(n?.failedLastHour ?? 0)),
        ]
    }

    /// The dead-letter queue's depth, null when it does not exist.
    public var deadJSON: JSONValue { dead.map { .int(Int64($0.messageCount)) } ?? .null }
}
