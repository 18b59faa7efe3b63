// `sluice bench segment` and `sluice bench cache`: the analytics class's figures over the demo
// loaded in SLUICE_POSTGRES_URL (`sluice demo load`; the issue's segment target is measured with
// 2M leads in 20 workspaces). Prints figures, never fails on them.
//
// segment: count + first page (50) of a mix of rule sets (one field, tags, custom fields, dates,
// nested AND/OR of four conditions, the lookup field alone, negated and nested, and every field
// type the demo declares in one AND and one OR) per workspace, through the same compiled SQL as the job, on a
// pool with the analytics class's settings; p50/p95 per rule set and overall (target p95 < 300 ms).
// cache: a reader GETs one cached output in a loop while a writer refreshes it continuously with
// the real query (read p50/p99, misses, torn reads); then 100 concurrent readers of an expired
// output through the real pipeline (an in-process worker on private queues): computations.

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
                        let n = try await c.query(q.countSQL, q.binds)[0].decode(0, as: Int.self)
                        _ = try await c.query(q.pageSQL, q.binds + [.int(50), .int(0)])
                        return n
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

struct BenchCache: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Read one cached output in a loop while it is refreshed; then 100 readers of an expired output.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Seconds of reading while refreshing.") var seconds = 5
    @Option(help: "Concurrent readers of the expired output.") var readers = 100

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger: Logger = {
            var l = Logger(label: "sluice.bench.cache")
            l.logLevel = .warning
            return l
        }()
        let catalog = try BenchSupport.catalog(settings)
        guard let query = catalog.query(named: "workspace_campaigns") else {
            throw CommandFailure(description: "the catalog declares no query workspace_campaigns (jobs/demo/analytics.yaml)")
        }
        let postgres = try PostgresConfiguration(url: settings.postgresURL)
        let pool = PostgresPool(configuration: TargetPools.poolConfiguration(postgres, settings: catalog.settings(for: .analytics), target: "main"),
                                logger: logger)
        defer { Task { await pool.close() } }
        let ws = try requireBench(try await BenchSupport.workspaces(pool, limit: 1).first, "no workspace in the demo")
        let names = "bench_cache_\(ProcessInfo.processInfo.processIdentifier)"
        let redisConfiguration = try RedisConfiguration(url: settings.redisURL)
        let redis = RedisPool(connection: redisConfiguration, size: 2)
        defer { Task { await redis.close() } }
        let cache = QueryCache(redis: redis, prefix: names + ":")
        let params = try QueryParameters.normalise(["workspace_id": .string(ws.uuidString)], for: query)
        let key = cache.key(query: query.name.rawValue, params: params)

        // 1. Reads while refreshing.
        _ = try await QueryRefresh.run(query: query, params: params, pool: pool, cache: cache, jobID: "bench", ifVersion: nil, logger: logger)
        let stop = Atomic<Bool>(false)
        async let refreshes: Int = {
            var n = 0
            while !stop.load(ordering: .relaxed) {
                _ = try await QueryRefresh.run(query: query, params: params, pool: pool, cache: cache, jobID: "bench-\(n)",
                                               ifVersion: nil, logger: logger)
                n += 1
            }
            return n
        }()
        var latencies: [Double] = []
        var misses = 0, torn = 0
        let deadline = ContinuousClock.now + .seconds(seconds)
        let reader = RedisPool(connection: redisConfiguration, size: 1)
        while ContinuousClock.now < deadline {
            let start = ContinuousClock.now
            let reply = try await reader.send(["GET", RedisArgument(key)])
            guard let bytes = reply.bytes else { misses += 1; continue }
            let parsed = try? JSONValue.parse(bytes)
            latencies.append(BenchSupport.ms(ContinuousClock.now - start))
            guard let parsed, let out = CachedOutput(json: parsed), case .array(let rows) = out.rows, rows.count == out.rowCount else {
                torn += 1
                continue
            }
        }
        stop.store(true, ordering: .relaxed)
        let refreshCount = try await refreshes
        await reader.close()
        latencies.sort()

        // 2. Readers of an expired output, through the real pipeline.
        let stampede = try await self.stampede(settings: settings, catalog: catalog, query: query, ws: ws, names: names, logger: logger)
        _ = try? await redis.send(["DEL", RedisArgument(key), RedisArgument(key + ":version")])

        let p50 = BenchSupport.round3(BenchSupport.percentile(latencies, 0.5)), p99 = BenchSupport.round3(BenchSupport.percentile(latencies, 0.99))
        if json {
            printJSON(["reads": .int(Int64(latencies.count)), "read_p50_ms": .double(p50), "read_p99_ms": .double(p99),
                       "misses": .int(Int64(misses)), "torn": .int(Int64(torn)), "refreshes": .int(Int64(refreshCount)),
                       "readers": .int(Int64(readers)), "jobs": .int(Int64(stampede.jobs)), "computations": .int(Int64(stampede.computed)),
                       "stale_reads": .int(Int64(stampede.staleServed))])
            return
        }
        print("reads while refreshing (\(seconds) s): \(latencies.count) reads (GET + JSON parse), p50 \(p50) ms, p99 \(p99) ms; \(misses) misses, \(torn) torn; \(refreshCount) refreshes meanwhile")
        print("\(readers) readers of an expired output: \(stampede.staleServed) got the stale output at once, \(stampede.jobs) job(s) enqueued, \(stampede.computed) computation(s)")
    }

    func stampede(settings: Settings, catalog: Catalog, query: CatalogQuery, ws: UUID, names: String, logger: Logger)
        async throws -> (jobs: Int, computed: Int, staleServed: Int)
    {
        let configuration = RuntimeConfiguration(
            postgres: try PostgresConfiguration(url: settings.postgresURL), amqp: try AMQPConfiguration(url: settings.amqpURL),
            redis: try RedisConfiguration(url: settings.redisURL), schema: names, topology: TopologyConfiguration(prefix: names),
            redisPrefix: names + ":")
        let runtime = Runtime(configuration: configuration, registry: .standard(catalog: catalog), logger: logger)
        var analytics = catalog.settings(for: .analytics)
        analytics.concurrency = 8
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: WorkerConfiguration(
            classes: [analytics], postgres: configuration.postgres, amqp: configuration.amqp, name: names, shutdownGrace: .seconds(5))))
        try await process.prepare()
        let worker = process.worker!
        let cache = QueryCache(redis: runtime.redis, prefix: names + ":")
        let reader = CacheReader(cache: cache, catalog: catalog)
        let producer = runtime.producer
        let enqueue: @Sendable (JobRequest) async throws -> EnqueueResult = { try await producer.enqueue($0) }
        let params: [String: JSONValue] = ["workspace_id": .string(ws.uuidString)]
        let result: (Int, Int, Int) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await process.run(signals: []) }
            defer { worker.stop() }
            // A first output, then expired.
            let first = try await reader.read(name: query.name.rawValue, params: params, enqueue: enqueue)
            if let r = first.refresh { _ = try await wait(runtime, r.id) }
            guard var output = try await cache.read(key: first.key) else { throw CommandFailure(description: "the first refresh wrote nothing") }
            output.staleAfter = Date().addingTimeInterval(-1)
            output.version += 1
            try await cache.write(output, key: first.key, ttl: .seconds(600))
            let reads = try await withThrowingTaskGroup(of: CacheReader.Read.self) { g in
                for _ in 0..<readers { g.addTask { try await reader.read(name: query.name.rawValue, params: params, enqueue: enqueue) } }
                return try await g.reduce(into: []) { $0.append($1) }
            }
            let ids = Set(reads.compactMap { $0.refresh?.id })
            var computed = 0
            for id in ids where try await wait(runtime, id)?.result?["outcome"] == "computed" { computed += 1 }
            worker.stop()
            try await group.waitForAll()
            return (ids.count, computed, reads.filter { $0.output != nil }.count)
        }
        await BenchSupport.cleanUp(configuration, names: names, logger: logger)
        return result
    }

    func wait(_ runtime: Runtime, _ id: JobID) async throws -> LedgerJob? {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let job = try await runtime.ledger.job(id), job.state.isFinal { return job }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
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

/// `sluice bench query`: analytics.query end to end (enqueue → worker → query → Redis → completed
/// in the ledger) in jobs/s, next to the same queries and Redis writes run directly on two
/// connections without Sluice. The query is the demo's `lead_growth` (an aggregate over
/// demo.leads through the (workspace_id, created_at) index), its params varied so no two jobs
/// share a cache key.
struct BenchQuery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "analytics.query jobs/s end to end, next to the same work done directly.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Jobs (and direct runs).") var jobs = 1000

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger: Logger = {
            var l = Logger(label: "sluice.bench.query")
            l.logLevel = .warning
            return l
        }()
        let catalog = try BenchSupport.catalog(settings)
        guard let query = catalog.query(named: "lead_growth") else {
            throw CommandFailure(description: "the catalog declares no query lead_growth (jobs/demo/analytics.yaml)")
        }
        let postgres = try PostgresConfiguration(url: settings.postgresURL)
        let analytics = catalog.settings(for: .analytics)
        let pool = PostgresPool(configuration: TargetPools.poolConfiguration(postgres, settings: analytics, target: "main"), logger: logger)
        defer { Task { await pool.close() } }
        let ws = try await BenchSupport.workspaces(pool, limit: 50)
        guard !ws.isEmpty else { throw CommandFailure(description: "no workspace in the demo") }
        let leads = try await pool.withConnection { c in try await c.query("SELECT count(*) FROM demo.leads")[0].decode(0, as: Int.self) }
        let names = "bench_query_\(ProcessInfo.processInfo.processIdentifier)"
        func params(_ i: Int) -> [String: JSONValue] {
            ["workspace_id": .string(ws[i % ws.count].uuidString.lowercased()), "months": .int(Int64(1 + (i / ws.count) % 24))]
        }

        // Direct: two connections, each runs its share: query, rows as JSON, SET in Redis.
        let redis = RedisPool(connection: try RedisConfiguration(url: settings.redisURL), size: 2)
        defer { Task { await redis.close() } }
        let direct = PostgresPool(configuration: .init(connection: postgres, maxConnections: 2), logger: logger)
        defer { Task { await direct.close() } }
        let directStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<2 {
                group.addTask {
                    try await direct.withConnection { c in
                        var i = lane
                        while i < jobs {
                            let normalised = try QueryParameters.normalise(params(i), for: query)
                            let (rows, _) = try await QueryRefresh.execute(query, params: normalised, on: c)
                            _ = try await redis.send(["SET", RedisArgument("\(names):direct:\(i)"), RedisArgument(rows.encoded()), "EX", 60])
                            i += 2
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let directSeconds = BenchSupport.ms(ContinuousClock.now - directStart) / 1000
        if let keys = try? await redis.send(["KEYS", RedisArgument("\(names):direct:*")]).array {
            for k in keys { _ = try? await redis.send(["DEL", RedisArgument(k.string ?? "")]) }
        }

        // Sluice: an in-process worker on private queues, ledger schema and Redis prefix.
        let configuration = RuntimeConfiguration(
            postgres: postgres, amqp: try AMQPConfiguration(url: settings.amqpURL), redis: try RedisConfiguration(url: settings.redisURL),
            schema: names, topology: TopologyConfiguration(prefix: names), redisPrefix: names + ":")
        let runtime = Runtime(configuration: configuration, registry: .standard(catalog: catalog), logger: logger)
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: WorkerConfiguration(
            classes: [analytics], postgres: postgres, amqp: configuration.amqp, name: names, shutdownGrace: .seconds(5))))
        try await process.prepare()
        let worker = process.worker!
        let (sluiceSeconds, failed): (Double, Int) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await process.run(signals: []) }
            defer { worker.stop() }
            let start = ContinuousClock.now
            var requests: [JobRequest] = []
            for i in 0..<jobs {
                var r = JobRequest(kind: AnalyticsQueryJob.kind, args: ["name": "lead_growth", "params": .object(params(i))])
                r.producer = "bench"
                requests.append(r)
            }
            var sent = 0
            while sent < requests.count {
                let chunk = Array(requests[sent..<min(requests.count, sent + 500)])
                for result in try await runtime.producer.enqueue(batch: chunk) { _ = try result.get() }
                sent += chunk.count
            }
            let deadline = ContinuousClock.now + .seconds(600)
            while ContinuousClock.now < deadline {
                let counts = try await runtime.ledger.statusCounts()
                let done = counts.values.reduce(0) { $0 + $1.completedLastHour + $1.failedLastHour }
                if done >= jobs { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let seconds = BenchSupport.ms(ContinuousClock.now - start) / 1000
            let failed = try await runtime.ledger.statusCounts().values.reduce(0) { $0 + $1.failedLastHour }
            worker.stop()
            try await group.waitForAll()
            return (seconds, failed)
        }
        await BenchSupport.cleanUp(configuration, names: names, logger: logger)
        let sluiceRate = Double(jobs) / sluiceSeconds, directRate = Double(jobs) / directSeconds
        let ratio = (sluiceRate / directRate * 1000).rounded() / 10
        if json {
            printJSON(["leads": .int(Int64(leads)), "jobs": .int(Int64(jobs)), "failed": .int(Int64(failed)),
                       "sluice_jobs_per_s": .double(BenchSupport.round3(sluiceRate)), "direct_per_s": .double(BenchSupport.round3(directRate)),
                       "percent_of_direct": .double(ratio), "slots": .int(Int64(analytics.concurrency)), "direct_connections": 2])
            return
        }
        print("lead_growth over \(leads) leads, \(jobs) jobs: Sluice \(BenchSupport.round3(sluiceRate)) jobs/s (\(analytics.concurrency) slots, \(failed) failed); direct \(BenchSupport.round3(directRate))/s on 2 connections: \(ratio) % of direct (target >= 90 %)")
    }
}
