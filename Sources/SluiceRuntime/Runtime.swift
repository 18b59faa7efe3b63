// Runtime: the clients every process shares. From a configuration (server URLs already parsed,
// the registry with its catalog) it builds the home database's pool, the ledger, Redis and the
// result store, the publisher and the producer; the assembly (Assembly.swift: `AssembledProcess`)
// makes its roles (workers, schedulers, a pruner, the API, a metrics port) on it; and `run`
// runs them as Services in one ServiceGroup whose graceful-shutdown signals are SIGTERM and
// SIGINT, so every process (worker, scheduler, api) drains the same way.
//
// Shutdown order is the reverse of the services' order: the scheduler steps down (releasing
// its lease), the worker drains its jobs and flushes Redis, then the publisher and the home
// pool close. The CLI, the benches and the test harnesses all build their processes through
// `AssembledProcess` on this type; short commands (`sluice enqueue`, `status` …) use it bare.

import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import UnixSignals

public struct RuntimeConfiguration: Sendable {
    /// The home database: the ledger, schedules and kinds' own state live there, whatever a
    /// job's target.
    public var postgres: PostgresConfiguration
    public var amqp: AMQPConfiguration
    /// Redis and its pool (size, reconnect backoff).
    public var redisPool: RedisPoolConfiguration
    public var redis: RedisConfiguration { redisPool.connection }
    /// The ledger schema. Default `sluice`.
    public var schema: String
    public var topology: TopologyConfiguration
    /// Prefix of every Redis key. Default `sluice:`.
    public var redisPrefix: String
    /// How long a job's status hash lives after its last update. Default 7 days.
    public var statusTTL: Duration
    /// Connections of the home pool. Default 4.
    public var ledgerConnections: Int
    /// Ledger commits without waiting for the WAL flush (`SLUICE_LEDGER_ASYNC_COMMIT=1`): a
    /// Postgres crash may forget the last few hundred ms of ledger writes; delivery stays
    /// at-least-once. Default false.
    public var ledgerAsyncCommit: Bool
    /// Signs every envelope this runtime publishes, and checks what its workers receive
    /// (`SLUICE_SIGNING_KEYS`). Default nil: unsigned.
    public var signer: EnvelopeSigner? = nil
    /// At most this many jobs of a batch enqueue share one message (JobPack; `SLUICE_PACK_JOBS`).
    /// 0 or 1: one message per job. Default `Producer.defaultPackJobs`.
    public var packJobs: Int = Producer.defaultPackJobs

    public init(postgres: PostgresConfiguration, amqp: AMQPConfiguration, redis: RedisConfiguration, schema: String = "sluice",
                topology: TopologyConfiguration = TopologyConfiguration(), redisPrefix: String = "sluice:",
                statusTTL: Duration = .seconds(7 * 86_400), ledgerConnections: Int = 4, ledgerAsyncCommit: Bool = false) {
        self.init(postgres: postgres, amqp: amqp, redisPool: RedisPoolConfiguration(connection: redis), schema: schema,
                  topology: topology, redisPrefix: redisPrefix, statusTTL: statusTTL, ledgerConnections: ledgerConnections,
                  ledgerAsyncCommit: ledgerAsyncCommit)
    }

    public init(postgres: PostgresConfiguration, amqp: AMQPConfiguration, redisPool: RedisPoolConfiguration, schema: String = "sluice",
                topology: TopologyConfiguration = TopologyConfiguration(), redisPrefix: String = "sluice:",
                statusTTL: Duration = .seconds(7 * 86_400), ledgerConnections: Int = 4, ledgerAsyncCommit: Bool = false) {
        self.postgres = postgres
        self.amqp = amqp
        self.redisPool = redisPool
        self.statusTTL = statusTTL
        self.schema = schema
        self.topology = topology
        self.redisPrefix = redisPrefix
        self.ledgerConnections = ledgerConnections
        self.ledgerAsyncCommit = ledgerAsyncCommit
    }
}

public final class Runtime: Sendable {
    public let configuration: RuntimeConfiguration
    public let registry: JobRegistry
    public let logger: Logger
    /// The home database's pool (the ledger's).
    public let pool: PostgresPool
    public let ledger: Ledger
    public let redis: RedisPool
    public let results: ResultStore
    public let publisher: JobPublisher
    public let producer: Producer

    public init(configuration: RuntimeConfiguration, registry: JobRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        var home = configuration.postgres
        home.applicationName = "sluice-ledger"
        if configuration.ledgerAsyncCommit { home.settings["synchronous_commit"] = "off" }
        pool = PostgresPool(configuration: .init(connection: home, maxConnections: configuration.ledgerConnections), logger: logger)
        ledger = Ledger(pool: pool, schema: configuration.schema, logger: logger)
        redis = RedisPool(configuration: configuration.redisPool, logger: logger)
        results = ResultStore(redis: redis, configuration: .init(prefix: configuration.redisPrefix, ttl: configuration.statusTTL), logger: logger)
        publisher = JobPublisher(configuration: configuration.amqp, topology: configuration.topology, signer: configuration.signer,
                                 logger: logger)
        producer = Producer(registry: registry, ledger: ledger, publisher: publisher, results: results,
                            packJobs: configuration.packJobs, logger: logger)
    }

    /// The catalog every job is validated against.
    public var catalog: Catalog { registry.catalog }

    /// A worker on this runtime's ledger and publisher, with a result store of its own (flushed
    /// by the worker after its drain). The worker role of `AssembledProcess`.
    func makeWorker(_ configuration: WorkerConfiguration) -> Worker {
        let store = ResultStore(redis: redis, configuration: .init(prefix: self.configuration.redisPrefix, ttl: self.configuration.statusTTL),
                                logger: logger)
        return Worker(configuration: configuration, registry: registry, ledger: ledger, publisher: publisher,
                      results: store, topology: self.configuration.topology, packJobs: self.configuration.packJobs, logger: logger)
    }

    /// A scheduler replica firing `jobs` through this runtime's producer. The schedules role of
    /// `AssembledProcess`.
    func makeScheduler(jobs: [ScheduledJob], configuration: SchedulerConfiguration) throws -> Scheduler {
        try Scheduler(jobs: jobs, configuration: configuration, pool: pool, schema: self.configuration.schema,
                      producer: producer, logger: logger)
    }

    /// Runs `services` (workers, schedulers, an API…) beside the runtime's own (home pool
    /// upkeep, publisher) in one ServiceGroup until they end or SIGTERM / SIGINT drains them;
    /// then closes every client. `signals: []` leaves signals alone (tests, embedding).
    public func run(_ services: [any Service], signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: PoolUpkeep(pool: pool)),
                .init(service: PublisherLifetime(publisher: publisher, redis: redis)),
            ] + services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: signals,
            logger: logger))
        do {
            try await group.run()
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// Closes the clients (idempotent).
    public func close() async {
        await results.flush()
        await publisher.close()
        await redis.close()
        await pool.close()
    }
}

/// Keeps the home pool healthy (minimum connections, idle pruning) until shutdown.
struct PoolUpkeep: Service {
    let pool: PostgresPool
    func run() async throws {
        await cancelWhenGracefulShutdown { await pool.run() }
    }
}

/// Holds the publisher's and Redis's connections open until shutdown, then closes them: after
/// every service listed later (the workers) has drained.
struct PublisherLifetime: Service {
    let publisher: JobPublisher
    let redis: RedisPool
    func run() async throws {
        try? await gracefulShutdown()
        await publisher.close()
        await redis.close()
    }
}
