// Harness: one test's private slice of the real servers: a ledger schema, a queue prefix and a
// Redis key prefix of its own, with the producer, ledger, result store and (optionally) an
// in-process worker wired to them — assembled by the library's `Runtime` and `AssembledProcess`,
// as `sluice` does.
// `close()` removes everything it created.

import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "sluice.runtime.tests")
    logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

final class Harness: Sendable {
    let schema: String
    let topology: TopologyConfiguration
    let redisPrefix: String
    let postgres: PostgresConfiguration
    let amqp: AMQPConfiguration
    let pool: PostgresPool
    let ledger: Ledger
    let redis: RedisPool
    let results: ResultStore
    let publisher: JobPublisher
    let producer: Producer
    let registry: JobRegistry
    let runtime: Runtime

    init(amqpURL: String = TestEnvironment.amqpURL, redisURL: String = TestEnvironment.redisURL,
         registry: JobRegistry = .forTests, queueType: TopologyConfiguration.QueueType = .classic) async throws {
        let name = TestEnvironment.uniqueName("rt")
        schema = name
        topology = TopologyConfiguration(prefix: name, queueType: queueType)
        redisPrefix = name + ":"
        postgres = try PostgresConfiguration(url: TestEnvironment.postgresURL)
        var amqp = try AMQPConfiguration(url: amqpURL)
        amqp.connectTimeout = .seconds(2)
        self.amqp = amqp
        var rc = try RedisConfiguration(url: redisURL)
        rc.connectTimeout = .milliseconds(500)
        rc.commandTimeout = .seconds(2)
        runtime = Runtime(
            configuration: RuntimeConfiguration(
                postgres: postgres, amqp: amqp,
                redisPool: RedisPoolConfiguration(connection: rc, size: 2,
                                                  reconnectBackoff: .init(base: .milliseconds(50), cap: .milliseconds(300), jitter: 0.5)),
                schema: schema, topology: topology, redisPrefix: redisPrefix, statusTTL: .seconds(600)),
            registry: registry, logger: testLogger)
        (pool, ledger, redis, results, publisher, producer) =
            (runtime.pool, runtime.ledger, runtime.redis, runtime.results, runtime.publisher, runtime.producer)
        self.registry = registry
        try await ledger.migrate()
    }

    func workerConfiguration(
        classes: [WorkloadClass] = [.analytics], concurrency: Int? = nil, lease: Duration = .seconds(30),
        grace: Duration = .seconds(5), rescueInterval: Duration = .seconds(1), name: String? = nil
    ) -> WorkerConfiguration {
        let settings = classes.map { c -> ClassSettings in
            var s = ClassSettings.defaults(for: c)
            if let concurrency { s.concurrency = concurrency; s.poolSize = concurrency }
            s.prefetch = max(s.prefetch, s.concurrency)
            return s
        }
        let retry = RetryPolicy(backoff: .init(base: .milliseconds(100), cap: .milliseconds(400), jitter: 0.2))
        return WorkerConfiguration(
            classes: settings, postgres: postgres, amqp: amqp, name: name ?? TestEnvironment.uniqueName("w"), lease: lease,
            shutdownGrace: grace, rescueInterval: rescueInterval, retryPolicy: retry)
    }

    /// The worker role of a process on this harness's runtime (each worker gets its own result
    /// store, as a separate process would).
    func makeWorker(_ configuration: WorkerConfiguration) throws -> Worker {
        try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: configuration)).worker!
    }

    /// Runs `body` while `worker` runs; stops it and waits for its drain afterwards.
    func withWorker<T: Sendable>(_ worker: Worker, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await worker.run(); return nil }
            do {
                let value = try await body()
                worker.stop()
                while let _ = try await group.next() {}
                return value
            } catch {
                worker.stop()
                while let _ = try? await group.next() {}
                throw error
            }
        }
    }

    /// Polls the ledger until every job is final (or `seconds` pass); returns the jobs.
    func waitFinal(_ ids: [JobID], seconds: Double = 20) async throws -> [JobID: LedgerJob] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            var jobs: [JobID: LedgerJob] = [:]
            for id in ids { if let j = try await ledger.job(id) { jobs[id] = j } }
            if jobs.count == ids.count && jobs.values.allSatisfy({ $0.state.isFinal }) { return jobs }
            if Date() > deadline { return jobs }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Reads and removes up to `max` dead letters (waiting up to `seconds` for the first `expect`).
    func deadLetters(expect: Int, seconds: Double = 10) async throws -> [AMQPDelivery] {
        let consumer = try await AMQPConsumer.start(configuration: amqp, queue: topology.deadQueue, prefetch: 100, logger: testLogger)
        var out: [AMQPDelivery] = []
        let deadline = Date().addingTimeInterval(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                await consumer.stop()
            }
            for try await d in consumer.deliveries {
                out.append(d)
                consumer.ack(d.deliveryTag)
                if out.count >= expect || Date() > deadline { break }
            }
            group.cancelAll()
        }
        await consumer.stop()
        return out
    }

    func close() async {
        await publisher.close()
        if let connection = try? await AMQPConnection.connect(configuration: amqp, logger: testLogger),
           let channel = try? await connection.openChannel() {
            await Topology.delete(on: channel, topology)
            await connection.close()
        }
        try? await ledger.dropSchema()
        if let keys = try? await redis.send(["KEYS", RedisArgument(redisPrefix + "*")]), let list = keys.array {
            for k in list { if let s = k.string { _ = try? await redis.send(["DEL", RedisArgument(s)]) } }
        }
        await redis.close()
        await pool.close()
    }
}

/// Runs `body` with a harness and always cleans up.
func withHarness<T>(amqpURL: String = TestEnvironment.amqpURL, redisURL: String = TestEnvironment.redisURL,
                    queueType: TopologyConfiguration.QueueType = .classic, registry: JobRegistry = .forTests,
                    _ body: (Harness) async throws -> T) async throws -> T {
    let h = try await Harness(amqpURL: amqpURL, redisURL: redisURL, registry: registry, queueType: queueType)
    do {
        let v = try await body(h)
        await h.close()
        return v
    } catch {
        await h.close()
        throw error
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out: \(what)" }
}
