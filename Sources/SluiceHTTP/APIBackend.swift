// APIBackend: the runtime pieces the API reads and drives: one small struct, so the server does
// not care how the executable assembled them.

import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

public struct APIBackend: Sendable {
    public var producer: Producer
    public var ledger: Ledger
    public var results: ResultStore
    /// Short commands (reads of status, cache, health, alerts).
    public var redis: RedisPool
    /// Where each live-event stream opens its own blocking connection.
    public var redisConfiguration: RedisConfiguration
    /// Key prefix, e.g. `sluice:`.
    public var redisPrefix: String
    public var deadLetters: DeadLetters
    public var amqp: AMQPConfiguration
    public var topology: TopologyConfiguration
    /// Nil when no catalog is loaded: schedules are then an empty list.
    public var scheduler: Scheduler?
    /// The catalog: the queries `GET /v1/cache` normalises params for, the import specs
    /// `POST /v1/imports` accepts. Nil: the cache route answers 404, the import route 400 (`spec`).
    public var catalog: Catalog?

    public init(producer: Producer, ledger: Ledger, results: ResultStore, redis: RedisPool, redisConfiguration: RedisConfiguration,
                redisPrefix: String, deadLetters: DeadLetters, amqp: AMQPConfiguration, topology: TopologyConfiguration,
                scheduler: Scheduler?, catalog: Catalog? = nil) {
        self.producer = producer
        self.ledger = ledger
        self.results = results
        self.redis = redis
        self.redisConfiguration = redisConfiguration
        self.redisPrefix = redisPrefix
        self.deadLetters = deadLetters
        self.amqp = amqp
        self.topology = topology
        self.scheduler = scheduler
        self.catalog = catalog
    }

    /// Uploads and rejects of the import class, in the home database beside the ledger.
    var imports: ImportStore { ImportStore(pool: ledger.pool, schema: ledger.schema) }
    /// Every Redis key name.
    var keys: RedisKeys { RedisKeys(prefix: redisPrefix) }
    /// The dashboard's reads from Redis (health reports, view freshness, alerts, events).
    var dashboard: DashboardStore { DashboardStore(redis: redis, keys: keys) }
    /// Depth and consumers of the class queues and the dead-letter queue.
    func queues(logger: Logger) -> QueueInspector { QueueInspector(amqp: amqp, topology: topology, logger: logger) }
}

extension APIBackend {
    /// The backend of a process assembled by `Runtime` (the `sluice api` command).
    public init(runtime: Runtime, scheduler: Scheduler?, catalog: Catalog?) {
        let c = runtime.configuration
        self.init(producer: runtime.producer, ledger: runtime.ledger, results: runtime.results, redis: runtime.redis,
                  redisConfiguration: c.redis, redisPrefix: c.redisPrefix,
                  deadLetters: DeadLetters(amqp: c.amqp, topology: c.topology, ledger: runtime.ledger, publisher: runtime.publisher,
                                           logger: runtime.logger),
                  amqp: c.amqp, topology: c.topology, scheduler: scheduler, catalog: catalog)
    }
}
