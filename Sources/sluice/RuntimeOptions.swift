// RuntimeOptions: the options every pipeline command shares (names of the ledger schema and
// the queue prefix), and RuntimeServices: the pools, ledger, publisher and result store built
// from Settings for one command run. Environment: SLUICE_SCHEMA (default `sluice`),
// SLUICE_QUEUE_PREFIX (`sluice`), SLUICE_QUEUE_TYPE (`classic` | `quorum`), SLUICE_REDIS_PREFIX,
// SLUICE_LEDGER_ASYNC_COMMIT (`1`: ledger commits without waiting for the WAL flush).

import ArgumentParser
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

struct RuntimeOptions: ParsableArguments {
    @Option(name: .customLong("schema"), help: "Ledger schema (env SLUICE_SCHEMA, default sluice).")
    var schema: String?
    @Option(name: .customLong("queue-prefix"), help: "Prefix of exchange and queue names (env SLUICE_QUEUE_PREFIX, default sluice).")
    var queuePrefix: String?
    @Option(name: .customLong("queue-type"), help: "classic or quorum (env SLUICE_QUEUE_TYPE, default classic).")
    var queueType: String?
    @Flag(help: "Print one JSON document.") var json = false

    func resolved() throws -> (schema: String, topology: TopologyConfiguration) {
        let env = ProcessInfo.processInfo.environment
        func pick(_ flag: String?, _ key: String, _ fallback: String) -> String {
            if let flag, !flag.isEmpty { return flag }
            if let v = env[key], !v.isEmpty { return v }
            return fallback
        }
        let schema = pick(schema, "SLUICE_SCHEMA", "sluice")
        let prefix = pick(queuePrefix, "SLUICE_QUEUE_PREFIX", "sluice")
        let typeText = pick(queueType, "SLUICE_QUEUE_TYPE", "classic")
        guard let type = TopologyConfiguration.QueueType(rawValue: typeText) else {
            throw ValidationError("--queue-type: '\(typeText)' is not classic or quorum")
        }
        guard SQLIdentifier(schema) != nil else { throw ValidationError("--schema: '\(schema)' is not a plain identifier") }
        return (schema, TopologyConfiguration(prefix: prefix, queueType: type))
    }
}

/// The clients one command needs; `close()` when done.
struct RuntimeServices {
    let settings: Settings
    let schema: String
    let topology: TopologyConfiguration
    let postgres: PostgresConfiguration
    let amqp: AMQPConfiguration
    let pool: PostgresPool
    let ledger: Ledger
    let redis: RedisPool
    let results: ResultStore
    let publisher: JobPublisher
    let registry: JobRegistry
    /// The catalog under SLUICE_CATALOG (nil when that folder does not exist: then only the
    /// built-in `sys.*` kinds are registered).
    let catalog: Catalog?
    let logger: Logger

    init(_ options: RuntimeOptions, label: String, ledgerConnections: Int = 4) throws {
        Sluice.bootstrapLogging()
        settings = Settings.fromEnvironment()
        (schema, topology) = try options.resolved()
        logger = Logger(label: label)
        do {
            postgres = try PostgresConfiguration(url: settings.postgresURL)
            amqp = try AMQPConfiguration(url: settings.amqpURL)
            let redisConfiguration = try RedisConfiguration(url: settings.redisURL)
            redis = RedisPool(connection: redisConfiguration, size: 4, logger: logger)
        } catch {
            throw CommandFailure(description: "bad server URL: \(error)")
        }
        var ledgerConnection = postgres
        ledgerConnection.applicationName = "sluice-ledger"
        // SLUICE_LEDGER_ASYNC_COMMIT=1: ledger commits do not wait for the WAL flush. A Postgres
        // crash may then forget the last few hundred ms of ledger writes; delivery stays
        // at-least-once (a lost insert is re-created by the claim, a lost finish is rescued and
        // the job runs again), and the hot path loses one fsync per statement.
        if ProcessInfo.processInfo.environment["SLUICE_LEDGER_ASYNC_COMMIT"] == "1" {
            ledgerConnection.settings["synchronous_commit"] = "off"
        }
        pool = PostgresPool(configuration: .init(connection: ledgerConnection, maxConnections: ledgerConnections), logger: logger)
        ledger = Ledger(pool: pool, schema: schema, logger: logger)
        results = ResultStore(redis: redis, configuration: .init(prefix: settings.redisPrefix), logger: logger)
        publisher = JobPublisher(configuration: amqp, topology: topology, logger: logger)
        catalog = try Self.loadCatalog(settings.catalogPath, logger: logger)
        registry = catalog.map { JobRegistry.withDatabaseKinds(catalog: $0) } ?? .builtIn
    }

    /// Loads and checks the catalog. An invalid catalog is an error naming every problem with its
    /// file and line: no command (a worker least of all) runs on one. A missing folder is not an
    /// error (the built-in kinds still work), but it is logged.
    static func loadCatalog(_ path: String, logger: Logger) throws -> Catalog? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            logger.warning("no catalog folder: only the built-in sys.* kinds are available", metadata: ["catalog.path": .string(path)])
            return nil
        }
        let check = CatalogLoader.check(directory: path)
        guard check.isValid else {
            let lines = check.problems.map { "  \($0)" }.joined(separator: "\n")
            throw CommandFailure(description: "catalog \(path) is invalid (\(check.problems.count) problems; see `sluice catalog check`):\n\(lines)")
        }
        return check.catalog
    }

    var producer: Producer {
        Producer(registry: registry, ledger: ledger, publisher: publisher, results: results, logger: logger)
    }

    func close() async {
        await publisher.close()
        await redis.close()
        await pool.close()
    }
}

/// Parses `30s`, `250ms`, `5m`, `2h`, `1d` for an option named `name`.
func parseDuration(_ text: String, option name: String) throws -> Duration {
    guard let d = DurationSyntax.parse(text) else {
        throw ValidationError("--\(name): '\(text)' is not \(DurationSyntax.expectedForm)")
    }
    return d
}

/// Prints a JSONValue as one pretty-enough document.
func printJSON(_ value: JSONValue) {
    print(value.jsonString)
}
