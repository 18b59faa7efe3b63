// RuntimeOptions: the options every pipeline command shares (names of the ledger schema and
// the queue prefix), and RuntimeServices: the runtime (pools, ledger, publisher, result store)
// built from Settings for one command run, and `assemble`, which makes it a process of roles
// (SluiceRuntime's `AssembledProcess`) for the long-running commands. Environment: SLUICE_SCHEMA (default `sluice`),
// SLUICE_QUEUE_PREFIX (`sluice`), SLUICE_QUEUE_TYPE (`classic` | `quorum`; default `quorum` when
// SLUICE_AMQP_URL lists 3 or more nodes, `classic` otherwise), SLUICE_REDIS_PREFIX,
// SLUICE_LEDGER_ASYNC_COMMIT (`1`: ledger commits without waiting for the WAL flush).

import ArgumentParser
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCatalogLoader
import SluiceCore
import SluiceJobs
import SluiceRuntime

package struct RuntimeOptions: ParsableArguments {
    @Option(name: .customLong("schema"), help: "Ledger schema (env SLUICE_SCHEMA, default sluice).")
    package var schema: String?
    @Option(name: .customLong("queue-prefix"), help: "Prefix of exchange and queue names (env SLUICE_QUEUE_PREFIX, default sluice).")
    package var queuePrefix: String?
    @Option(name: .customLong("queue-type"), help: "classic or quorum (env SLUICE_QUEUE_TYPE; default quorum for a cluster URL of 3+ nodes, else classic).")
    package var queueType: String?
    @Flag(help: "Print one JSON document.") package var json = false

    package init() {}

    package func resolved() throws -> (schema: String, topology: TopologyConfiguration) {
        let settings = Settings.fromEnvironment()
        func pick(_ flag: String?, _ variable: String?, _ fallback: String) -> String {
            if let flag, !flag.isEmpty { return flag }
            return variable ?? fallback
        }
        let schema = pick(schema, settings.schema, "sluice")
        let prefix = pick(queuePrefix, settings.queuePrefix, "sluice")
        let type = try Self.queueType(queueType, settings: settings)
        guard SQLIdentifier(schema) != nil else { throw ValidationError("--schema: '\(schema)' is not a plain identifier") }
        return (schema, TopologyConfiguration(prefix: prefix, queueType: type))
    }

    /// The queue type a process declares: the flag, else SLUICE_QUEUE_TYPE, else quorum on a
    /// cluster of three or more nodes (several hosts in the AMQP URL) and classic otherwise. Every
    /// process that declares queues (commands, and the benches that start `sluice worker`s beside
    /// their own producer) resolves it here, so they never declare one queue two ways.
    package static func queueType(_ flag: String?, settings: Settings) throws -> TopologyConfiguration.QueueType {
        let nodes = (try? AMQPConfiguration(url: settings.amqpURL))?.nodes.count ?? 1
        let text = flag.flatMap { $0.isEmpty ? nil : $0 } ?? settings.queueType ?? (nodes >= 3 ? "quorum" : "classic")
        guard let type = TopologyConfiguration.QueueType(rawValue: text) else {
            throw ValidationError("--queue-type: '\(text)' is not classic or quorum")
        }
        return type
    }
}

