// APIFixture: one test's `sluice api` on a free loopback port, over its own ledger schema, queue
// prefix and Redis prefix on the real servers, with three tokens (read, enqueue, admin) and, on
// request, an in-process worker. Assembled as `sluice api` is: a `Runtime` and a `AssembledProcess`
// whose role is `APIRole` (the worker, a second process's worker role on the same runtime).
// `close()` removes everything it created.

import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import ServiceLifecycle
import SluiceCore
import SluiceCatalog
import SluiceCatalogLoader
import SluiceHTTP
import SluiceJobs
import SluiceMetrics
import SluiceRuntime
import TestSupport
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "sluice.http.tests")
    logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}()

final class APIFixture: Sendable {
    static let readToken = "read-token-" + TokenAuthority.generate()
    static let enqueueToken = "enqueue-token-" + TokenAuthority.generate()
    static let adminToken = "admin-token-" + TokenAuthority.generate()

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
    let runtime: Runtime
    /// The route table the process serves (for the OpenAPI comparison).
    let server: APIServer
    let metrics: MetricsRegistry
    let client: HTTPClient
    /// Declares the queries `q` and `top_campaigns` and the import spec `contacts` (into
    /// `{schema}.contacts`, created by `createContactsTable()`).
    let catalog: Catalog
    let registry: JobRegistry
    private let task: Task<Void, any Error>

