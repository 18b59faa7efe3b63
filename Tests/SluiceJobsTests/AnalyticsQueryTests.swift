// analytics.query's work: catalog queries with typed params, the Redis cache (one key switched
// atomically between complete versions), failures leaving the last good rows with last_error.
// Real Postgres and Redis; each test uses its own Redis prefix and scratch database.

import Foundation
import Logging
import Postgres
import Redis
import SluiceCatalog
import SluiceCatalogLoader
import SluiceCore
import SluiceJobs
import Synchronization
import Testing
import TestSupport
import SluiceRuntime

@Suite("Analytics queries and cache")
struct AnalyticsQueryTests {
    static func redis() throws -> RedisPool {
        RedisPool(connection: try RedisConfiguration(url: TestEnvironment.redisURL), size: 4)
    }

    static func prefix() -> String { TestEnvironment.uniqueName("t_cache") + ":" }

    @Test func catalogDeclaresTheDashboardQueries() throws {
        let catalog = try TestCatalog.demo()
        let names = Set(catalog.queries.map(\.name.rawValue))
        #expect(names == ["workspace_campaigns", "workspace_usage", "workspace_deliverability", "top_engaged_leads", "lead_growth"])
        let campaigns = try #require(catalog.query(named: "workspace_campaigns"))
        #expect(campaigns.sql.contains("demo.campaign_analytics"))
        #expect(campaigns.staleAfter == .seconds(300))
        let view = try QualifiedName(parsing: "demo.campaign_analytics")
        #expect(catalog.queries(dependingOn: view, target: "main").map(\.name.rawValue) == ["workspace_campaigns"])
        #expect(catalog.health.thresholds.connectionUtilisation == 0.8)
        #expect(catalog.segments?.field(named: "engagement_level")?.lookup != nil)
    }

    @Test func catalogProblemsAreReported() {
        let check = CatalogLoader.check(sources: [CatalogSource(path: "q.yaml", text: """
            queries:
              - name: q1
                sql: "SELECT $1::int + $2::int"
                params: {a: integer}
              - name: q2
                sql: "SELECT 1"
                params: {a: {type: money}}
              - name: q3
                sql: "SELECT 1"
                stale_after: 1h
                ttl: 5m
              - name: segment
                sql: "SELECT 1"
            segments:
              table: demo.leads
              tenant: workspace_id
              key: id
              fields:
                - {name: tags, type: tags, operators: [ends_with]}
            health:
              cache_hit_ratio: 1.5
            """)])
        let text = check.problems.map(\.description).joined(separator: "\n")
        #expect(text.contains("q1 SQL uses $1…$2 but declares 1"))
        #expect(text.contains("money"))
        #expect(text.contains("q3 ttl must be at least stale_after"))
        #expect(text.contains("operator ends_with does not apply to a tags field"))
        #expect(text.contains("cache_hit_ratio"))
        #expect(text.contains("query name segment is reserved"))
        #expect(check.catalog.queries.isEmpty)
    }

    @Test func paramsAreCheckedAndNormalised() throws {
        let q = try #require(try TestCatalog.demo().query(named: "workspace_campaigns"))
        let a = try QueryParameters.normalise(["workspace_id": "8F7C6A2E-0000-4000-8000-000000000001"], for: q)
        let b = try QueryParameters.normalise(["workspace_id": "8f7c6a2e-0000-4000-8000-000000000001", "limit": 50], for: q)
        #expect(a == b)
        #expect(QueryCache.paramsHash(a) == QueryCache.paramsHash(b))
        // The documented hash: SHA-1 of "limit\0" "50\0" "workspace_id\0" "<uuid>\0".
        #expect(a.canonicalBytes == Array("limit\u{0}50\u{0}workspace_id\u{0}8f7c6a2e-0000-4000-8000-000000000001\u{0}".utf8))
        func problem(_ p: [String: JSONValue]) -> String? {
            do { _ = try QueryParameters.normalise(p, for: q); return nil } catch { return error.field }
        }
        #expect(problem([:]) == "args.params.workspace_id")
        #expect(problem(["workspace_id": "nope"]) == "args.params.workspace_id")
        #expect(problem(["workspace_id": "8f7c6a2e-0000-4000-8000-000000000001", "limit": "ten"]) == "args.params.limit")
        #expect(problem(["workspace_id": "8f7c6a2e-0000-4000-8000-000000000001", "sql": "x"]) == "args.params.sql")
    }

    func output(version: Int64, rows: Int, staleIn: TimeInterval = 300) -> CachedOutput {
        let now = Date()
        return CachedOutput(query: "q", params: .object([:]), version: version, computedAt: now,
                            staleAfter: now.addingTimeInterval(staleIn), expiresAt: now.addingTimeInterval(3600),
                            rows: .array((0..<rows).map { ["n": .int(Int64($0)), "v": .int(version)] }), rowCount: rows,
                            durationMS: 1, jobID: "job-\(version)")
    }

