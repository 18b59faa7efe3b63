// maintenance.vacuum and maintenance.analyze against the demo schema: progress polled from
// pg_stat_progress_vacuum, VACUUM FULL only where the policy allows it, a held lock failing
// fast, missing and undeclared tables.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import Testing

@Suite struct MaintenanceVacuumTests {
    @Test func vacuumReportsProgressFromASecondConnection() async throws {
        let catalog = try TestCatalog.demo()
        // Cost-based delay makes this small VACUUM take about a second, so the poller sees it.
        try await ScratchDatabase.with("jobs_vac", settings: ["vacuum_cost_delay": "2", "vacuum_cost_limit": "1"]) { db in
            try await db.run("""
                ALTER TABLE demo.ai_usage SET (autovacuum_enabled = false);
                INSERT INTO demo.ai_usage (workspace_id, feature, tokens_used)
                    SELECT (SELECT id FROM demo.workspaces LIMIT 1), 'summary', i FROM generate_series(1, 30000) i;
                DELETE FROM demo.ai_usage WHERE id % 2 = 0;
                """)
            let log = ProgressLog()
            let report = try await VacuumJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.ai_usage"), progress: log.reporter,
                logger: db.logger, progressInterval: .milliseconds(50))
            #expect(report.policy == "event_tables")
            #expect(report.analyzed)  // the policy's default: VACUUM (ANALYZE)
            #expect(report.full == false)
            #expect(report.progressReports >= 1, "no progress seen in \(report.durationSeconds) s")
            let phases = Set(log.all.compactMap { $0["phase"] })
            #expect(!phases.isEmpty)
            #expect(log.all.allSatisfy { $0["table"] == "demo.ai_usage" })
            #expect(log.all.contains { $0["heap_blks_total"].flatMap(Int.init) ?? 0 > 0 })
            #expect(try await db.value("SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'demo.ai_usage'::regclass", as: Bool.self))
        }
    }

    @Test func theClassStatementTimeoutStopsALongVacuum() async throws {
        var catalog = try TestCatalog.demo()
        catalog.classes[.maintenance]?.statementTimeout = .milliseconds(300)
        try await ScratchDatabase.with("jobs_vactimeout", settings: ["vacuum_cost_delay": "20", "vacuum_cost_limit": "1"]) { db in
            try await db.run("""
                INSERT INTO demo.ai_usage (workspace_id, feature, tokens_used)
                    SELECT (SELECT id FROM demo.workspaces LIMIT 1), 'summary', i FROM generate_series(1, 20000) i;
                DELETE FROM demo.ai_usage WHERE id % 2 = 0;
                """)
            let error = await expectJobError {
                _ = try await VacuumJob.run(catalog: catalog, pool: db.pool, arguments: .init(table: "demo.ai_usage"), progress: { _ in },
                                            logger: db.logger)
            }
            #expect(error?.code == .statementTimeout)
            #expect(error?.isRetryable == false)
        }
    }

    @Test func analyzeRunsOnADeclaredTable() async throws {
        let catalog = try TestCatalog.demo()
        try await ScratchDatabase.with("jobs_analyze") { db in
            let report = try await AnalyzeJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "leads"), progress: { _ in }, logger: db.logger)
            #expect(report.table == "demo.leads")
            #expect(report.policy == "planner_statistics")
            #expect(report.estimatedRows == 300)
            #expect(try await db.value("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'demo.leads'::regclass", as: Bool.self))
        }
    }

    @Test func fullOnlyWhenThePolicyAllowsIt() async throws {
        var catalog = try TestCatalog.demo()
        let error = await expectJobError {
            _ = try await VacuumJob.run(
                catalog: catalog, pool: TestCatalog.deadPool(), arguments: .init(table: "demo.leads", full: true), progress: { _ in },
                logger: .init(label: "test"))
        }
        #expect(error?.code == .notAllowed)
        let i = try #require(catalog.vacuumPolicies.firstIndex { $0.name.rawValue == "hot_tables" })
        catalog.vacuumPolicies[i].allowFull = true
        try await ScratchDatabase.with("jobs_vacfull") { db in
            let report = try await VacuumJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.campaigns", analyze: false, full: true),
                progress: { _ in }, logger: db.logger)
            #expect(report.full && !report.analyzed)
        }
    }

    @Test func aHeldLockFailsTheVacuumWithinLockTimeout() async throws {
        let lockTimeout = Duration.seconds(1)
        let catalog = try TestCatalog.demo(lockTimeout: lockTimeout)
        try await ScratchDatabase.with("jobs_vaclock") { db in
            let blocker = try await db.connect("test blocker")
            try await blocker.simpleQuery("BEGIN; LOCK TABLE demo.campaigns IN ACCESS EXCLUSIVE MODE")
            let start = ContinuousClock.now
            let error = await expectJobError {
                _ = try await VacuumJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: "demo.campaigns"), progress: { _ in }, logger: db.logger)
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .lockTimeout)
            #expect(error?.isRetryable == true)
            #expect(elapsed >= lockTimeout && elapsed <= lockTimeout + .seconds(5), "took \(elapsed)")
            let analyzeError = await expectJobError {
                _ = try await AnalyzeJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: "demo.campaigns"), progress: { _ in }, logger: db.logger)
            }
            #expect(analyzeError?.code == .lockTimeout)
            try await blocker.simpleQuery("ROLLBACK")
            await blocker.close()
            // The session's own settings are back after the job.
            let setting = try await db.pool.withConnection { c in try await c.query("SHOW lock_timeout")[0].decode(0, as: String.self) }
            #expect(setting == "0")
        }
    }

    @Test func missingAndUndeclaredTables() async throws {
        var catalog = try TestCatalog.demo()
        catalog.vacuumPolicies[0].tables.append(TestCatalog.name("demo.ghost"))
        try await ScratchDatabase.with("jobs_vacmiss", seed: false) { db in
            let error = await expectJobError {
                _ = try await VacuumJob.run(catalog: catalog, pool: db.pool, arguments: .init(table: "demo.ghost"), progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .missingObject)
            #expect(error?.object == "demo.ghost")
        }
        for name in ["demo.leads; VACUUM FULL", "pg_catalog.pg_class", "demo.email_events_default", "public.leads"] {
            let error = await expectJobError {
                _ = try await VacuumJob.run(catalog: catalog, pool: TestCatalog.deadPool(), arguments: .init(table: name), progress: { _ in },
                                            logger: .init(label: "test"))
            }
            #expect(error?.code == .undeclared, "\(name)")
            let analyzeError = await expectJobError {
                _ = try await AnalyzeJob.run(catalog: catalog, pool: TestCatalog.deadPool(), arguments: .init(table: name), progress: { _ in },
                                             logger: .init(label: "test"))
            }
            #expect(analyzeError?.code == .undeclared, "\(name)")
        }
    }
}