    /// `extraCatalog` gets the fixture's schema and returns more catalog YAML (a second source).
    init(amqpURL: String = TestEnvironment.amqpURL, redisURL: String = TestEnvironment.redisURL, logger testLogger: Logger = testLogger,
         extraCatalog: (String) -> String = { _ in "" }, configure: (inout APIConfiguration) -> Void = { _ in }) async throws {
        let name = TestEnvironment.uniqueName("api")
        schema = name
        topology = TopologyConfiguration(prefix: name, queueType: .classic)
        redisPrefix = name + ":"
        postgres = try PostgresConfiguration(url: TestEnvironment.postgresURL)
        var amqp = try AMQPConfiguration(url: amqpURL)
        amqp.connectTimeout = .seconds(1)
        self.amqp = amqp
        var rc = try RedisConfiguration(url: redisURL)
        rc.connectTimeout = .milliseconds(300)
        rc.commandTimeout = .seconds(2)
        catalog = try Self.catalog(schema: schema, extra: extraCatalog(schema))
        registry = JobRegistry.standard(catalog: catalog)
        runtime = Runtime(
            configuration: RuntimeConfiguration(
                postgres: postgres, amqp: amqp,
                redisPool: RedisPoolConfiguration(connection: rc, size: 2,
                                                  reconnectBackoff: .init(base: .milliseconds(50), cap: .milliseconds(300), jitter: 0.5)),
                schema: schema, topology: topology, redisPrefix: redisPrefix, statusTTL: .seconds(600)),
            registry: registry, logger: testLogger)
        (pool, ledger, redis, results, publisher) = (runtime.pool, runtime.ledger, runtime.redis, runtime.results, runtime.publisher)
        var configuration = APIConfiguration(
            port: 0,
            tokens: TokenAuthority(entries: [
                .init(name: "reader", scope: .read, digest: TokenAuthority.hexBytes(TokenAuthority.hash(Self.readToken))!),
                .init(name: "enqueuer", scope: .enqueue, digest: TokenAuthority.hexBytes(TokenAuthority.hash(Self.enqueueToken))!),
                .init(name: "admin", scope: .admin, digest: TokenAuthority.hexBytes(TokenAuthority.hash(Self.adminToken))!),
            ]),
            maxBodyBytes: 64 * 1024, maxBatch: 100, dependencyTimeout: .seconds(1))
        configure(&configuration)
        let metrics = MetricsRegistry()
        self.metrics = metrics
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let role = APIRole(configuration: configuration, catalog: catalog) { port in continuation.yield(port) }
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(metrics: metrics, attached: [role]))
        server = role.server(for: process.roles)
        try await process.prepare()
        task = Task { try await process.run(signals: []) }
        var port = 0
        for await p in ports {
            port = p
            break
        }
        client = HTTPClient(port: port)
    }

    static func catalog(schema: String, extra: String = "") throws -> Catalog {
        let check = CatalogLoader.check(sources: (extra.isEmpty ? [] : [CatalogSource(path: "extra.yaml", text: extra)]) + [CatalogSource(path: "api.yaml", text: """
            queries:
              - name: q
                sql: "SELECT 1 AS one"
              - name: top_campaigns
                sql: "SELECT $1::int AS workspace_id, $2::date AS day"
                params: {workspace_id: integer, day: date}
                stale_after: 5m
                ttl: 1h
            imports:
              - name: contacts
                table: \(schema).contacts
                key: [email]
                on_conflict: update
                max_file_size: 64KB
                max_rejects: 100
                columns:
                  - {column: email, type: email, required: true, lowercase: true}
                  - {column: name, type: text, max_length: 20}
            """)])
        guard check.problems.isEmpty else { throw FixtureError(description: "fixture catalog: \(check.problems)") }
        return check.catalog
    }

    func createContactsTable() async throws {
        try await pool.withConnection { c in
            try await c.execute("CREATE TABLE \(schema).contacts (email text PRIMARY KEY, name text)")
        }
    }

    /// The worker role of a process on this fixture's runtime (its registry: the fixture catalog's).
    func worker(metrics: JobMetrics? = nil, workloadClass: WorkloadClass = .analytics) throws -> Worker {
        var settings = ClassSettings.defaults(for: workloadClass)
        settings.concurrency = 4
        settings.poolSize = 4
        settings.prefetch = 8
        var configuration = WorkerConfiguration(
            classes: [settings], postgres: postgres, amqp: amqp, name: TestEnvironment.uniqueName("w"), lease: .seconds(30),
            shutdownGrace: .seconds(2), rescueInterval: .seconds(1),
            retryPolicy: RetryPolicy(backoff: .init(base: .milliseconds(100), cap: .milliseconds(300), jitter: 0.2)))
        configuration.metrics = metrics
        return try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: configuration)).worker!
    }

    /// Runs `body` while an in-process worker runs.
    func withWorker<T: Sendable>(metrics: JobMetrics? = nil, workloadClass: WorkloadClass = .analytics,
                                 _ body: @Sendable () async throws -> T) async throws -> T {
        let worker = try worker(metrics: metrics, workloadClass: workloadClass)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await worker.run(); return nil }
            defer { worker.stop() }
            let value = try await body()
            worker.stop()
            while let _ = try await group.next() {}
            return value
        }
    }

    /// Polls GET /v1/jobs/{id} until `predicate` holds or `seconds` pass.
    func waitJob(_ id: String, seconds: Double = 20, _ predicate: (JSONValue) -> Bool) async throws -> JSONValue {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let r = try await client.json("GET", "/v1/jobs/\(id)", token: Self.readToken)
            if r.status == 200, predicate(r.json) { return r.json }
            if Date() > deadline { return r.json }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Removes the schema and the Redis keys, stops the process (which closes the runtime's
    /// clients), then deletes the queues.
    func close() async {
        try? await ledger.dropSchema()
        if let keys = try? await redis.send(["KEYS", RedisArgument(redisPrefix + "*")]), let list = keys.array {
            for k in list { if let s = k.string { _ = try? await redis.send(["DEL", RedisArgument(s)]) } }
        }
        task.cancel()
        _ = await task.result
        await runtime.close()
        if let connection = try? await AMQPConnection.connect(configuration: amqp, logger: testLogger),
           let channel = try? await connection.openChannel() {
            await Topology.delete(on: channel, topology)
            await connection.close()
        }
    }
}

/// Runs `body` with a fixture and always cleans up.
func withAPI(amqpURL: String = TestEnvironment.amqpURL, redisURL: String = TestEnvironment.redisURL, logger: Logger = testLogger,
             extraCatalog: (String) -> String = { _ in "" }, configure: (inout APIConfiguration) -> Void = { _ in },
             _ body: (APIFixture) async throws -> Void) async throws {
    let fixture = try await APIFixture(amqpURL: amqpURL, redisURL: redisURL, logger: logger, extraCatalog: extraCatalog, configure: configure)
    do {
        try await body(fixture)
    } catch {
        await fixture.close()
        throw error
    }
    await fixture.close()
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}
