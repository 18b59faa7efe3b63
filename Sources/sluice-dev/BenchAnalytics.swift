// `sluice bench segment` (and what the analytics benches share: percentiles, clean-up of a
// private runtime): the analytics class's figures over the demo loaded in SLUICE_POSTGRES_URL
// (`sluice demo load`; the issue's segment target is measured with 2M leads in 20 workspaces).
// Prints figures, never fails on them. `bench cache` is BenchCache.swift, `bench query`
// BenchQuery.swift.
//
// segment: count + first page (50) of a mix of rule sets (one field, tags, custom fields, dates,
// nested AND/OR of four conditions, the lookup field alone, negated and nested, and every field
// type the demo declares in one AND and one OR) per workspace, through the same compiled SQL as the job, on a
// pool with the analytics class's settings; p50/p95 per rule set and overall (target p95 < 300 ms).

import ArgumentParser
import SluiceCLI
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
import Synchronization

enum BenchSupport {
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    static func catalog(_ settings: Settings) throws -> Catalog {
        do { return try CatalogLoader.load(directory: settings.catalogPath) } catch {
            throw CommandFailure(description: "the catalog in \(settings.catalogPath) does not load:\n\(error)")
        }
    }

    /// What a bench of one demo query starts from: a quiet logger, the catalog, the query and
    /// a pool on `main` with the analytics class's settings (close it when done).
    static func demoQuery(_ settings: Settings, named name: String, logger label: String) throws
        -> (logger: Logger, catalog: Catalog, query: CatalogQuery, pool: PostgresPool) {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        let catalog = try catalog(settings)
        guard let query = catalog.query(named: name) else {
            throw CommandFailure(description: "the catalog declares no query \(name) (jobs/demo/analytics.yaml)")
        }
        let postgres = try PostgresConfiguration(url: settings.postgresURL)
        let pool = PostgresPool(configuration: TargetPools.poolConfiguration(postgres, settings: catalog.settings(for: .analytics), target: "main"),
                                logger: logger)
        return (logger, catalog, query, pool)
    }

    static func workspaces(_ pool: PostgresPool, limit: Int) async throws -> [UUID] {
        try await pool.withConnection { c in
            guard try await c.query("SELECT to_regclass('demo.leads') IS NOT NULL")[0].decode(0, as: Bool.self) else {
                throw CommandFailure(description: "no demo here: run `sluice demo schema` and `sluice demo load` first")
            }
            return try await c.query("SELECT id FROM demo.workspaces ORDER BY slug LIMIT $1", [.int(limit)]).map { try $0.decode(0, as: UUID.self) }
        }
    }
}