    @Test func newerVersionsWinAndFailuresAnnotate() async throws {
        let redis = try Self.redis()
        defer { Task { await redis.close() } }
        let cache = QueryCache(redis: redis, prefix: Self.prefix())
        let key = cache.key(query: "q", hash: "h")
        #expect(try await cache.read(key: key) == nil)
        #expect(try await cache.write(output(version: 10, rows: 3), key: key, ttl: .seconds(60)))
        // An older computation finishing late does not overwrite the newer output.
        #expect(try await cache.write(output(version: 5, rows: 1), key: key, ttl: .seconds(60)) == false)
        #expect(try await cache.read(key: key)?.version == 10)
        try await cache.recordFailure(key: key, error: "statement timeout", at: Date(), jobID: "j", staleAfter: .seconds(60))
        let annotated = try #require(try await cache.read(key: key))
        #expect(annotated.lastError == "statement timeout")
        #expect(annotated.rowCount == 3 && annotated.version == 10)
        // A failure with nothing cached leaves an entry saying why, without rows.
        let other = cache.key(query: "q", hash: "other")
        try await cache.recordFailure(key: other, error: "boom", at: Date(), jobID: "j", staleAfter: .seconds(60))
        let failed = try #require(try await cache.read(key: other))
        #expect(failed.computedAt == nil && failed.rows == .null && failed.isStale())
        _ = try await redis.send(["DEL", RedisArgument(key), RedisArgument(key + ":version"), RedisArgument(other), RedisArgument(other + ":version")])
    }

    /// A reader in a loop while a writer replaces the output continuously: never a miss, never a
    /// torn value (every read parses and all its rows carry the version of the whole output).
    @Test func readerNeverSeesAMissOrATornOutput() async throws {
        let redis = try Self.redis()
        defer { Task { await redis.close() } }
        let cache = QueryCache(redis: redis, prefix: Self.prefix())
        let key = cache.key(query: "q", hash: "switch")
        try await cache.write(output(version: 1, rows: 200), key: key, ttl: .seconds(60))
        let stop = Atomic<Bool>(false)
        async let writer: Int = {
            var v: Int64 = 2
            while !stop.load(ordering: .relaxed) {
                try await cache.write(output(version: v, rows: 150 + Int(v % 100)), key: key, ttl: .seconds(60))
                v += 1
            }
            return Int(v)
        }()
        var reads = 0, misses = 0, torn = 0
        var lastVersion: Int64 = 0
        let deadline = ContinuousClock.now + .seconds(2)
        while ContinuousClock.now < deadline {
            guard let o = try await cache.read(key: key) else { misses += 1; continue }
            reads += 1
            guard case .array(let rows) = o.rows, rows.count == o.rowCount,
                rows.allSatisfy({ $0["v"]?.intValue == o.version }), o.version >= lastVersion
            else { torn += 1; continue }
            lastVersion = o.version
        }
        stop.store(true, ordering: .relaxed)
        let versions = try await writer
        #expect(misses == 0)
        #expect(torn == 0)
        #expect(reads > 100)
        #expect(versions > 20)
        _ = try await redis.send(["DEL", RedisArgument(key), RedisArgument(key + ":version")])
    }

