// MaintenanceScratchDatabase: a private database per test for the maintenance and refresh job
// tests: created from a connection to the shared `sluice` database, loaded with
// jobs/demo/schema.sql and a few hundred rows of plain SQL, dropped WITH (FORCE) at the end.
// Also: the demo catalog, a pool that cannot connect (to prove no SQL was sent), a progress
// collector, and helpers to wait for a server-side condition.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCatalogLoader
import SluiceJobs
import Synchronization
import Testing
import TestSupport

struct ScratchDatabase {
    let name: String
    let configuration: PostgresConfiguration
    let pool: PostgresPool
    let logger: Logger

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func adminConfiguration() throws -> PostgresConfiguration {
        try PostgresConfiguration(url: TestEnvironment.postgresURL)
    }

    /// Creates the database, applies the demo schema and, unless `seed` is false, the demo rows.
    /// `settings` are session settings of the job pool (e.g. vacuum_cost_delay).
    static func create(_ prefix: String, seed: Bool = true, settings: [String: String] = [:]) async throws -> ScratchDatabase {
        var logger = Logger(label: "test.\(prefix)")
        logger.logLevel = .warning
        let name = TestEnvironment.uniqueName(prefix)
        let admin = try await PostgresConnection.connect(try adminConfiguration(), logger: logger)
        try await admin.simpleQuery("CREATE DATABASE \(name)")
        await admin.close()
        var configuration = try adminConfiguration()
        configuration.database = name
        configuration.settings = settings
        let pool = PostgresPool(configuration: .init(connection: configuration, maxConnections: 4), logger: logger)
        let db = ScratchDatabase(name: name, configuration: configuration, pool: pool, logger: logger)
        do {
            let schema = try String(contentsOf: repositoryRoot.appendingPathComponent("jobs/demo/schema.sql"), encoding: .utf8)
            try await db.run(schema)
            if seed { try await db.run(seedSQL) }
        } catch {
            await db.drop()
            throw error
        }
        return db
    }

    /// Three workspaces, 300 leads, 15 campaigns, 600 sends and 600 events over the last 10 months.
    static let seedSQL = """
        INSERT INTO demo.workspaces (name, slug) SELECT 'Workspace ' || i, 'ws' || i FROM generate_series(1, 3) i;
        INSERT INTO demo.leads (workspace_id, email, status)
            SELECT w.id, 'lead' || i || '@' || w.slug || '.test', (ARRAY['active','verified','bounced'])[1 + i % 3]
            FROM demo.workspaces w, generate_series(1, 100) i;
        INSERT INTO demo.campaigns (workspace_id, name, from_email, status, total_recipients)
            SELECT w.id, 'Campaign ' || i, 'news@' || w.slug || '.test', 'sent', 100 FROM demo.workspaces w, generate_series(1, 5) i;
        INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, created_at)
            SELECT c.workspace_id, c.id, l.id, (ARRAY['sent','delivered','bounced','delivered'])[1 + (row_number() OVER ()) % 4],
                   now() - ((row_number() OVER ()) % 300) * interval '1 day'
            FROM demo.campaigns c JOIN LATERAL (SELECT id FROM demo.leads l WHERE l.workspace_id = c.workspace_id LIMIT 40) l ON true;
        INSERT INTO demo.email_events (workspace_id, campaign_id, lead_id, event_type, created_at)
            SELECT workspace_id, campaign_id, lead_id, (ARRAY['delivered','opened','clicked','replied'])[1 + (row_number() OVER ()) % 4],
                   created_at + interval '1 hour'
            FROM demo.email_sends;
        """

    /// Runs a script on a short-lived connection of its own.
    func run(_ sql: String) async throws {
        let c = try await connect()
        do { try await c.simpleQuery(sql) } catch {
            await c.close()
            throw error
        }
        await c.close()
    }

    /// One value from a query on a short-lived connection.
    func value<T: PostgresDecodable>(_ sql: String, _ binds: [PostgresValue] = [], as: T.Type = T.self) async throws -> T {
        let c = try await connect()
        defer { Task { await c.close() } }
        return try await c.query(sql, binds)[0].decode(0, as: T.self)
    }

    /// A separate session (a blocker, a reader).
    func connect(_ applicationName: String = "test") async throws -> PostgresConnection {
        var c = configuration
        c.applicationName = applicationName
        c.settings = [:]
        return try await PostgresConnection.connect(c, logger: logger)
    }

    func drop() async {
        await pool.close()
        do {
            let admin = try await PostgresConnection.connect(try Self.adminConfiguration(), logger: logger)
            try await admin.simpleQuery("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            await admin.close()
        } catch {
            Issue.record("could not drop scratch database \(name): \(error)")
        }
    }

    /// Runs `body` with a fresh scratch database, dropping it afterwards whatever happens.
    static func with<T>(
        _ prefix: String, seed: Bool = true, settings: [String: String] = [:], _ body: (ScratchDatabase) async throws -> T
    ) async throws -> T {
        let db = try await create(prefix, seed: seed, settings: settings)
        do {
            let value = try await body(db)
            await db.drop()
            return value
        } catch {
            await db.drop()
            throw error
        }
    }

    /// Polls `sql` (returning one boolean) until true; fails the test after `timeout`.
    func waitUntil(_ sql: String, timeout: Duration = .seconds(20), _ what: String) async throws {
        let c = try await connect("test waiter")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await c.query(sql)[0].decode(0, as: Bool.self) {
                await c.close()
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        await c.close()
        throw WaitTimeout(what: what)
    }

    struct WaitTimeout: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out waiting for \(what)" }
    }
}

enum TestCatalog {
    /// The repository's catalog (jobs/), with the maintenance and refresh lock timeouts set to
    /// `lockTimeout` so failure tests stay short.
    static func demo(lockTimeout: Duration = .seconds(1)) throws -> Catalog {
        var catalog = try CatalogLoader.load(directory: ScratchDatabase.repositoryRoot.appendingPathComponent("jobs").path)
        for c in [WorkloadClassName.maintenance, .refresh] {
            var s = catalog.settings(for: c)
            s.lockTimeout = lockTimeout
            catalog.classes[c] = s
        }
        return catalog
    }

    /// A pool whose every connection attempt fails: a job given it proves it sent no SQL by
    /// failing with something other than a connection error.
    static func deadPool() -> PostgresPool {
        let config = PostgresConfiguration(host: "127.0.0.1", port: 1, database: "none", user: "none", connectTimeout: .seconds(1))
        return PostgresPool(configuration: .init(connection: config, acquireTimeout: .seconds(1)), logger: Logger(label: "dead"))
    }

    static func name(_ text: String) -> QualifiedName { try! QualifiedName(parsing: text) }
    static let here = SluiceCatalog.SourceLocation(file: "test", line: 1)
}

import SluiceCore
import SluiceRuntime
typealias WorkloadClassName = WorkloadClass

/// Collects progress reports from a job.
final class ProgressLog: Sendable {
    private let entries = Mutex<[[String: String]]>([])
    var reporter: ProgressReporter { { [self] values in entries.withLock { $0.append(values) } } }
    var all: [[String: String]] { entries.withLock { $0 } }
    var count: Int { entries.withLock { $0.count } }
}

/// Expects `body` to throw a JobError and returns it.
func expectJobError(_ body: () async throws -> Void, sourceLocation: SourceLocation_ = #_sourceLocation) async -> JobError? {
    do {
        try await body()
        Issue.record("expected a JobError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let e as JobError {
        return e
    } catch {
        Issue.record("expected a JobError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
typealias SourceLocation_ = Testing.SourceLocation

/// Seconds in a Duration.
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
