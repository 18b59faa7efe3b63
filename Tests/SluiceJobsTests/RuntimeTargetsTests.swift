// Jobs on their own target databases, through the library's Runtime as the CLI assembles it:
// one worker serves two databases, a job for each runs on its own, and a database that stops
// accepting connections fails (and retries) only its own jobs. Bad jobs are refused at enqueue
// with nothing in the ledger, nothing in Redis and nothing published.

import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime
import TestSupport
import Testing

/// A Runtime on a private ledger schema, queue prefix and Redis prefix, validating against the
/// demo catalog with a second target `tenant_b`.
struct RuntimeFixture {
    let runtime: Runtime
    let names: String

    static func make() throws -> RuntimeFixture {
        var catalog = try TestCatalog.demo()
        catalog.targets.append(CatalogTarget(name: "tenant_b", source: .environment("SLUICE_TEST_TENANT_B_URL")))
        let names = TestEnvironment.uniqueName("tg")
        var amqp = try AMQPConfiguration(url: TestEnvironment.amqpURL)
        amqp.connectTimeout = .seconds(2)
        let configuration = RuntimeConfiguration(
            postgres: try PostgresConfiguration(url: TestEnvironment.postgresURL), amqp: amqp,
            redis: try RedisConfiguration(url: TestEnvironment.redisURL), schema: names,
            topology: TopologyConfiguration(prefix: names), redisPrefix: names + ":")
        var logger = Logger(label: "test.targets")
        logger.logLevel = .critical
        return RuntimeFixture(runtime: Runtime(configuration: configuration, registry: .standard(catalog: catalog), logger: logger),
                              names: names)
    }

    /// A process of the fixture's runtime whose one role is a worker (the assembly `sluice worker` uses).
    func assemble(_ worker: WorkerConfiguration) throws -> AssembledProcess {
        try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: worker))
    }

    func workerConfiguration(targets: [String: TargetPools.Connection]) -> WorkerConfiguration {
        var settings = ClassSettings.defaults(for: .maintenance)
        settings.concurrency = 2
        settings.lockTimeout = .seconds(1)
        return WorkerConfiguration(
            classes: [settings], postgres: runtime.configuration.postgres, amqp: runtime.configuration.amqp,
            name: TestEnvironment.uniqueName("w"), shutdownGrace: .seconds(5), rescueInterval: .seconds(1),
            retryPolicy: RetryPolicy(backoff: .init(base: .milliseconds(300), cap: .seconds(1), jitter: 0.2)), targets: targets)
    }

    /// Removes the schema, the queues and the Redis keys (after `runtime.run` closed its clients).
    func cleanUp() async {
        let logger = Logger(label: "cleanup")
        if let c = try? await PostgresConnection.connect(try PostgresConfiguration(url: TestEnvironment.postgresURL), logger: logger) {
            _ = try? await c.simpleQuery("DROP SCHEMA IF EXISTS \(names) CASCADE")
            await c.close()
        }
        if let connection = try? await AMQPConnection.connect(configuration: runtime.configuration.amqp, logger: logger),
           let channel = try? await connection.openChannel() {
            await Topology.delete(on: channel, runtime.configuration.topology)
            await connection.close()
        }
        let redis = RedisPool(connection: runtime.configuration.redis, size: 1, logger: logger)
        if let keys = try? await redis.send(["KEYS", RedisArgument(names + ":*")]), let list = keys.array {
            for k in list { if let s = k.string { _ = try? await redis.send(["DEL", RedisArgument(s)]) } }
        }
        await redis.close()
    }

    /// Waits until `predicate` holds for the job's ledger row.
    func waitFor(_ id: JobID, seconds: Double = 30, _ what: String, _ predicate: (LedgerJob) -> Bool) async throws -> LedgerJob {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let job = try await runtime.ledger.job(id), predicate(job) { return job }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ScratchDatabase.WaitTimeout(what: "job \(id): \(what)")
    }
}

