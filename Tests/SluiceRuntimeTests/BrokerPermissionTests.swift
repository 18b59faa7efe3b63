// The least-privilege broker users `scripts/services up` creates (README "Production
// deployment"): `{user}-producer` publishes to the jobs and delay exchanges and can neither
// consume nor declare; `{user}-worker` consumes its class queues and publishes to jobs / delay /
// dead, and cannot enter another vhost; `{user}-operator` reads the dead-letter queue. The
// permission patterns follow the default queue prefix (`sluice`, or SLUICE_QUEUE_PREFIX).

import Foundation
import RabbitMQ
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite(.serialized) struct BrokerPermissionTests {
    static let prefix = ProcessInfo.processInfo.environment["SLUICE_QUEUE_PREFIX"].flatMap { $0.isEmpty ? nil : $0 } ?? "sluice"

    static func configuration(_ role: String?, vhostSuffix: String = "") throws -> AMQPConfiguration {
        var c = try AMQPConfiguration(url: TestEnvironment.amqpURL)
        if let role {
            c.user = "\(c.user)-\(role)"
            c.password = c.user
        }
        c.virtualHost += vhostSuffix
        c.connectTimeout = .seconds(3)
        return c
    }

    /// The message `user` may publish without disturbing anything: routed to no queue.
    static func harmless(_ exchange: String) -> AMQPOutgoingMessage {
        AMQPOutgoingMessage(AMQPMessage(body: Array("{}".utf8)), exchange: exchange, routingKey: "permission-test", mandatory: false)
    }

    @Test("a producer user publishes but cannot consume or declare; a worker user consumes but cannot enter another vhost")
    func leastPrivilege() async throws {
        let topology = TopologyConfiguration(prefix: Self.prefix)
        // The operator (here the admin URL) declares the topology once, as `sluice migrate --topology` does.
        let admin = try await AMQPConnection.connect(configuration: try Self.configuration(nil), logger: testLogger)
        try await Topology.declare(on: try await admin.openChannel(), topology)
        await admin.close()

        // Producer: JobPublisher's declare is refused (403) and tolerated; publishing works and
        // carries the producer's own user_id.
        let producer = JobPublisher(configuration: try Self.configuration("producer"), topology: topology, logger: testLogger)
        try await producer.publish(Self.harmless(topology.jobsExchange))
        try await producer.publish(Self.harmless(topology.delayExchange))
        await #expect(throws: AMQPError.self) { try await producer.publish(Self.harmless(topology.deadExchange)) }
        await producer.close()
        do {
            let c = try await AMQPConsumer.start(configuration: try Self.configuration("producer"), queue: topology.queue(for: "analytics"),
                                                 prefetch: 1, logger: testLogger)
            await c.stop()
            Issue.record("the producer user could consume")
        } catch let e as AMQPError {
            #expect(e.replyCode == 403, "\(e)")
        }

        // Worker: consumes its class queue; may not declare, nor read the dead-letter queue.
        let consumer = try await AMQPConsumer.start(configuration: try Self.configuration("worker"), queue: topology.queue(for: "analytics"),
                                                    prefetch: 1, logger: testLogger)
        await consumer.stop()
        do {
            let c = try await AMQPConsumer.start(configuration: try Self.configuration("worker"), queue: topology.deadQueue,
                                                 prefetch: 1, logger: testLogger)
            await c.stop()
            Issue.record("the worker user could read the dead-letter queue")
        } catch let e as AMQPError {
            #expect(e.replyCode == 403, "\(e)")
        }
        let workerConnection = try await AMQPConnection.connect(configuration: try Self.configuration("worker"), logger: testLogger)
        await #expect(throws: AMQPError.self) {
            try await workerConnection.openChannel().declareQueue(Self.prefix + ".permission-test", durable: false, autoDelete: true)
        }
        await workerConnection.close()
        // Another vhost (another deployment's): not even a connection, so nothing is published there.
        do {
            let c = try await AMQPConnection.connect(configuration: try Self.configuration("worker", vhostSuffix: "_b"), logger: testLogger)
            await c.close()
            Issue.record("the worker user entered another vhost")
        } catch let e as AMQPError {
            #expect(e.code == .virtualHostAccessRefused || e.replyCode == 530, "\(e)")
        }

        // Operator: reads the dead-letter queue (list, replay, purge).
        let dead = try await AMQPConsumer.start(configuration: try Self.configuration("operator"), queue: topology.deadQueue,
                                                prefetch: 1, logger: testLogger)
        await dead.stop()
    }
}