/// The runtime one command needs, assembled by the library (`Runtime`) from the environment's
/// settings and the catalog; `close()` when done, or `assemble(roles).run()` for long-running
/// commands.
package struct RuntimeServices {
    package let settings: Settings
    package let runtime: Runtime
    /// The catalog under SLUICE_CATALOG (nil when that folder does not exist: then only the
    /// built-in `sys.*` kinds and the `main` target are available).
    package let catalog: Catalog?

    package var schema: String { runtime.configuration.schema }
    package var topology: TopologyConfiguration { runtime.configuration.topology }
    package var postgres: PostgresConfiguration { runtime.configuration.postgres }
    package var amqp: AMQPConfiguration { runtime.configuration.amqp }
    package var pool: PostgresPool { runtime.pool }
    package var ledger: Ledger { runtime.ledger }
    package var redis: RedisPool { runtime.redis }
    package var results: ResultStore { runtime.results }
    package var publisher: JobPublisher { runtime.publisher }
    package var registry: JobRegistry { runtime.registry }
    package var logger: Logger { runtime.logger }
    package var producer: Producer { runtime.producer }

    package init(_ options: RuntimeOptions, label: String, ledgerConnections: Int = 4, catalogPath: String? = nil) throws {
        SluiceLogging.bootstrap()
        settings = Settings.fromEnvironment()
        let (schema, topology) = try options.resolved()
        let logger = Logger(label: label)
        var configuration: RuntimeConfiguration
        do {
            configuration = RuntimeConfiguration(
                postgres: try PostgresConfiguration(url: settings.postgresURL), amqp: try AMQPConfiguration(url: settings.amqpURL),
                redis: try RedisConfiguration(url: settings.redisURL), schema: schema, topology: topology,
                redisPrefix: settings.redisPrefix, ledgerConnections: ledgerConnections,
                ledgerAsyncCommit: settings.ledgerAsyncCommit)
        } catch {
            throw CommandFailure(description: "bad server URL: \(error)")
        }
        if let keys = settings.signingKeys {
            do {
                configuration.signer = try EnvelopeSigner(parsing: keys)
            } catch {
                throw CommandFailure(description: "SLUICE_SIGNING_KEYS: \(error)")
            }
        } else if settings.requireSigned {
            throw CommandFailure(description: "SLUICE_REQUIRE_SIGNED=1 needs SLUICE_SIGNING_KEYS (the keys signatures are checked against)")
        }
        if let text = settings.packJobs {
            guard let n = Int(text), (0...10_000).contains(n) else {
                throw CommandFailure(description: "SLUICE_PACK_JOBS: expected a whole number of jobs per message, 0-10000 (0: one message per job), not '\(text.prefix(20))'")
            }
            configuration.packJobs = n
        }
        if let text = settings.statusTTL {
            guard let ttl = DurationSyntax.parse(text), ttl >= .seconds(1) else {
                throw CommandFailure(description: "SLUICE_STATUS_TTL: expected a duration of at least 1s (\(DurationSyntax.expectedForm)), not '\(text.prefix(20))'")
            }
            configuration.statusTTL = ttl
        }
        catalog = try Self.loadCatalog(catalogPath ?? settings.catalogPath, logger: logger)
        runtime = Runtime(configuration: configuration, registry: JobRegistry.standard(
            catalog: catalog ?? Catalog(), importDirectory: settings.importDirectory),
            logger: logger)
    }

    /// How a worker reaches every target of the catalog (just `main` without one).
    package var targets: [String: TargetPools.Connection] {
        TargetResolution.connections(catalog ?? Catalog(), settings: settings)
    }

    /// Loads and checks the catalog. An invalid catalog is an error naming every problem with its
    /// file and line: no command (a worker least of all) runs on one. A missing folder is not an
    /// error (the built-in kinds still work), but it is logged.
    package static func loadCatalog(_ path: String, logger: Logger) throws -> Catalog? {
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

    /// The process of `roles` on this runtime (the composition root every long-running command
    /// goes through). A role that cannot be built stops the command, naming the role.
    package func assemble(_ roles: ProcessRoles) throws -> AssembledProcess {
        do {
            return try AssembledProcess(runtime: runtime, roles: roles)
        } catch {
            throw CommandFailure(description: error.description)
        }
    }

    package func close() async {
        await runtime.close()
    }
}

/// Parses `30s`, `250ms`, `5m`, `2h`, `1d` for an option named `name`.
package func parseDuration(_ text: String, option name: String) throws -> Duration {
    guard let d = DurationSyntax.parse(text) else {
        throw ValidationError("--\(name): '\(text)' is not \(DurationSyntax.expectedForm)")
    }
    return d
}

/// Prints a JSONValue as one pretty-enough document.
package func printJSON(_ value: JSONValue) {
    print(value.jsonString)
}
