// Failures of the connection itself: heartbeats over idle and busy periods, the broker going away
// mid-publish and mid-consume (a TCP proxy we cut, never the shared broker), a silent partition
// caught by missed heartbeats, and a broker-forced close (320) seen through rabbitmqctl.

import Foundation
import RabbitMQ
import TestSupport
import Testing

@Suite struct FailureTests {
    /// heartbeat=2 s: the broker closes a connection after ~4 s without traffic, so surviving 6.5 s
    /// without any call from the owner proves the IOThreads kept heartbeats flowing on their own.
    /// (2 s rather than 1 s: on a loaded 2-core CI machine a 1 s beat leaves too little slack.)
    @Test func heartbeatsKeepIdleAndBusyConnectionsAlive() async throws {
        let queue = TestEnvironment.uniqueName("hb")
        let config = try AMQPTest.configuration { $0.heartbeat = .seconds(2) }
        let connection = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger)
        let channel = try await connection.openChannel()
        try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
        let publisher = try await AMQPPublisher.connect(configuration: config, logger: AMQPTest.logger)
        let consumer = try await AMQPConsumer.start(configuration: config, queue: queue, prefetch: 1, logger: AMQPTest.logger)

        // The owner neither publishes, acks nor requests anything for 6.5 s: from the connection's
        // side, idle and busy with a long job look the same.
        try await Task.sleep(for: .milliseconds(6500))

