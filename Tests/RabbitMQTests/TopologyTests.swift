// Topology on a channel: exchanges, queues with arguments (dead-lettering, TTL, priorities,
// quorum), bindings, passive declares, and the broker's channel-closing refusals (404, 406)
// after which the channel keeps working.

import Foundation
import RabbitMQ
import TestSupport
import Testing
@testable import RabbitMQ

@Suite struct TopologyTests {
    @Test func declareBindPurgeDeleteWithArguments() async throws {
        let exchange = TestEnvironment.uniqueName("x")
        let dlx = TestEnvironment.uniqueName("dlx")
        let queue = TestEnvironment.uniqueName("q")
        try await AMQPTest.withChannel(cleanupQueues: [queue], exchanges: [exchange, dlx]) { channel in
            try await channel.declareExchange(exchange, type: .topic, durable: true)
            try await channel.declareExchange(dlx, type: .fanout, durable: false, autoDelete: true)
            let declared = try await channel.declareQueue(queue, arguments: [
                AMQPArgument.deadLetterExchange: .string(dlx),
                AMQPArgument.deadLetterRoutingKey: "dead",
                AMQPArgument.messageTTL: .int32(60_000),
                AMQPArgument.maxPriority: .int32(5),
                AMQPArgument.expires: .int32(120_000),
                AMQPArgument.queueType: "classic",
            ])
            #expect(declared == AMQPQueueState(name: queue, messageCount: 0, consumerCount: 0))
            try await channel.bindQueue(queue, exchange: exchange, routingKey: "jobs.#")
            try await channel.declareExchangePassive(exchange)

            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            try await publisher.publish(AMQPMessage("a"), exchange: exchange, routingKey: "jobs.analytics")
            try await publisher.publish(AMQPMessage("b"), exchange: exchange, routingKey: "jobs.refresh")
            #expect(try await channel.declareQueuePassive(queue).messageCount == 2)

            try await channel.unbindQueue(queue, exchange: exchange, routingKey: "jobs.#")
            let error = await amqpError {
                try await publisher.publish(AMQPMessage("c"), exchange: exchange, routingKey: "jobs.analytics")
            }
            #expect(error?.code == .unroutable)
            await publisher.close()

            #expect(try await channel.purgeQueue(queue) == 2)
            #expect(try await channel.declareQueuePassive(queue).messageCount == 0)
            // Same arguments again: idempotent.
            try await channel.declareQueue(queue, arguments: [
                AMQPArgument.deadLetterExchange: .string(dlx), AMQPArgument.deadLetterRoutingKey: "dead",
                AMQPArgument.messageTTL: .int32(60_000), AMQPArgument.maxPriority: .int32(5),
                AMQPArgument.expires: .int32(120_000), AMQPArgument.queueType: "classic",
            ])
            #expect(try await channel.deleteQueue(queue) == 0)
            try await channel.deleteExchange(exchange)
            let gone = await amqpError { _ = try await channel.declareQueuePassive(queue) }
            #expect(gone?.replyCode == 404)
        }
    }

    @Test func quorumQueueWithDeliveryLimit() async throws {
        let queue = TestEnvironment.uniqueName("quorum")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            let state = try await channel.declareQueue(queue, durable: true, arguments: [
                AMQPArgument.queueType: "quorum",
                AMQPArgument.deliveryLimit: .int32(3),
                AMQPArgument.deadLetterExchange: "",
                AMQPArgument.deadLetterRoutingKey: .string(queue + ".dead"),
                AMQPArgument.expires: .int32(120_000),
            ])
            #expect(state.name == queue)
            #expect(try await channel.declareQueuePassive(queue).consumerCount == 0)
            // Redeclaring it as classic is inequivalent.
            let error = await amqpError { _ = try await channel.declareQueue(queue, arguments: [AMQPArgument.queueType: "classic"]) }
            #expect(error?.replyCode == 406)
        }
    }

    @Test func passiveDeclareOfMissingQueueIs404AndChannelRecovers() async throws {
        let missing = TestEnvironment.uniqueName("missing")
        let queue = TestEnvironment.uniqueName("q")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            let error = await amqpError { _ = try await channel.declareQueuePassive(missing) }
            #expect(error?.code == .channelClosed)
            #expect(error?.replyCode == 404)
            #expect(error?.replyText?.contains("NOT_FOUND") == true)
            #expect(error?.replyText?.contains(missing) == true)
            #expect(await channel.lastError?.replyCode == 404)
            // Reopened transparently.
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            #expect(try await channel.declareQueuePassive(queue).messageCount == 0)
            let again = await amqpError { _ = try await channel.declareQueuePassive(missing) }
            #expect(again?.replyCode == 404)
        }
    }

    @Test func inequivalentRedeclareIs406() async throws {
        let queue = TestEnvironment.uniqueName("q")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, durable: true, arguments: AMQPTest.safetyNet)
            let error = await amqpError { _ = try await channel.declareQueue(queue, durable: false, arguments: AMQPTest.safetyNet) }
            #expect(error?.code == .channelClosed)
            #expect(error?.replyCode == 406)
            #expect(error?.replyText?.contains("PRECONDITION_FAILED") == true)
            #expect(error?.replyText?.contains("inequivalent") == true)
            #expect("\(error!)".contains("declare queue '\(queue)'"))
            let reported = await channel.lastError
            #expect(reported?.replyCode == 406)
            #expect(try await channel.declareQueue(queue, durable: true, arguments: AMQPTest.safetyNet).name == queue)
        }
    }

    @Test func serverNamedExclusiveQueue() async throws {
        try await AMQPTest.withChannel { channel in
            let state = try await channel.declareQueue("", durable: false, exclusive: true, autoDelete: true)
            #expect(state.name.hasPrefix("amq.gen-"))
        }
    }

    @Test func tooLongNameIsRejectedBeforeTheBroker() async throws {
        try await AMQPTest.withChannel { channel in
            let error = await amqpError { _ = try await channel.declareQueue(String(repeating: "q", count: 256)) }
            #expect(error?.code == .invalidArgument)
            let state = try await channel.declareQueue("", durable: false, exclusive: true)
            #expect(!state.name.isEmpty)
        }
    }

    @Test func connectionLevelErrorBreaksTheConnection() async throws {
        let connection = try await AMQPConnection.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
        let channel = try await connection.openChannel()
        // A second channel.open on an open channel is a connection error (504 CHANNEL_ERROR).
        let error = await amqpError {
            try await connection.session.perform("reopen channel") { h throws(AMQPError) in try h.openChannel(channel.id) }
        }
        #expect(error?.code == .connectionClosed)
        #expect(error?.replyCode == 504)
        let later = await amqpError { _ = try await channel.declareQueue("", durable: false, exclusive: true) }
        #expect(later?.code == .connectionClosed)
        #expect(connection.isBroken)
        #expect(connection.failure?.replyCode == 504)
        await connection.close()
    }
}
