// Health reports and alerts against a scratch database: a long query, a session idle in a
// transaction and a table with more than 20 % dead tuples each fire one alert, hold quietly on
// the next run, and resolve once when they clear. Also every report runs and the partitions and
// matviews reports see what the demo schema leaves undone.

import Foundation
import Logging
import Postgres
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import TestSupport
import Testing

@Suite("Analytics health") struct AnalyticsHealthTests {
    func catalog() throws -> Catalog {
        var catalog = try TestCatalog.demo()
        catalog.health.thresholds.longQuery = .seconds(1)
        catalog.health.thresholds.idleInTransaction = .seconds(1)
        catalog.health.thresholds.minDeadTuples = 10
        return catalog
    }

    func stream(_ redis: RedisPool, _ key: String) async throws -> [(state: String, alert: String)] {
        let reply = try await redis.send(["XRANGE", RedisArgument(key), "-", "+"])
        return (reply.array ?? []).compactMap { entry in
            guard let fields = entry.array?.last?.array else { return nil }
            var d: [String: String] = [:]
            var i = 0
            while i + 1 < fields.count { d[fields[i].string ?? ""] = fields[i + 1].string; i += 2 }
            return (d["state"] ?? "", d["alert"] ?? "")
        }
    }

    @Test func alertsFireOnceHoldAndResolveOnce() async throws {
        try await ScratchDatabase.with("health") { db in
            let redis = RedisPool(connection: try RedisConfiguration(url: TestEnvironment.redisURL), size: 2)
            let prefix = TestEnvironment.uniqueName("t_health") + ":"
            let alerts = AlertTracker(redis: redis, prefix: prefix)
            let catalog = try catalog()
            let target = "main"

            // A table with > 20 % dead tuples.
            try await db.run("CREATE TABLE demo.churn AS SELECT g AS id FROM generate_series(1, 1000) g; ALTER TABLE demo.churn SET (autovacuum_enabled = false)")
            try await db.run("DELETE FROM demo.churn WHERE id <= 400; SELECT pg_stat_force_next_flush()")
            // A long query (in its own session) and a session idle in a transaction.
            let long = try await db.connect("health long query")
            let sleeper = Task { _ = try? await long.query("SELECT pg_sleep(30)") }
            let idle = try await db.connect("health idle in transaction")
            try await idle.simpleQuery("BEGIN; SELECT 1")
            try await db.waitUntil("SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'health long query' AND now() - query_start > interval '1.2 s'", "the long query")
            try await db.waitUntil("SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'health idle in transaction' AND now() - state_change > interval '1.2 s'", "idle in transaction")
            try await db.waitUntil("SELECT n_dead_tup >= 400 FROM pg_stat_user_tables WHERE relid = 'demo.churn'::regclass", "dead tuples counted")

            let reports: [HealthReport] = [.longQueries, .idleInTransaction, .bloat]
            func run() async throws -> (fired: [String], resolved: [String]) {
                var fired: [String] = [], resolved: [String] = []
                for r in reports {
                    let (report, _) = try await HealthRun.run(r, pool: db.pool, catalog: catalog, target: target, alerts: alerts)
                    fired += report.fired
                    resolved += report.resolved
                }
                return (fired, resolved)
            }
            let first = try await run()
            #expect(first.fired.contains { $0.hasPrefix("long_query:") })
            #expect(first.fired.contains { $0.hasPrefix("idle_in_transaction:") })
            #expect(first.fired.contains("dead_tuples:demo.churn"))
            #expect(first.resolved.isEmpty)
            // The report is in Redis with its evidence.
            let stored = try await redis.send(["GET", RedisArgument("\(prefix)health:main:bloat")])
            let bloat = try JSONValue.parse(try #require(stored.bytes))
            #expect(bloat["summary"]?["table_method"]?.stringValue?.contains("avg_width") == true)

            // Still true: nothing new on the stream.
            let second = try await run()
            #expect(second.fired.isEmpty && second.resolved.isEmpty)

            // Clear all three: each resolves once.
            long.cancel()
            _ = await sleeper.value
            try await idle.simpleQuery("COMMIT")
            try await db.run("VACUUM demo.churn")
            try await db.waitUntil("SELECT n_dead_tup = 0 FROM pg_stat_user_tables WHERE relid = 'demo.churn'::regclass", "dead tuples vacuumed")
            let third = try await run()
            #expect(Set(third.resolved) == Set(first.fired.filter { k in
                k.hasPrefix("long_query:") || k.hasPrefix("idle_in_transaction:") || k == "dead_tuples:demo.churn" }))
            #expect(try await run().resolved.isEmpty)

            let entries = try await stream(redis, alerts.streamKey)
            for key in first.fired {
                #expect(entries.filter { $0.alert == key && $0.state == "firing" }.count == 1, "\(key) fired once")
            }
            for key in third.resolved {
                #expect(entries.filter { $0.alert == key && $0.state == "resolved" }.count == 1, "\(key) resolved once")
            }
            await long.close()
            await idle.close()
            if let keys = try await redis.send(["KEYS", RedisArgument(prefix + "*")]).array {
                for k in keys { _ = try await redis.send(["DEL", RedisArgument(k.string ?? "")]) }
            }
            await redis.close()
        }
    }

    @Test func everyReportRuns() async throws {
        try await ScratchDatabase.with("health_all") { db in
            try await db.run("INSERT INTO demo.email_events_default (workspace_id, campaign_id, lead_id, event_type, created_at) VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'opened', now() + interval '5 years')")
            let catalog = try catalog()
            var outputs: [HealthReport: HealthReportOutput] = [:]
            try await db.pool.withConnection { c in
                for r in HealthReport.each { outputs[r] = try await HealthChecks.run(r, on: c, catalog: catalog, target: "main") }
            }
            #expect(outputs.count == HealthReport.each.count)
            #expect(outputs[.connections]?.summary["max_connections"] != nil)
            let partitions = try #require(outputs[.partitions])
            // The demo makes one month ahead; the catalog asks for 3 or 4: the report says so.
            #expect(partitions.findings.contains { $0.key == "partitions_ahead:demo.email_events" })
            #expect(partitions.findings.contains { $0.key == "partition_default_rows:demo.email_events" })
            // The views were created but never refreshed by Sluice (no ANALYZE on record).
            #expect(outputs[.matviews]?.findings.count == catalog.materializedViews.count)
            #expect(outputs[.slowQueries]?.summary["available"] != nil)
            #expect(outputs[.indexUsage]?.summary["indexes"]?.intValue ?? 0 > 10)
        }
    }
}