        #expect(!connection.isBroken, "\(String(describing: connection.failure))")
        #expect(!publisher.isBroken, "\(String(describing: publisher.failure))")
        #expect(!consumer.isBroken, "\(String(describing: consumer.failure))")
        try await publisher.publish(AMQPMessage("still here"), routingKey: queue)
        let body = try await withTimeout(10, "delivery after idle") { () -> [UInt8]? in
            for try await d in consumer.deliveries {
                consumer.ack(d.deliveryTag)
                return d.body
            }
            return nil
        }
        #expect(body == Array("still here".utf8))
        #expect(try await channel.declareQueuePassive(queue).consumerCount == 1)
        await consumer.stop()
        await publisher.close()
        try await channel.deleteQueue(queue)
        await connection.close()
    }

    @Test func brokerGoingAwayMidPublishFailsEveryOutstandingPublish() async throws {
        let queue = TestEnvironment.uniqueName("cutpub")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let direct = try AMQPTest.configuration()
            let proxy = try TCPProxy(upstreamPort: direct.port)
            defer { proxy.close() }
            let publisher = try await AMQPPublisher.connect(
                configuration: AMQPTest.configuration { $0.port = proxy.port }, logger: AMQPTest.logger)
            try await publisher.publish(AMQPMessage("before"), routingKey: queue)

            let outcomes = Outcomes()
            let total = 4000
            let work = Task {
                await withTaskGroup(of: Void.self) { group in
                    for t in 0..<40 {
                        group.addTask {
                            for i in 0..<(total / 40) {
                                do {
                                    try await publisher.publish(AMQPMessage("\(t)-\(i)"), routingKey: queue)
                                    outcomes.add(nil)
                                } catch {
                                    outcomes.add(error)
                                }
                            }
                        }
                    }
                }
            }
            // Cut while publishes are in flight.
            try await withTimeout(20, "some confirms") {
                while outcomes.counts.ok < 50 { try await Task.sleep(for: .milliseconds(1)) }
            }
            proxy.cut()
            try await withTimeout(20, "every publish to finish") { await work.value }

            let (ok, failures) = outcomes.counts
            #expect(ok + failures.count == total)
            #expect(failures.count > 0)
            for failure in failures {
                let e = failure as? AMQPError
                #expect(e?.code == .connectionLost, "\(failure)")
            }
            #expect(publisher.isBroken)
            #expect(publisher.failure?.code == .connectionLost)
            let later = await amqpError { try await publisher.publish(AMQPMessage("later"), routingKey: queue) }
            #expect(later?.code == .connectionLost)
            // Nothing the caller was told is confirmed went missing.
            #expect(try await channel.declareQueuePassive(queue).messageCount >= UInt32(ok + 1))
            // A new publisher works.
            let fresh = try await AMQPPublisher.connect(configuration: direct, logger: AMQPTest.logger)
            try await fresh.publish(AMQPMessage("after"), routingKey: queue)
            await fresh.close()
        }
    }

    @Test func brokerGoingAwayMidConsumeEndsTheStreamWithAnError() async throws {
        let queue = TestEnvironment.uniqueName("cutcon")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let direct = try AMQPTest.configuration()
            let publisher = try await AMQPPublisher.connect(configuration: direct, logger: AMQPTest.logger)
            for i in 0..<5 { try await publisher.publish(AMQPMessage("m\(i)"), routingKey: queue) }
            let proxy = try TCPProxy(upstreamPort: direct.port)
            defer { proxy.close() }
            let consumer = try await AMQPConsumer.start(
                configuration: AMQPTest.configuration { $0.port = proxy.port }, queue: queue, prefetch: 2,
                logger: AMQPTest.logger)
            let error = await amqpError {
                try await withTimeout(10, "consumer to fail") {
                    for try await _ in consumer.deliveries {
                        proxy.cut()  // the first delivery stays unacked
                    }
                }
            }
            #expect(error?.code == .connectionLost)
            #expect(consumer.isBroken)
            #expect(!consumer.ack(1))
            // Everything not acked is still there for the next consumer.
            let next = try await AMQPConsumer.start(configuration: direct, queue: queue, prefetch: 10, logger: AMQPTest.logger)
            let rest = try await withTimeout(10, "remaining deliveries") {
                var n = 0
                for try await d in next.deliveries {
                    next.ack(d.deliveryTag)
                    n += 1
                    if n == 5 { break }
                }
                return n
            }
            #expect(rest == 5)
            await next.stop()
            await publisher.close()
        }
    }

    /// A partition that closes nothing: only missed heartbeats reveal it.
    @Test func silentPartitionIsDetectedByMissedHeartbeats() async throws {
        let queue = TestEnvironment.uniqueName("frozen")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let proxy = try TCPProxy(upstreamPort: try AMQPTest.configuration().port)
            defer { proxy.close() }
            let config = try AMQPTest.configuration { $0.port = proxy.port; $0.heartbeat = .seconds(2) }
            let consumer = try await AMQPConsumer.start(configuration: config, queue: queue, prefetch: 1, logger: AMQPTest.logger)
            let publisher = try await AMQPPublisher.connect(configuration: config, logger: AMQPTest.logger)
            proxy.freeze()
            let start = ContinuousClock.now
            let error = await amqpError {
                try await withTimeout(20, "missed heartbeats") {
                    for try await _ in consumer.deliveries {}
                }
            }
            #expect(error?.code == .connectionLost)
            #expect(ContinuousClock.now - start < .seconds(15))  // detected after 3 heartbeat intervals (6 s)
            let publishError = await amqpError {
                try await withTimeout(10, "publish over a frozen link") {
                    try await publisher.publish(AMQPMessage("x"), routingKey: queue)
                }
            }
            #expect(publishError?.code == .connectionLost)
        }
    }

    @Test(.enabled(if: RabbitMQCtl.command != nil, "needs rabbitmqctl for the test broker"))
    func brokerForcedCloseIsReportedWithItsReplyCode() async throws {
        let queue = TestEnvironment.uniqueName("forced")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let name = TestEnvironment.uniqueName("sluice-test-consumer")
            let consumer = try await AMQPConsumer.start(
                configuration: AMQPTest.configuration { $0.connectionName = name }, queue: queue, prefetch: 1,
                logger: AMQPTest.logger)
            // The operator sees the connection by its name (rabbitmqctl closes it by Erlang pid).
            var line: Substring?
            for _ in 0..<10 where line == nil {
                let listing = try await offPool { try RabbitMQCtl.run(["list_connections", "pid", "client_properties"]) }
                line = listing.split(separator: "\n").first { $0.contains(name) }
                if line == nil { try await Task.sleep(for: .milliseconds(300)) }
            }
            let found = try #require(line, "connection '\(name)' not listed by rabbitmqctl")
            let pid = String(found.split(separator: "\t")[0])
            _ = try await offPool { try RabbitMQCtl.run(["close_connection", pid, "closed by the sluice test suite"]) }
            let error = await amqpError {
                try await withTimeout(10, "forced close") {
                    for try await _ in consumer.deliveries {}
                }
            }
            #expect(error?.code == .connectionClosed)
            #expect(error?.replyCode == 320)
            #expect(error?.replyText?.contains("CONNECTION_FORCED") == true)
            #expect(error?.isTransient == true)
            #expect(consumer.isBroken)
        }
    }
}

/// Thread-safe tally of publish outcomes.
final class Outcomes: @unchecked Sendable {
    // @unchecked Sendable: `ok` and `failures` are only touched under `lock`.
    private let lock = NSLock()
    private var ok = 0
    private var failures: [Error] = []

    func add(_ error: Error?) {
        lock.withLock {
            if let error { failures.append(error) } else { ok += 1 }
        }
    }

    var counts: (ok: Int, failures: [Error]) { lock.withLock { (ok, failures) } }
}
