// RuntimeBackend: the API's backend in a process: every route family answered by the
// runtime's own types (the ledger, `QueueInspector`, `DeadLetters`, `DashboardStore`,
// `QueryCache`, `ImportStore`, the schedules). Built by `APIRole` from the assembled process.

import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

public struct RuntimeBackend: APIBackend {
    public let producer: Producer
    public let ledger: Ledger
    public let results: ResultStore
    /// Short commands (reads of status, cache, health, alerts).
    public let redis: RedisPool
    /// Where each live-event stream opens its own blocking connection.
    public let redisConfiguration: RedisConfiguration
    public let keys: RedisKeys
    public let deadLetterQueue: DeadLetters
    public let queues: QueueInspector
    public let topology: TopologyConfiguration
    /// Nil when no catalog is loaded: schedules are then nil (an empty list).
    public let scheduler: Scheduler?
    public let catalog: Catalog?
    let logger: Logger

    /// The backend over a process's runtime (see `APIRole`).
    public init(runtime: Runtime, scheduler: Scheduler?, catalog: Catalog?) {
        let c = runtime.configuration
        producer = runtime.producer
        ledger = runtime.ledger
        results = runtime.results
        redis = runtime.redis
        redisConfiguration = c.redis
        keys = RedisKeys(prefix: c.redisPrefix)
        deadLetterQueue = DeadLetters(amqp: c.amqp, topology: c.topology, ledger: runtime.ledger, publisher: runtime.publisher,
                                      logger: runtime.logger)
        queues = QueueInspector(amqp: c.amqp, topology: c.topology, logger: runtime.logger)
        topology = c.topology
        self.scheduler = scheduler
        self.catalog = catalog
        logger = runtime.logger
    }

    var dashboard: DashboardStore { DashboardStore(redis: redis, keys: keys) }
    var imports: ImportStore { ImportStore(pool: ledger.pool, schema: ledger.schema) }
    var idempotency: IdempotencyStore { IdempotencyStore(ledger: ledger) }

    // MARK: JobBackend

    public var registry: JobRegistry { producer.registry }

    public func enqueue(batch: [JobRequest]) async throws -> [Result<EnqueueResult, any Error>] {
        try await producer.enqueue(batch: batch)
    }

    public func job(_ id: JobID) async throws -> LedgerJob? { try await ledger.job(id) }

    public func liveStatus(_ id: JobID) async throws -> [String: String]? { try await results.read(id) }

    public func cancel(_ id: JobID) async throws -> (Ledger.CancelOutcome, JobState?) { try await ledger.cancel(id) }

    public func search(_ filter: JobFilter, after: JobID?, limit: Int) async throws -> JobPage {
        try await ledger.search(filter, after: after, limit: limit)
    }

    public func beginIdempotent(key: String, requestSHA256: String) async throws -> IdempotencyBegin {
        try await idempotency.begin(key: key, requestSHA256: requestSHA256)
    }

    public func finishIdempotent(key: String, status: Int, response: String) async throws {
        try await idempotency.finish(key: key, status: status, response: response)
    }

    public func abandonIdempotent(key: String) async throws { try await idempotency.abandon(key: key) }

    // MARK: OperatorBackend

    public func queueSnapshot() async throws -> QueueInspector.Snapshot { try await queues.snapshot() }

    public func classCounts(_ classes: [String]) async throws -> (counts: [String: ClassCounts], oldestWaiting: [String: Date]) {
        (try await ledger.overview(classes: classes), try await ledger.oldestWaiting(classes: classes))
    }

    public func deadLetters(limit: Int) async throws -> [DeadLetter] { try await deadLetterQueue.list(limit: limit) }

    public func replay(_ id: JobID) async throws -> Bool { try await deadLetterQueue.replay(id) }

    public func schedules() async throws -> [ScheduleStatus]? {
        guard let scheduler else { return nil }
        return try await scheduler.status()
    }

    public func fireSchedule(_ name: String) async throws -> Scheduler.ManualFire {
        guard let scheduler else { throw SchedulerError(.unknownSchedule, "no schedule is named '\(name.prefix(100))'") }
        return try await scheduler.fireNow(name)
    }

    public func ping(_ server: BackendServer) async throws {
        switch server {
        case .postgres: _ = try await ledger.pool.withConnection { c in try await c.query("SELECT 1") }
        case .rabbitmq: try await queues.ping()
        case .redis: try await dashboard.ping()
        }
    }

    // MARK: DashboardBackend

    public func cachedOutput(query: String, target: String, params: QueryParameters) async throws -> (key: String, output: CachedOutput?) {
        // The key is the analytics class's (`QueryCache`).
        let cache = QueryCache(redis: redis, prefix: keys.prefix)
        let key = cache.key(query: query, target: target, params: params)
        return (key, try await cache.read(key: key))
    }

    public func healthReports(target: String) async throws -> [String: JSONValue] { try await dashboard.healthReports(target: target) }

    public func healthReport(target: String, report: HealthReport) async throws -> JSONValue? {
        try await dashboard.read(keys.health(target: target, report: report.rawValue))
    }

    public func viewRefresh(view: String, target: String) async throws -> JSONValue? {
        try await dashboard.read(keys.output(RedisKeys.matviewOutput(view: view, target: target)))
    }

    public func viewFreshness() async throws -> [String: JSONValue] { try await dashboard.viewFreshness() }

    public func alerts(limit: Int) async throws -> [RedisStreamEntry] { try await dashboard.alerts(limit: limit) }

    public func events() -> any EventReader {
        RedisEventReader(dashboard: dashboard, connection: RedisBlockingConnection(configuration: redisConfiguration, logger: logger))
    }

    // MARK: ImportBackend

    public func submitImport(_ submission: ImportSubmission, bytes: some ImportByteSource, fileName: String) async throws
        -> (upload: ImportStore.Upload, job: EnqueueResult) {
        let (upload, job) = try await submission.submit(bytes, fileName: fileName, store: imports, producer: producer)
        return (upload, job)
    }

    public func rejectsCSV(jobID: JobID, _ write: @escaping @Sendable ([UInt8]) -> Void) async throws {
        _ = try await imports.rejectsCSV(jobID: jobID.uuid, write)
    }

    // MARK: OverviewBackend

    public func throughput(classes: [String], since: Date, step: Duration) async throws -> [ThroughputBucket] {
        try await ledger.throughput(classes: classes, since: since, step: step)
    }
}

/// The job events stream over one blocking Redis connection (XREAD BLOCK, `DashboardStore.events`).
struct RedisEventReader: EventReader {
    let dashboard: DashboardStore
    let connection: RedisBlockingConnection

    func next(after: String) async throws -> [RedisStreamEntry] { try await dashboard.events(on: connection, after: after) }
    func close() async { await connection.close() }
}
