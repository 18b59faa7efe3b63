// `sluice bench clients`: how fast the three clients move data, so that the Swift layer is
// never the bottleneck. Prints figures; never fails on them. Build with `-c release` for
// meaningful numbers (the JSON says which build ran).

import ArgumentParser
import SluiceCLI
import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput and latency (prints figures; build with -c release).",
        subcommands: [BenchClients.self, BenchThroughput.self, BenchLatency.self, BenchRefresh.self])
}

struct BenchClients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "COPY rows/s, publish-with-confirms and consume-with-ack msgs/s, Redis pipelined SET ops/s, round trips.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Rows to COPY.") var rows = 100_000
    @Option(help: "Messages to publish and consume.") var messages = 50_000
    @Option(help: "Redis SETs to pipeline.") var sets = 100_000
    @Option(help: "Samples per latency measurement.") var samples = 1_000

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.bench")
        let tag = "sluice_bench_\(getpid())"

        let pg = try await benchPostgres(settings, tag, logger)
        let mq = try await benchRabbitMQ(settings, tag, logger)
        let rd = try await benchRedis(settings, tag, logger)
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        let result: [String: Any] = ["build": build, "postgres": pg, "rabbitmq": mq, "redis": rd]
        if json {
            Output.json(result)
        } else {
            if build == "debug" { print("note: debug build; use `swift build -c release` for real figures") }
            print(String(format: "postgres  COPY %d rows (3 columns, primary key): %.0f rows/s", rows, pg["copy_rows_per_s"] as! Double))
            print("postgres  one query round trip: \(Self.describe(pg["query_latency_ms"]))")
            print(String(format: "rabbitmq  publish %d persistent msgs with confirms: %.0f msgs/s", messages, mq["publish_confirm_msgs_per_s"] as! Double))
            print(String(format: "rabbitmq  consume %d msgs with ack: %.0f msgs/s", messages, mq["consume_ack_msgs_per_s"] as! Double))
            print("rabbitmq  one publish-confirm round trip: \(Self.describe(mq["publish_confirm_latency_ms"]))")
            print(String(format: "redis     pipelined SET x %d: %.0f ops/s", sets, rd["pipeline_set_ops_per_s"] as! Double))
            print("redis     one command round trip: \(Self.describe(rd["command_latency_ms"]))")
        }
    }

    static func describe(_ value: Any?) -> String {
        guard let d = value as? [String: Double] else { return "?" }
        return String(format: "p50 %.3f ms, p99 %.3f ms", d["p50"] ?? 0, d["p99"] ?? 0)
    }

    /// p50/p95/p99 in milliseconds of `count` sequential timed calls.
    static func latency(_ count: Int, _ body: () async throws -> Void) async throws -> [String: Double] {
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = ContinuousClock.now
            try await body()
            samples.append((ContinuousClock.now - start).seconds * 1000)
        }
        return Self.percentiles(samples)
    }

    static func percentiles(_ samples: [Double]) -> [String: Double] {
        let s = samples.sorted()
        func p(_ q: Double) -> Double {
            guard !s.isEmpty else { return 0 }
            return (s[min(s.count - 1, Int(Double(s.count) * q))] * 1000).rounded() / 1000
        }
        return ["p50": p(0.50), "p95": p(0.95), "p99": p(0.99), "max": p(1.0)]
    }

    func benchPostgres(_ settings: Settings, _ tag: String, _ logger: Logger) async throws -> [String: Any] {
        let conn = try await PostgresConnection.connect(try PostgresConfiguration(url: settings.postgresURL), logger: logger)
        let schema = PostgresIdentifier.quote(tag)
        _ = try await conn.simpleQuery("""
            DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).rows (id bigint PRIMARY KEY, name text NOT NULL, value double precision)
            """)
        let rowsToCopy = (0..<rows).lazy.map { i -> [PostgresValue] in
            [.int(i), .text("lead-\(i)@example.com"), .double(Double(i) * 0.5)]
        }
        let start = ContinuousClock.now
        let copied = try await conn.copyIn(into: "COPY \(schema).rows (id, name, value) FROM STDIN", rows: rowsToCopy)
        let copySeconds = (ContinuousClock.now - start).seconds
        let queryLatency = try await Self.latency(samples) { _ = try await conn.query("SELECT 1") }
        _ = try await conn.simpleQuery("DROP SCHEMA \(schema) CASCADE")
        await conn.close()
        return ["copy_rows": copied, "copy_seconds": copySeconds, "copy_rows_per_s": Double(copied) / copySeconds,
                "query_latency_ms": queryLatency]
    }

    func benchRabbitMQ(_ settings: Settings, _ tag: String, _ logger: Logger) async throws -> [String: Any] {
        let config = try AMQPConfiguration(url: settings.amqpURL)
        let publisher = try await AMQPPublisher.connect(configuration: config, logger: logger)
        let channel = try await publisher.openChannel()
        let queue = tag + ".queue"
        _ = try await channel.declareQueue(queue, durable: true, exclusive: false, autoDelete: false,
                                           arguments: ["x-expires": .int32(600_000)])
        let body = Array(repeating: UInt8(ascii: "x"), count: 256)
        var properties = AMQPProperties()
        properties.deliveryMode = .persistent
        properties.contentType = "application/json"
        let message = AMQPMessage(body: body, properties: properties)

        // Windowed: batches of 1,000 in flight, confirms read as they come.
        let batch = Array(repeating: AMQPOutgoingMessage(message, routingKey: queue), count: 1_000)
        let start = ContinuousClock.now
        var published = 0
        while published < messages {
            let n = min(batch.count, messages - published)
            for result in await publisher.publish(batch: Array(batch.prefix(n))) { try result.get() }
            published += n
        }
        let publishSeconds = (ContinuousClock.now - start).seconds

        let consumer = try await AMQPConsumer.start(configuration: config, queue: queue, prefetch: 500, logger: logger)
        let consumeStart = ContinuousClock.now
        var consumed = 0
        for try await delivery in consumer.deliveries {
            _ = consumer.ack(delivery.deliveryTag)
            consumed += 1
            if consumed == published { break }
        }
        let consumeSeconds = (ContinuousClock.now - consumeStart).seconds
        await consumer.stop()

        let latency = try await Self.latency(samples) {
            try await publisher.publish(message, routingKey: queue)
        }
        _ = try await channel.purgeQueue(queue)
        _ = try await channel.deleteQueue(queue)
        await publisher.close()
        return ["publish_confirm_msgs_per_s": Double(published) / publishSeconds,
                "consume_ack_msgs_per_s": Double(consumed) / consumeSeconds,
                "publish_confirm_latency_ms": latency, "messages": published, "message_bytes": body.count]
    }

    func benchRedis(_ settings: Settings, _ tag: String, _ logger: Logger) async throws -> [String: Any] {
        let conn = try await RedisConnection.connect(configuration: try RedisConfiguration(url: settings.redisURL), logger: logger)
        let value = Array(repeating: UInt8(ascii: "v"), count: 64)
        let chunk = 10_000
        var commands: [[RedisArgument]] = []
        commands.reserveCapacity(chunk)
        var elapsed = Duration.zero
        var done = 0
        while done < sets {
            let n = min(chunk, sets - done)
            commands.removeAll(keepingCapacity: true)
            for i in done..<(done + n) { commands.append(["SET", .init("\(tag):\(i)"), .init(value)]) }
            let start = ContinuousClock.now
            let replies = try await conn.pipeline(commands)
            elapsed += ContinuousClock.now - start
            for r in replies { _ = try r.get() }
            done += n
        }
        let latency = try await Self.latency(samples) { _ = try await conn.send(["GET", .init("\(tag):0")]) }
        // Clean up in pipelined DELs.
        var start = 0
        while start < sets {
            let end = min(sets, start + chunk)
            _ = try await conn.pipeline((start..<end).map { ["DEL", .init("\(tag):\($0)")] })
            start = end
        }
        await conn.close()
        return ["pipeline_set_ops_per_s": Double(sets) / elapsed.seconds, "pipeline_chunk": chunk,
                "command_latency_ms": latency]
    }
}
