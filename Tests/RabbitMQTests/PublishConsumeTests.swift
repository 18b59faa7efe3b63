// Publishing with confirms and consuming with manual acks against the real broker: properties
// round-trip, returns of unroutable messages, a channel error mid-stream, many concurrent
// publishes, redelivery of unacked messages, and a prompt stop.

import Foundation
import RabbitMQ
import TestSupport
import Testing

@Suite struct PublishConsumeTests {
    @Test func propertiesAndHeadersRoundTrip() async throws {
        let queue = TestEnvironment.uniqueName("props")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: [AMQPArgument.maxPriority: .int32(9)].merging(AMQPTest.safetyNet) { a, _ in a })
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            let headers: AMQPTable = [
                "attempt": .int32(2), "kind": "refresh.matview", "flag": true, "ratio": .double(0.5),
                "trace": .table(["id": "abc", "spans": .array([.int64(1), .int64(2)])]), "raw": .bytes([0, 255]),
            ]
            let timestamp = Date(timeIntervalSince1970: 1_790_000_000)
            let message = AMQPMessage(body: Array("{\"v\":1}".utf8), properties: AMQPProperties(
                contentType: "application/json", contentEncoding: "identity", headers: headers, deliveryMode: .persistent,
                priority: 7, correlationId: "corr-1", replyTo: "replies", expiration: .seconds(60), messageId: "0193-job",
                timestamp: timestamp, type: "refresh.matview", appId: "sluice-tests"))
            try await publisher.publish(message, routingKey: queue)
            try await publisher.publish(AMQPMessage(body: []), routingKey: queue)  // empty body
            await publisher.close()

