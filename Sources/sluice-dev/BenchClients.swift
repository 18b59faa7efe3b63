// `sluice bench clients`: how fast the three clients move data next to plain C loops over the
// same libraries (CBenchLoops), on the same servers, in the same process and run, so the ratio is
// printed rather than remembered. Each operation runs `--rounds` times, C and Swift alternating
// which goes first; the medians are compared. Prints figures; never fails on them. Build with
// `-c release` for meaningful numbers (the JSON says which build ran).

import ArgumentParser
import CBenchLoops
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
        subcommands: [BenchClients.self, BenchThroughput.self, BenchLatency.self, BenchRefresh.self,
                      BenchSegment.self, BenchCache.self, BenchQuery.self, BenchImport.self, BenchSends.self, BenchSoak.self])
}

struct BenchClients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "COPY rows/s, publish-with-confirms and consume-with-ack msgs/s, Redis pipelined SET ops/s, each next to a plain C loop (ratio Swift/C), and round trips.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Rows to COPY.") var rows = 100_000
    @Option(help: "Messages to publish and consume.") var messages = 50_000
    @Option(help: "Redis SETs to pipeline.") var sets = 100_000
    @Option(help: "Samples per latency measurement.") var samples = 1_000
    @Option(help: "Rounds of each operation (C and Swift alternate; medians compared).") var rounds = 3

    /// Messages in flight between confirm waits, in both the Swift and the C publisher.
    static let publishWindow = 1_000
    static let consumePrefetch = 500
    static let messageBytes = 256
    static let redisChunk = 10_000
    static let redisValueBytes = 64

    /// One operation's rates, Swift and C, per round.
    struct Pair {
        var swift: [Double] = []
        var c: [Double] = []
        var swiftMedian: Double { Self.median(swift) }
        var cMedian: Double { Self.median(c) }
        var ratio: Double { cMedian > 0 ? ((swiftMedian / cMedian) * 1000).rounded() / 1000 : .nan }
        var json: [String: Any] {
            ["swift_per_s": swiftMedian.rounded(), "c_per_s": cMedian.rounded(), "ratio": ratio,
             "swift_rounds": swift.map { $0.rounded() }, "c_rounds": c.map { $0.rounded() }]
        }
        static func median(_ v: [Double]) -> Double {
            guard !v.isEmpty else { return 0 }
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
    }

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
        let copy = pg.pair, publish = mq.publish, consume = mq.consume, redisSet = rd.pair
        let result: [String: Any] = [
            "build": build, "rounds": rounds,
            "postgres": ["copy": copy.json, "copy_rows": rows, "query_latency_ms": pg.latency],
            "rabbitmq": ["publish_confirm": publish.json, "consume_ack": consume.json, "messages": messages,
                         "message_bytes": Self.messageBytes, "publish_window": Self.publishWindow,
                         "prefetch": Self.consumePrefetch, "publish_confirm_latency_ms": mq.latency],
            "redis": ["pipeline_set": redisSet.json, "sets": sets, "pipeline_chunk": Self.redisChunk,
                      "command_latency_ms": rd.latency],
            "ratio_swift_to_c": ["copy": copy.ratio, "publish_confirm": publish.ratio,
                                 "consume_ack": consume.ratio, "redis_pipeline_set": redisSet.ratio],
        ]
        if json {
            Output.json(result)
        } else {
            if build == "debug" { print("note: debug build; use `swift build -c release` for real figures") }
            print("median of \(rounds) rounds, C and Swift alternating, same servers, same process:")
            print("operation                                        Swift/s          C/s   Swift/C")
            func line(_ name: String, _ p: Pair) {
                print(name.padding(toLength: 44, withPad: " ", startingAt: 0)
                      + String(format: "%12.0f %12.0f %8.2f×", p.swiftMedian, p.cMedian, p.ratio))
            }
            line("postgres  COPY \(rows) rows (3 cols, PK)", copy)
            line("rabbitmq  publish \(messages) persistent, confirms", publish)
            line("rabbitmq  consume \(messages), acks (multiple)", consume)
            line("redis     pipelined SET x \(sets)", redisSet)
            print("postgres  one query round trip: \(Self.describe(pg.latency))")
            print("rabbitmq  one publish-confirm round trip: \(Self.describe(mq.latency))")
            print("redis     one command round trip: \(Self.describe(rd.latency))")
        }
    }

    static func describe(_ value: [String: Double]) -> String {
        String(format: "p50 %.3f ms, p99 %.3f ms", value["p50"] ?? 0, value["p99"] ?? 0)
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

    struct CLoopError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a C loop (blocking) on a thread of its own, off Swift's cooperative pool; returns its
    /// elapsed seconds.
    static func cLoop(_ body: @escaping @Sendable (UnsafeMutablePointer<CChar>, Int) -> Double) async throws -> Double {
        let thread = IOThread(name: "bench C loop")
        defer { thread.shutdown() }
        let (seconds, message) = try await thread.run {
            var err = [CChar](repeating: 0, count: 512)
            let s = err.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
            return (s, String(cString: err))
        }
        guard seconds >= 0 else { throw CLoopError(description: "C loop failed: \(message)") }
        return seconds
    }

    /// Runs `swift` and `c` alternately (round r: C first when r is even).
    func alternate(_ swift: (Int) async throws -> Double, _ c: (Int) async throws -> Double) async throws -> Pair {
        var pair = Pair()
        for r in 0..<rounds {
            if r % 2 == 0 {
                pair.c.append(try await c(r))
                pair.swift.append(try await swift(r))
            } else {
                pair.swift.append(try await swift(r))
                pair.c.append(try await c(r))
            }
        }
        return pair
    }

    func benchPostgres(_ settings: Settings, _ tag: String, _ logger: Logger) async throws -> (pair: Pair, latency: [String: Double]) {
        let conn = try await PostgresConnection.connect(try PostgresConfiguration(url: settings.postgresURL), logger: logger)
        let schema = PostgresIdentifier.quote(tag)
        _ = try await conn.simpleQuery("DROP SCHEMA IF EXISTS \(schema) CASCADE; CREATE SCHEMA \(schema)")
        var ddl = ""
        for r in 0..<rounds {
            for side in ["s", "c"] {
                ddl += "CREATE TABLE \(schema).rows_\(side)\(r) (id bigint PRIMARY KEY, name text NOT NULL, value double precision);"
            }
        }
        _ = try await conn.simpleQuery(ddl)
        let rows = self.rows
        let url = settings.postgresURL
        let pair = try await alternate({ r in
            let rowsToCopy = (0..<rows).lazy.map { i -> [PostgresValue] in
                [.int(i), .text("lead-\(i)@example.com"), .double(Double(i) * 0.5)]
            }
            let start = ContinuousClock.now
            let copied = try await conn.copyIn(into: "COPY \(schema).rows_s\(r) (id, name, value) FROM STDIN", rows: rowsToCopy)
            return Double(copied) / (ContinuousClock.now - start).seconds
        }, { r in
            let table = "\(schema).rows_c\(r)"
            return Double(rows) / (try await Self.cLoop { sluice_c_copy(url, table, rows, $0, $1) })
        })
        let queryLatency = try await Self.latency(samples) { _ = try await conn.query("SELECT 1") }
        _ = try await conn.simpleQuery("DROP SCHEMA \(schema) CASCADE")
        await conn.close()
        return (pair, queryLatency)
    }

    func benchRabbitMQ(_ settings: Settings, _ tag: String, _ logger: Logger) async throws -> (publish: Pair, consume: Pair, latency: [String: Double]) {
        let config = try AMQPConfiguration(url: settings.amqpURL)
        // The C reference loop opens a plain TCP socket: comparing it with a TLS client would
        // measure TLS, not the client.
        guard config.tls == nil else {
            throw CLoopError(description: "bench clients compares plain AMQP only; give an amqp:// URL (SLUICE_AMQP_URL is amqps://)")
        }
        let publisher = try await AMQPPublisher.connect(configuration: config, logger: logger)
        let channel = try await publisher.openChannel()
        let swiftQueue = tag + ".swift", cQueue = tag + ".c"
        for q in [swiftQueue, cQueue] {
            _ = try await channel.declareQueue(q, durable: true, exclusive: false, autoDelete: false,
                                               arguments: ["x-expires": .int32(600_000)])
        }
        let body = Array(repeating: UInt8(ascii: "x"), count: Self.messageBytes)
        var properties = AMQPProperties()
        properties.deliveryMode = .persistent
        properties.contentType = "application/json"
        let message = AMQPMessage(body: body, properties: properties)
        let messages = self.messages
        let window = Self.publishWindow, prefetch = Self.consumePrefetch, bytes = Self.messageBytes
        let (host, port, user, password, vhost) = (config.host, config.port, config.user, config.password, config.virtualHost)

        // Windowed: batches of `publishWindow` in flight, confirms read as they come.
        let batch = Array(repeating: AMQPOutgoingMessage(message, routingKey: swiftQueue), count: window)
        let publish = try await alternate({ _ in
            let start = ContinuousClock.now
            var published = 0
            while published < messages {
                let n = min(batch.count, messages - published)
                for result in await publisher.publish(batch: Array(batch.prefix(n))) { try result.get() }
                published += n
            }
            return Double(published) / (ContinuousClock.now - start).seconds
        }, { _ in
            Double(messages) / (try await Self.cLoop {
                sluice_c_publish_confirm(host, Int32(port), user, password, vhost, cQueue, messages, Int32(bytes), Int32(window), $0, $1)
            })
        })
        // Each round consumes what one round published.
        let consume = try await alternate({ _ in
            let consumer = try await AMQPConsumer.start(configuration: config, queue: swiftQueue, prefetch: UInt16(prefetch), logger: logger)
            let start = ContinuousClock.now
            var consumed = 0
            for try await delivery in consumer.deliveries {
                _ = consumer.ack(delivery.deliveryTag)
                consumed += 1
                if consumed == messages { break }
            }
            let seconds = (ContinuousClock.now - start).seconds
            await consumer.stop()
            return Double(consumed) / seconds
        }, { _ in
            Double(messages) / (try await Self.cLoop {
                sluice_c_consume_ack(host, Int32(port), user, password, vhost, cQueue, messages, Int32(prefetch), $0, $1)
            })
        })

        let latency = try await Self.latency(samples) {
            try await publisher.publish(message, routingKey: swiftQueue)
        }
        for q in [swiftQueue, cQueue] {
            _ = try await channel.purgeQueue(q)
            _ = try await channel.deleteQueue(q)
        }
        await publisher.close()
        return (publish, consume, latency)
    }

    func benchRedis(_ settings: Settings, _ tag: String, _ logger: Logger) async throws -> (pair: Pair, latency: [String: Double]) {
        let configuration = try RedisConfiguration(url: settings.redisURL)
        let conn = try await RedisConnection.connect(configuration: configuration, logger: logger)
        let value = Array(repeating: UInt8(ascii: "v"), count: Self.redisValueBytes)
        let chunk = Self.redisChunk, sets = self.sets, valueBytes = Self.redisValueBytes
        let (host, port, db) = (configuration.host, configuration.port, configuration.database)
        let pair = try await alternate({ r in
            // Timed like the C loop: building each command (its key) is part of the work.
            var commands: [[RedisArgument]] = []
            commands.reserveCapacity(chunk)
            let start = ContinuousClock.now
            var done = 0
            while done < sets {
                let n = min(chunk, sets - done)
                commands.removeAll(keepingCapacity: true)
                for i in done..<(done + n) { commands.append(["SET", .init("\(tag):s\(r):\(i)"), .init(value)]) }
                let replies = try await conn.pipeline(commands)
                for reply in replies { _ = try reply.get() }
                done += n
            }
            return Double(sets) / (ContinuousClock.now - start).seconds
        }, { r in
            let prefix = "\(tag):c\(r)"
            return Double(sets) / (try await Self.cLoop {
                sluice_c_redis_set(host, Int32(port), Int32(db), prefix, sets, Int32(valueBytes), Int32(chunk), $0, $1)
            })
        })
        let latency = try await Self.latency(samples) { _ = try await conn.send(["GET", .init("\(tag):s0:0")]) }
        // Clean up the Swift side's keys in pipelined DELs (the C loop deletes its own).
        for r in 0..<rounds {
            var start = 0
            while start < sets {
                let end = min(sets, start + chunk)
                _ = try await conn.pipeline((start..<end).map { ["DEL", .init("\(tag):s\(r):\($0)")] })
                start = end
            }
        }
        await conn.close()
        return (pair, latency)
    }
}