struct BenchSegment: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment", abstract: "Segment count + first page over the demo: p50/p95 for a mix of rule sets.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Rounds over every workspace and rule set.") var rounds = 3
    @Option(help: "Workspaces to segment (the first N by slug).") var workspaces = 20

    static let ruleSets: [(String, JSONValue)] = [
        ("single_field", [["field": "email", "operator": "ends_with", "value": "@gmail.com"]]),
        ("tags", [["field": "tags", "operator": "contains", "value": ["vip"]]]),
        ("custom_fields", [["field": "custom_fields.industry", "operator": "equals", "value": "saas"]]),
        ("dates", [["field": "created_at", "operator": "between", "value": ["2026-01-01", "2026-07-01"]]]),
        ("contains", [["field": "company", "operator": "contains", "value": "tech"]]),
        ("nested_and_or_4", ["operator": "or", "rules": [
            ["operator": "and", "rules": [
                ["field": "status", "operator": "in", "value": ["active", "verified"]],
                ["field": "tags", "operator": "contains", "value": "customer"]]],
            ["operator": "and", "rules": [
                ["field": "custom_fields.country", "operator": "equals", "value": "US"],
                ["not": ["field": "source", "operator": "equals", "value": "import"]]]]]]),
        // Issue 18: the lookup field (engagement_level, from lead_engagement_scores), alone, negated,
        // nested in AND/OR, and one rule set using every field type the demo declares.
        ("lookup", [["field": "engagement_level", "operator": "equals", "value": "hot"]]),
        ("lookup_not_in", ["not": ["field": "engagement_level", "operator": "in", "value": ["cold"]]]),
        ("lookup_nested", ["operator": "or", "rules": [
            ["operator": "and", "rules": [
                ["field": "engagement_level", "operator": "in", "value": ["hot", "warm"]],
                ["field": "status", "operator": "in", "value": ["active", "verified"]]]],
            ["operator": "and", "rules": [
                ["field": "tags", "operator": "contains", "value": ["vip"]],
                ["field": "engagement_level", "operator": "not_equals", "value": "cold"]]]]]),
        ("every_field_type", ["operator": "and", "rules": [
            ["field": "email", "operator": "contains", "value": "a"],
            ["field": "company", "operator": "equals", "value": "Acme"],
            ["field": "source", "operator": "not_equals", "value": "import"],
            ["field": "status", "operator": "in", "value": ["active", "verified"]],
            ["field": "tags", "operator": "not_contains", "value": ["churned"]],
            ["field": "created_at", "operator": "after", "value": "2025-01-01"],
            ["field": "custom_fields.country", "operator": "equals", "value": "US"],
            ["field": "engagement_level", "operator": "in", "value": ["hot", "warm"]]]]),
        ("every_field_type_or", ["operator": "or", "rules": [
            ["field": "email", "operator": "ends_with", "value": "@example.org"],
            ["field": "company", "operator": "contains", "value": "labs"],
            ["field": "source", "operator": "equals", "value": "webinar"],
            ["field": "tags", "operator": "contains", "value": ["vip"]],
            ["field": "created_at", "operator": "before", "value": "2025-02-01"],
            ["field": "custom_fields.industry", "operator": "contains", "value": "fin"],
            ["field": "engagement_level", "operator": "equals", "value": "hot"]]]),
    ]

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.bench.segment")
        let catalog = try BenchSupport.catalog(settings)
        guard let source = catalog.segments else { throw CommandFailure(description: "the catalog declares no segments") }
        let analytics = catalog.settings(for: .analytics)
        let pool = PostgresPool(configuration: TargetPools.poolConfiguration(
            try PostgresConfiguration(url: settings.postgresURL), settings: analytics, target: "main"), logger: logger)
        defer { Task { await pool.close() } }
        let ws = try await BenchSupport.workspaces(pool, limit: workspaces)
        let leads = try await pool.withConnection { c in
            try await c.query("SELECT count(*) FROM demo.leads")[0].decode(0, as: Int.self)
        }
        var perSet: [String: [Double]] = [:]
        var all: [Double] = []
        var members: [String: Int] = [:]
        for _ in 0..<max(1, rounds) {
            for (name, rules) in Self.ruleSets {
                let rule = try SegmentRules.parse(rules, source: source)
                for w in ws {
                    let q = SegmentQuery(rule: rule, workspaceID: w, source: source)
                    let start = ContinuousClock.now
                    let n = try await pool.withConnection { c in
                        // What the job sends when the count is not cached: count and page in one statement.
                        try await q.query(q.countAndPageSQL, q.binds + [.int(50), .int(0)], on: c)[0].decode(source.columns.count, as: Int.self)
                    }
                    let ms = BenchSupport.ms(ContinuousClock.now - start)
                    perSet[name, default: []].append(ms)
                    all.append(ms)
                    members[name, default: 0] = max(members[name, default: 0], n)
                }
            }
        }
        all.sort()
        var sets: [String: JSONValue] = [:]
        for (name, values) in perSet {
            let s = values.sorted()
            sets[name] = ["p50_ms": .double(BenchSupport.round3(BenchSupport.percentile(s, 0.5))),
                          "p95_ms": .double(BenchSupport.round3(BenchSupport.percentile(s, 0.95))),
                          "largest_count": .int(Int64(members[name] ?? 0))]
        }
        let p50 = BenchSupport.percentile(all, 0.5), p95 = BenchSupport.percentile(all, 0.95)
        if json {
            printJSON(["leads": .int(Int64(leads)), "workspaces": .int(Int64(ws.count)), "runs": .int(Int64(all.count)),
                       "p50_ms": .double(BenchSupport.round3(p50)), "p95_ms": .double(BenchSupport.round3(p95)),
                       "target_p95_ms": 300, "rule_sets": .object(sets)])
            return
        }
        print("segments over \(leads) leads, \(ws.count) workspaces, \(all.count) runs (count + first page of 50)")
        for (name, _) in Self.ruleSets {
            let s = sets[name]!
            print("  \(name.padding(toLength: 20, withPad: " ", startingAt: 0)) p50 \(s["p50_ms"]!.jsonString) ms  p95 \(s["p95_ms"]!.jsonString) ms  (largest count \(s["largest_count"]!.jsonString))")
        }
        print("overall p50 \(BenchSupport.round3(p50)) ms, p95 \(BenchSupport.round3(p95)) ms (target p95 < 300 ms)")
    }
}

extension BenchSupport {
    /// Drops the private ledger schema, queues and Redis keys of an in-process bench runtime
    /// (after `runtime.run` closed the runtime's own clients).
    static func cleanUp(_ configuration: RuntimeConfiguration, names: String, logger: Logger) async {
        if let c = try? await PostgresConnection.connect(configuration.postgres, logger: logger) {
            _ = try? await c.simpleQuery("DROP SCHEMA IF EXISTS \(names) CASCADE")
            await c.close()
        }
        if let connection = try? await AMQPConnection.connect(configuration: configuration.amqp, logger: logger),
           let channel = try? await connection.openChannel() {
            await Topology.delete(on: channel, configuration.topology)
            await connection.close()
        }
        let redis = RedisPool(connection: configuration.redis, size: 1)
        if let keys = try? await redis.send(["KEYS", RedisArgument(names + ":*")]).array {
            for k in keys { _ = try? await redis.send(["DEL", RedisArgument(k.string ?? "")]) }
        }
        await redis.close()
    }
}

func requireBench<T>(_ value: T?, _ message: String) throws -> T {
    guard let value else { throw CommandFailure(description: message) }
    return value
}