            let consumer = try await AMQPConsumer.start(
                configuration: AMQPTest.configuration(), queue: queue, prefetch: 10, logger: AMQPTest.logger)
            let received = try await withTimeout(10, "two deliveries") {
                var out: [AMQPDelivery] = []
                for try await d in consumer.deliveries {
                    out.append(d)
                    consumer.ack(d.deliveryTag)
                    if out.count == 2 { break }
                }
                return out
            }
            await consumer.stop()
            let d = received[0]
            #expect(d.body == message.body)
            #expect(d.exchange == "")
            #expect(d.routingKey == queue)
            #expect(!d.redelivered)
            #expect(d.properties == message.properties)
            #expect(d.properties.headers["trace"]?.tableValue?["spans"] == .array([.int64(1), .int64(2)]))
            #expect(received[1].body.isEmpty)
            #expect(received[1].properties.deliveryMode == .persistent)
            let after = try await channel.declareQueuePassive(queue)
            #expect(after.messageCount == 0, "\(after)")
        }
    }

    @Test func largeBodiesAndHeadersSpanFrames() async throws {
        let queue = TestEnvironment.uniqueName("large")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            let big = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // ~8 body frames
            let header = String(repeating: "h", count: 20_000)  // properties beyond the first 4 KiB
            try await publisher.publish(AMQPMessage(body: big, properties: AMQPProperties(headers: ["note": .string(header)])), routingKey: queue)
            // Properties larger than a frame cannot be sent: that publish fails, the publisher stays usable.
            let huge = AMQPMessage("x", properties: AMQPProperties(headers: ["note": .string(String(repeating: "z", count: 200_000))]))
            let error = await amqpError { try await publisher.publish(huge, routingKey: queue) }
            #expect(error?.code == .invalidArgument)
            try await publisher.publish(AMQPMessage("small"), routingKey: queue)
            await publisher.close()

            let consumer = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 5, logger: AMQPTest.logger)
            let received = try await withTimeout(10, "large deliveries") {
                var out: [AMQPDelivery] = []
                for try await d in consumer.deliveries {
                    out.append(d)
                    consumer.ack(d.deliveryTag)
                    if out.count == 2 { break }
                }
                return out
            }
            await consumer.stop()
            #expect(received[0].body == big)
            #expect(received[0].properties.headers["note"]?.stringValue == header)
            #expect(received[1].body == Array("small".utf8))
        }
    }

    @Test func unroutableMandatoryMessagesFailOneByOne() async throws {
        let queue = TestEnvironment.uniqueName("route")
        let nowhere = TestEnvironment.uniqueName("nowhere")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            let error = await amqpError { try await publisher.publish(AMQPMessage("x"), routingKey: nowhere) }
            #expect(error?.code == .unroutable)
            #expect(error?.replyCode == 312)
            #expect(error?.replyText == "NO_ROUTE")
            #expect("\(error!)".contains(nowhere))
            // Not mandatory: the broker drops it and confirms.
            try await publisher.publish(AMQPMessage("x"), routingKey: nowhere, mandatory: false)
            // A batch mixing routable and unroutable messages, identical bodies included.
            let batch = (0..<40).map { i in
                AMQPOutgoingMessage(AMQPMessage("same"), routingKey: i % 3 == 0 ? nowhere : queue)
            }
            let results = await publisher.publish(batch: batch)
            for (i, result) in results.enumerated() {
                switch result {
                case .success: #expect(i % 3 != 0, "message \(i) should have been returned")
                case .failure(let e):
                    #expect(i % 3 == 0, "message \(i) should have been routed: \(e)")
                    #expect(e.code == .unroutable)
                }
            }
            #expect(try await channel.declareQueuePassive(queue).messageCount == 26)
            #expect(publisher.outstanding == 0)
            await publisher.close()
        }
    }

    @Test func missingExchangeFailsThatPublishAndThePublisherRecovers() async throws {
        let queue = TestEnvironment.uniqueName("recover")
        let missing = TestEnvironment.uniqueName("nox")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            let error = await amqpError { try await publisher.publish(AMQPMessage("x"), exchange: missing, routingKey: queue) }
            #expect(error?.code == .channelClosed)
            #expect(error?.replyCode == 404)
            #expect(error?.replyText?.contains(missing) == true)
            #expect(!publisher.isBroken)
            try await publisher.publish(AMQPMessage("after"), routingKey: queue)
            try await publisher.publish(AMQPMessage("after"), routingKey: queue)
            #expect(try await channel.declareQueuePassive(queue).messageCount == 2)
            await publisher.close()
        }
    }

    @Test func concurrentPublishesAreAllConfirmed() async throws {
        let queue = TestEnvironment.uniqueName("many")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            let tasks = 50, perTask = 40
            try await withTimeout(30, "\(tasks * perTask) publishes") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for t in 0..<tasks {
                        group.addTask {
                            for i in 0..<perTask {
                                try await publisher.publish(AMQPMessage("\(t)-\(i)"), routingKey: queue)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(publisher.outstanding == 0)
            #expect(try await channel.declareQueuePassive(queue).messageCount == UInt32(tasks * perTask))
            // And through the consumer, each message exactly once.
            let consumer = try await AMQPConsumer.start(
                configuration: AMQPTest.configuration(), queue: queue, prefetch: 100, logger: AMQPTest.logger)
            let bodies = try await withTimeout(30, "consume \(tasks * perTask)") {
                var seen = Set<String>()
                for try await d in consumer.deliveries {
                    seen.insert(String(decoding: d.body, as: UTF8.self))
                    consumer.ack(d.deliveryTag)
                    if seen.count == tasks * perTask { break }
                }
                return seen
            }
            #expect(bodies.count == tasks * perTask)
            await consumer.stop()
            #expect(try await channel.declareQueuePassive(queue).messageCount == 0)
            await publisher.close()
        }
    }

    @Test func unackedDeliveriesAreRedeliveredAfterStop() async throws {
        let queue = TestEnvironment.uniqueName("redeliver")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            for i in 0..<3 { try await publisher.publish(AMQPMessage("m\(i)"), routingKey: queue) }
            await publisher.close()

            let first = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 10, logger: AMQPTest.logger)
            let firstRound = try await withTimeout(10, "first round") {
                var out: [AMQPDelivery] = []
                for try await d in first.deliveries {
                    out.append(d)
                    if out.count == 3 { break }
                }
                return out
            }
            #expect(firstRound.allSatisfy { !$0.redelivered })
            #expect(try await channel.declareQueuePassive(queue).consumerCount == 1)
            await first.stop()
            #expect(!first.ack(firstRound[0].deliveryTag))  // too late: the consumer is gone

            let second = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 10, logger: AMQPTest.logger)
            let secondRound = try await withTimeout(10, "second round") {
                var out: [AMQPDelivery] = []
                for try await d in second.deliveries {
                    out.append(d)
                    if out.count == 3 { break }
                }
                return out
            }
            #expect(secondRound.allSatisfy { $0.redelivered })
            #expect(Set(secondRound.map { String(decoding: $0.body, as: UTF8.self) }) == ["m0", "m1", "m2"])
            // Settle: ack one, reject one without requeue (dropped), nack one with requeue.
            second.ack(secondRound[0].deliveryTag)
            second.reject(secondRound[1].deliveryTag, requeue: false)
            second.nack(secondRound[2].deliveryTag, requeue: true)
            let requeued = try await withTimeout(10, "requeued delivery") { () -> AMQPDelivery? in
                for try await d in second.deliveries { return d }
                return nil
            }
            #expect(requeued?.body == secondRound[2].body)
            #expect(requeued?.redelivered == true)
            second.ack(requeued!.deliveryTag)
            await second.stop()
            #expect(try await channel.declareQueuePassive(queue).messageCount == 0)
        }
    }

    @Test func stopWakesAnIdleConsumerPromptly() async throws {
        let queue = TestEnvironment.uniqueName("stop")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            // Default 30 s heartbeat: the loop's poll timeout is 15 s, so only the wake-up can
            // make this prompt.
            let consumer = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 1, logger: AMQPTest.logger)
            let reader = Task { () -> (Int, ContinuousClock.Instant) in
                var n = 0
                for try await _ in consumer.deliveries { n += 1 }
                return (n, ContinuousClock.now)
            }
            try await Task.sleep(for: .milliseconds(300))  // the loop is now blocked in poll
            let start = ContinuousClock.now
            await consumer.stop()
            let stopped = ContinuousClock.now - start
            let (count, ended) = try await withTimeout(5, "reader to finish") { try await reader.value }
            #expect(count == 0)
            #expect(ended - start < .milliseconds(250), "sequence ended \(ended - start) after stop()")
            #expect(stopped < .seconds(2))
            #expect(!consumer.isBroken)
            #expect(try await channel.declareQueuePassive(queue).consumerCount == 0)
        }
    }

    /// With prefetch 1 the broker sends the second message only once the first is acked, so the
    /// gap between ack() and the next delivery is the ack's latency. The loop sleeps in poll with
    /// a 15 s timeout (30 s heartbeat): only the wake-up can make it short.
    @Test func ackWakesTheLoopOutOfPoll() async throws {
        let queue = TestEnvironment.uniqueName("ackwake")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            try await publisher.publish(AMQPMessage("1"), routingKey: queue)
            try await publisher.publish(AMQPMessage("2"), routingKey: queue)
            await publisher.close()
            let consumer = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 1, logger: AMQPTest.logger)
            let gap = try await withTimeout(10, "second delivery") { () -> Duration in
                var ackedAt: ContinuousClock.Instant?
                for try await d in consumer.deliveries {
                    if let ackedAt {
                        consumer.ack(d.deliveryTag)
                        return ContinuousClock.now - ackedAt
                    }
                    try await Task.sleep(for: .milliseconds(300))  // let the loop settle into poll
                    ackedAt = ContinuousClock.now
                    consumer.ack(d.deliveryTag)
                }
                return .seconds(999)
            }
            #expect(gap < .seconds(2), "ack took \(gap) to release the next delivery")
            await consumer.stop()
        }
    }

    @Test func cancellingTheReaderStopsTheConsumer() async throws {
        let queue = TestEnvironment.uniqueName("cancel")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let consumer = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 1, logger: AMQPTest.logger)
            let reader = Task {
                for try await _ in consumer.deliveries {}
            }
            try await Task.sleep(for: .milliseconds(100))
            reader.cancel()
            _ = await reader.result
            try await withTimeout(5, "consumer to close") {
                while try await channel.declareQueuePassive(queue).consumerCount != 0 {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    @Test func consumingAMissingQueueFailsWith404() async throws {
        let error = await amqpError {
            _ = try await AMQPConsumer.start(
                configuration: AMQPTest.configuration(), queue: TestEnvironment.uniqueName("absent"), prefetch: 1,
                logger: AMQPTest.logger)
        }
        #expect(error?.code == .channelClosed)
        #expect(error?.replyCode == 404)
    }

    @Test func deletingTheQueueCancelsTheConsumer() async throws {
        let queue = TestEnvironment.uniqueName("deleted")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let consumer = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 1, logger: AMQPTest.logger)
            try await channel.deleteQueue(queue)
            let error = await amqpError {
                try await withTimeout(10, "consumer cancellation") {
                    for try await _ in consumer.deliveries {}
                }
            }
            #expect(error?.code == .consumerCancelled)
            #expect(consumer.isBroken)
        }
    }
}