@Suite(.serialized) struct RuntimeTargetsTests {
    @Test("one worker, two databases: each job runs on its own target; a stopped database stalls only its own jobs")
    func twoTargets() async throws {
        let fixture = try RuntimeFixture.make()
        try await ScratchDatabase.with("tgt_a", seed: true) { a in
            try await ScratchDatabase.with("tgt_b", seed: true) { b in
                let runtime = fixture.runtime
                try await runtime.ledger.migrate()
                let process = try fixture.assemble(fixture.workerConfiguration(
                    targets: ["main": .configured(a.configuration), "tenant_b": .configured(b.configuration)]))
                let worker = process.worker!
                let lastAnalyze = "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'demo.campaigns'::regclass"
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await process.run(signals: []) }
                    defer { worker.stop() }
                    // A job on each target runs on its own database.
                    let onA = try await runtime.producer.enqueue(JobRequest(kind: "maintenance.analyze", args: ["table": "demo.campaigns"]))
                    _ = try await fixture.waitFor(onA.id, "completed on main") { $0.state == .completed }
                    try await a.waitUntil(lastAnalyze, "ANALYZE on database a")
                    #expect(try await b.value(lastAnalyze, as: Bool.self) == false, "a job for main must not touch tenant_b")
                    let onB = try await runtime.producer.enqueue(JobRequest(
                        kind: "maintenance.analyze", args: ["table": "demo.campaigns"], target: "tenant_b"))
                    let doneB = try await fixture.waitFor(onB.id, "completed on tenant_b") { $0.state == .completed }
                    #expect(doneB.target == "tenant_b")
                    try await b.waitUntil(lastAnalyze, "ANALYZE on database b")
                    #expect(Set(worker.pools.statistics.keys.map(\.target)) == ["main", "tenant_b"])

                    // tenant_b stops accepting connections: its job fails and waits for a retry,
                    // while jobs for main keep completing.
                    try await a.run("""
                        ALTER DATABASE \(b.name) ALLOW_CONNECTIONS false;
                        SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(b.name)' AND pid <> pg_backend_pid();
                        """)
                    var stalled = JobRequest(kind: "maintenance.vacuum", args: ["table": "demo.campaigns"], target: "tenant_b")
                    stalled.maxAttempts = 30
                    let stalledB = try await runtime.producer.enqueue(stalled)
                    _ = try await fixture.waitFor(stalledB.id, "retried on tenant_b") { $0.attempt >= 2 }
                    for _ in 0..<3 {
                        let more = try await runtime.producer.enqueue(JobRequest(kind: "maintenance.vacuum", args: ["table": "demo.campaigns"]))
                        _ = try await fixture.waitFor(more.id, seconds: 15, "completed on main while tenant_b is down") { $0.state == .completed }
                    }
                    let whileDown = try #require(try await runtime.ledger.job(stalledB.id))
                    #expect(whileDown.state != .completed && whileDown.state != .discarded)

                    // tenant_b comes back: the retried job completes there.
                    try await a.run("ALTER DATABASE \(b.name) ALLOW_CONNECTIONS true")
                    let recovered = try await fixture.waitFor(stalledB.id, "completed after tenant_b came back") { $0.state == .completed }
                    #expect(recovered.attempt >= 2)
                    worker.stop()
                    try await group.waitForAll()
                }
            }
        }
        await fixture.cleanUp()
    }

    @Test("bad jobs are refused at enqueue, naming the field, with nothing written or published")
    func refusedAtEnqueue() async throws {
        let fixture = try RuntimeFixture.make()
        let runtime = fixture.runtime
        try await runtime.ledger.migrate()
        let cases: [(JobRequest, String)] = [
            (JobRequest(kind: "maintenance.vacuum", args: ["table": "demo.leads"], target: "tenant_x"), "target"),
            (JobRequest(kind: "maintenance.vacuum", args: ["table": "demo.leads; drop table demo.leads"]), "args.table"),
            (JobRequest(kind: "maintenance.vacuum", args: ["tabel": "demo.leads"]), "args.table"),
            (JobRequest(kind: "maintenance.vacuum", args: ["table": "demo.leads", "tabel": "x"]), "args.tabel"),
            (JobRequest(kind: "maintenance.vacuum", args: ["table": "demo.leads", "analyze": "yes"]), "args.analyze"),
            (JobRequest(kind: "refresh.matview", args: ["view": "demo.no_such_view"]), "args.view"),
            (JobRequest(kind: "maintenance.partitions", args: ["table": "demo.leads"]), "args.table"),
        ]
        for (request, field) in cases {
            do {
                _ = try await runtime.producer.enqueue(request)
                Issue.record("\(request.kind) \(request.args) \(request.target): expected a refusal")
            } catch let error as EnvelopeError {
                #expect(error.field == field, "\(error)")
            }
        }
        let counts = try await runtime.ledger.statusCounts()
        #expect(counts.isEmpty, "nothing in the ledger")
        let keys = try await runtime.redis.send(["KEYS", RedisArgument(fixture.names + ":*")])
        #expect(keys.array?.isEmpty ?? true, "nothing in Redis")
        // Nothing published: declare the topology (as a publisher would) and read the depth.
        let connection = try await AMQPConnection.connect(configuration: runtime.configuration.amqp, logger: runtime.logger)
        let channel = try await connection.openChannel()
        try await Topology.declare(on: channel, runtime.configuration.topology)
        let depth = try await channel.declareQueuePassive(runtime.configuration.topology.queue(for: "maintenance")).messageCount
        #expect(depth == 0)
        await connection.close()
        await runtime.close()
        await fixture.cleanUp()
    }
}
