// Throughput and latency figures, run only with SLUICE_BENCH=1 (tests never assert on timing).
// For meaningful numbers build in release:
//   swift build -c release --build-tests -Xswiftc -enable-testing
//   SLUICE_BENCH=1 swift test -c release --skip-build --filter RabbitMQTests.BenchmarkTests

import Foundation
import RabbitMQ
import TestSupport
import Testing
@testable import RabbitMQ

@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SLUICE_BENCH"] == "1"))
struct BenchmarkTests {
    static let body = [UInt8](repeating: UInt8(ascii: "x"), count: 256)

    @Test func publishAndConsumeThroughput() async throws {
        let queue = TestEnvironment.uniqueName("bench")
        let count = 50_000
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)

            // Many concurrent callers, one publish at a time each (the enqueue pattern).
            let tasks = 128
            var start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<(count / tasks) {
                            try await publisher.publish(AMQPMessage(body: Self.body), routingKey: queue)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let published = count / tasks * tasks
            report("publish, \(tasks) concurrent callers, persistent, confirmed", published, ContinuousClock.now - start)

            // Batches of 1000.
            start = ContinuousClock.now
            for _ in 0..<(count / 1000) {
                let batch = (0..<1000).map { _ in AMQPOutgoingMessage(AMQPMessage(body: Self.body), routingKey: queue) }
                let results = await publisher.publish(batch: batch)
                #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            }
            report("publish(batch:) x1000, persistent, confirmed", count / 1000 * 1000, ContinuousClock.now - start)
            await publisher.close()

            let total = published + count / 1000 * 1000
            let runs: [(UInt16, Bool)] = [(100, true), (100, false), (300, true), (300, false)]
            for (prefetch, coalesce) in runs {
                let toConsume = total / runs.count
                let consumer = try await AMQPConsumer.start(
                    configuration: AMQPTest.configuration(), queue: queue, prefetch: prefetch, consumerTag: "",
                    exclusive: false, arguments: [:], coalesceAcks: coalesce, logger: AMQPTest.logger)
                start = ContinuousClock.now
                var n = 0
                for try await d in consumer.deliveries {
                    consumer.ack(d.deliveryTag)
                    n += 1
                    if n == toConsume { break }
                }
                report("consume, prefetch \(prefetch), ack each, \(coalesce ? "coalesced" : "one frame per ack")", n, ContinuousClock.now - start)
                await consumer.stop()
            }
        }
    }

    @Test func singlePublishLatency() async throws {
        let queue = TestEnvironment.uniqueName("lat")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            var samples: [Duration] = []
            for _ in 0..<2000 {
                let start = ContinuousClock.now
                try await publisher.publish(AMQPMessage(body: Self.body), routingKey: queue)
                samples.append(ContinuousClock.now - start)
            }
            percentiles("publish alone (persistent, durable queue): confirm latency", samples)
            var transient: [Duration] = []
            for _ in 0..<2000 {
                let start = ContinuousClock.now
                try await publisher.publish(AMQPMessage(body: Self.body, properties: AMQPProperties(deliveryMode: .transient)), routingKey: queue)
                transient.append(ContinuousClock.now - start)
            }
            percentiles("publish alone (transient): confirm latency", transient)
            await publisher.close()
        }
    }

    /// Enqueue -> delivery -> ack at a steady 200 messages/s, as job dispatch sees it.
    @Test func endToEndLatencyAt200PerSecond() async throws {
        let queue = TestEnvironment.uniqueName("e2e")
        try await AMQPTest.withChannel(cleanupQueues: [queue]) { channel in
            try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
            let publisher = try await AMQPPublisher.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
            let consumer = try await AMQPConsumer.start(configuration: AMQPTest.configuration(), queue: queue, prefetch: 50, logger: AMQPTest.logger)
            let n = 1000
            let clock = ContinuousClock()
            let origin = clock.now
            let reader = Task { () -> [Duration] in
                var out: [Duration] = []
                for try await d in consumer.deliveries {
                    let sentNs = d.body.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }
                    out.append(clock.now - origin - .nanoseconds(sentNs))
                    consumer.ack(d.deliveryTag)
                    if out.count == n { break }
                }
                return out
            }
            var confirm: [Duration] = []
            for i in 0..<n {
                let due = origin + .milliseconds(5 * i)
                try await Task.sleep(until: due, clock: clock)
                let start = clock.now
                var ns = (start - origin).nanosecondsValue
                var body = [UInt8](repeating: 0, count: 256)
                withUnsafeBytes(of: &ns) { body.replaceSubrange(0..<8, with: $0) }
                try await publisher.publish(AMQPMessage(body: body), routingKey: queue)
                confirm.append(clock.now - start)
            }
            let delivered = try await reader.value
            percentiles("200 msg/s: publish -> confirmed", confirm)
            percentiles("200 msg/s: publish -> delivered to consumer", delivered)
            await consumer.stop()
            await publisher.close()
        }
    }

    private func report(_ what: String, _ n: Int, _ elapsed: Duration) {
        let rate = Double(n) / elapsed.seconds
        print("BENCH \(what): \(n) in \(String(format: "%.2f", elapsed.seconds)) s = \(Int(rate)) msg/s")
    }

    private func percentiles(_ what: String, _ samples: [Duration]) {
        let sorted = samples.sorted()
        func p(_ q: Double) -> String {
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
            return String(format: "%.3f ms", d.seconds * 1000)
        }
        print("BENCH \(what): p50 \(p(0.5)), p90 \(p(0.9)), p99 \(p(0.99)), max \(p(1.0))")
    }
}

extension Duration {
    var nanosecondsValue: Int64 {
        let (s, atto) = components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}