    @Test func refreshCachesRowsAndKeepsThemOnTimeout() async throws {
        try await ScratchDatabase.with("query", settings: ["statement_timeout": "300ms"]) { db in
            let redis = try Self.redis()
            defer { Task { await redis.close() } }
            let cache = QueryCache(redis: redis, prefix: Self.prefix())
            let catalog = try TestCatalog.demo()
            try await db.run("REFRESH MATERIALIZED VIEW demo.campaign_analytics")
            let ws = try await db.value("SELECT id::text FROM demo.workspaces ORDER BY slug LIMIT 1", as: String.self)
            let query = try #require(catalog.query(named: "workspace_campaigns"))
            let params = try QueryParameters.normalise(["workspace_id": .string(ws), "limit": 3], for: query)
            let report = try await QueryRefresh.run(query: query, params: params, pool: db.pool, cache: cache, jobID: "j1",
                                                    ifVersion: nil, logger: db.logger)
            #expect(report.outcome == "computed" && report.rows == 3 && report.written)
            let out = try #require(try await cache.read(key: report.key))
            #expect(out.rowCount == 3 && out.jobID == "j1" && !out.isStale() && out.lastError == nil)
            #expect(out.rows.arrayCount == 3)
            #expect(out.params == ["limit": "3", "workspace_id": .string(ws)])
            // A reader that saw an older version (or none): a newer one is there, so nothing runs.
            let again = try await QueryRefresh.run(query: query, params: params, pool: db.pool, cache: cache, jobID: "j2",
                                                   ifVersion: out.version - 1, logger: db.logger)
            #expect(again.outcome == "fresh" && !again.written)
            let same = try await QueryRefresh.run(query: query, params: params, pool: db.pool, cache: cache, jobID: "j2",
                                                  ifVersion: out.version, logger: db.logger)
            #expect(same.outcome == "computed" && same.written)
            // A query over its statement timeout: the job fails naming the timeout, rows stay.
            var slow = query
            slow.sql = "SELECT pg_sleep(2), $1::uuid, $2::int"
            await #expect(throws: JobError.self) {
                _ = try await QueryRefresh.run(query: slow, params: params, pool: db.pool, cache: cache, jobID: "j3",
                                               ifVersion: nil, logger: db.logger)
            }
            let after = try #require(try await cache.read(key: report.key))
            #expect(after.rowCount == 3 && after.jobID == "j2")
            #expect(after.lastError?.contains("statement timeout") == true)
            _ = try await redis.send(["DEL", RedisArgument(report.key), RedisArgument(report.key + ":version")])
        }
    }

    /// Redis goes away while the query runs: the job fails retryably (the rows were computed, the
    /// write was not), a reader fails fast rather than hanging, and the retry writes the output.
    @Test func redisDownThenBack() async throws {
        try await ScratchDatabase.with("query_redis") { db in
            let server = try PrivateRedisServer()
            defer { server.stop() }
            var configuration = try RedisConfiguration(url: server.url)
            configuration.connectTimeout = .seconds(1)
            configuration.commandTimeout = .seconds(1)
            let redis = RedisPool(configuration: RedisPoolConfiguration(connection: configuration, size: 1, acquireTimeout: .seconds(1)))
            defer { Task { await redis.close() } }
            let cache = QueryCache(redis: redis, prefix: Self.prefix())
            let query = try #require(try TestCatalog.demo().query(named: "workspace_usage"))
            try await db.run("REFRESH MATERIALIZED VIEW demo.workspace_usage_analytics")
            let ws = try await db.value("SELECT id::text FROM demo.workspaces ORDER BY slug LIMIT 1", as: String.self)
            let params = try QueryParameters.normalise(["workspace_id": .string(ws)], for: query)
            server.kill()
            let started = ContinuousClock.now
            await #expect(throws: RedisError.self) {
                _ = try await QueryRefresh.run(query: query, params: params, pool: db.pool, cache: cache, jobID: "j1", ifVersion: nil,
                                               logger: db.logger)
            }
            await #expect(throws: RedisError.self) { _ = try await cache.read(key: cache.key(query: query.name.rawValue, params: params)) }
            #expect(ContinuousClock.now - started < .seconds(10), "Redis down fails fast")
            try server.start()
            var report: QueryRefresh.Report?
            for _ in 0..<50 where report == nil {
                report = try? await QueryRefresh.run(query: query, params: params, pool: db.pool, cache: cache, jobID: "j2", ifVersion: nil,
                                                     logger: db.logger)
                if report == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let written = try #require(report)
            #expect(written.written && written.rows == 1)
            #expect(try await cache.read(key: written.key)?.jobID == "j2")
        }
    }

    @Test func rowsBecomeJSON() async throws {
        let c = try await PostgresConnection.connect(try PostgresConfiguration(url: TestEnvironment.postgresURL), logger: Logger(label: "t"))
        defer { Task { await c.close() } }
        let r = try await c.query("""
            SELECT 1::int AS i, 2.5::numeric AS n, true AS b, '{"k": [1]}'::jsonb AS j, ARRAY['a', 'b,c', 'say "hi"', NULL]::text[] AS t,
                   '{}'::text[] AS e, timestamptz '2026-01-31 10:00:00+00' AS ts, NULL::text AS z
            """)
        let row = try RowJSON.object(r[0], columns: r.columns)
        #expect(row == ["i": 1, "n": 2.5, "b": true, "j": ["k": [1]], "t": ["a", "b,c", "say \"hi\"", nil], "e": [],
                        "ts": "2026-01-31T10:00:00Z", "z": nil])
    }

    @Test func everyDemoQueryRuns() async throws {
        try await ScratchDatabase.with("queries") { db in
            let catalog = try TestCatalog.demo()
            for view in catalog.materializedViews { try await db.run("REFRESH MATERIALIZED VIEW \(view.view.quoted)") }
            let ws = try await db.value("SELECT id::text FROM demo.workspaces ORDER BY slug LIMIT 1", as: String.self)
            for query in catalog.queries {
                let params = try QueryParameters.normalise(["workspace_id": .string(ws)], for: query)
                let (rows, count) = try await QueryRefresh.execute(query, params: params, pool: db.pool)
                #expect(count > 0, "\(query.name) returned no rows")
                #expect(rows.arrayCount == count)
            }
        }
    }
}

extension JSONValue {
    var arrayCount: Int? { if case .array(let a) = self { return a.count }; return nil }
}
