// refresh.matview against the demo schema: concurrent when populated with a unique index, plain
// otherwise or when the catalog says so, one refresh per view at a time, a held lock failing
// fast without blocking a reader longer than lock_timeout, missing and undeclared views.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import Testing
import SluiceRuntime

@Suite struct RefreshMatviewTests {
    static func setMode(_ catalog: inout Catalog, _ view: String, _ mode: MaterializedView.RefreshMode) {
        let i = catalog.materializedViews.firstIndex { $0.view.description == view }!
        catalog.materializedViews[i].refresh = mode
    }

    @Test func concurrentWhenPossiblePlainOtherwise() async throws {
        var catalog = try TestCatalog.demo()
        try await ScratchDatabase.with("jobs_refresh") { db in
            let before = Date()
            let concurrent = try await MatviewRefreshJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(view: "demo.campaign_analytics"), progress: { _ in }, logger: db.logger)
            #expect(concurrent.mode == "concurrent" && concurrent.reason == "the catalog says concurrent")
            #expect(concurrent.rows == 15)
            #expect(concurrent.refreshedAt >= before)
            #expect(try await db.value("SELECT sum(sent_count) FROM demo.campaign_analytics", as: Int.self) == 600)

            let auto = try await MatviewRefreshJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(view: "email_deliverability_metrics"), progress: { _ in }, logger: db.logger)
            #expect(auto.mode == "concurrent" && auto.reason.hasPrefix("auto"))

            Self.setMode(&catalog, "demo.campaign_analytics", .plain)
            let plain = try await MatviewRefreshJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(view: "campaign_analytics"), progress: { _ in }, logger: db.logger)
            #expect(plain.mode == "plain" && plain.rows == 15)

            // Not populated: auto refreshes plainly (CONCURRENTLY would fail).
            try await db.run("REFRESH MATERIALIZED VIEW demo.email_deliverability_metrics WITH NO DATA")
            let unpopulated = try await MatviewRefreshJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(view: "demo.email_deliverability_metrics"), progress: { _ in },
                logger: db.logger)
            #expect(unpopulated.mode == "plain" && unpopulated.reason == "auto: not populated")
            #expect(try await db.value("SELECT ispopulated FROM pg_matviews WHERE matviewname = 'email_deliverability_metrics'", as: Bool.self))

            // No unique index: auto goes plain; a forced concurrent refuses rather than block readers.
            try await db.run("DROP INDEX demo.workspace_usage_analytics_workspace_id_key")
            let error = await expectJobError {
                _ = try await MatviewRefreshJob.run(catalog: catalog, pool: db.pool, arguments: .init(view: "demo.workspace_usage_analytics"),
                                                    progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .unsupported)
            Self.setMode(&catalog, "demo.workspace_usage_analytics", .auto)
            let noIndex = try await MatviewRefreshJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(view: "demo.workspace_usage_analytics"), progress: { _ in }, logger: db.logger)
            #expect(noIndex.mode == "plain" && noIndex.reason == "auto: no usable unique index" && noIndex.rows == 3)
        }
    }

    @Test func oneRefreshPerViewAtATime() async throws {
        let catalog = try TestCatalog.demo()
        try await ScratchDatabase.with("jobs_refbusy", seed: false) { db in
            let holder = try await db.connect()
            try await holder.execute("SELECT pg_advisory_lock(hashtext($1))", [.text(MatviewRefreshJob.lockKey(TestCatalog.name("demo.campaign_analytics")))])
            let error = await expectJobError {
                _ = try await MatviewRefreshJob.run(catalog: catalog, pool: db.pool, arguments: .init(view: "demo.campaign_analytics"),
                                                    progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .busy && error?.isRetryable == true)
            // Another view is not affected.
            _ = try await MatviewRefreshJob.run(catalog: catalog, pool: db.pool, arguments: .init(view: "demo.lead_engagement_scores"),
                                                progress: { _ in }, logger: db.logger)
            await holder.close()
        }
    }

    @Test func aHeldLockFailsFastAndNeverBlocksAReaderLongerThanLockTimeout() async throws {
        let lockTimeout = Duration.seconds(1)
        var catalog = try TestCatalog.demo(lockTimeout: lockTimeout)
        Self.setMode(&catalog, "demo.campaign_analytics", .plain)
        try await ScratchDatabase.with("jobs_reflock") { db in
            // A dashboard query in a long transaction holds ACCESS SHARE on the view; a plain
            // refresh needs ACCESS EXCLUSIVE.
            let blocker = try await db.connect("test blocker")
            try await blocker.simpleQuery("BEGIN; SELECT * FROM demo.campaign_analytics LIMIT 1")
            let plainCatalog = catalog
            let job = Task {
                try await MatviewRefreshJob.run(catalog: plainCatalog, pool: db.pool, arguments: .init(view: "demo.campaign_analytics"),
                                                progress: { _ in }, logger: db.logger)
            }
            try await db.waitUntil(
                "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = 'demo.campaign_analytics'::regclass",
                timeout: .seconds(10), "the refresh to wait for its lock")
            let reader = try await db.connect("test reader")
            let readStart = ContinuousClock.now
            _ = try await reader.query("SELECT campaign_name FROM demo.campaign_analytics LIMIT 50")
            let readerWait = ContinuousClock.now - readStart
            guard case .failure(let error as JobError) = await job.result else {
                Issue.record("expected a lock timeout")
                return
            }
            #expect(error.code == .lockTimeout && error.isRetryable)
            #expect(readerWait <= lockTimeout + .seconds(3), "reader waited \(readerWait)")
            try await blocker.simpleQuery("ROLLBACK")

            // ACCESS EXCLUSIVE held elsewhere (a plain refresh in an open transaction; LOCK TABLE
            // does not take views): even a concurrent refresh fails within lock_timeout.
            Self.setMode(&catalog, "demo.campaign_analytics", .concurrent)
            try await blocker.simpleQuery("BEGIN; REFRESH MATERIALIZED VIEW demo.campaign_analytics")
            let start = ContinuousClock.now
            let second = await expectJobError {
                _ = try await MatviewRefreshJob.run(catalog: catalog, pool: db.pool, arguments: .init(view: "demo.campaign_analytics"),
                                                    progress: { _ in }, logger: db.logger)
            }
            let elapsed = ContinuousClock.now - start
            #expect(second?.code == .lockTimeout)
            #expect(elapsed <= lockTimeout + .seconds(5), "took \(elapsed)")
            try await blocker.simpleQuery("ROLLBACK")
            await blocker.close()
            await reader.close()
        }
    }

    @Test func missingAndUndeclaredViews() async throws {
        var catalog = try TestCatalog.demo()
        catalog.materializedViews.append(MaterializedView(view: TestCatalog.name("demo.ghost_view"), location: TestCatalog.here))
        try await ScratchDatabase.with("jobs_refmiss", seed: false) { db in
            let error = await expectJobError {
                _ = try await MatviewRefreshJob.run(catalog: catalog, pool: db.pool, arguments: .init(view: "demo.ghost_view"),
                                                    progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .missingObject && error?.object == "demo.ghost_view")
            #expect(error?.isRetryable == false)
        }
        for name in ["demo.campaign_analytics; DROP TABLE demo.leads", "demo.leads", "\"demo\".\"campaign_analytics\"", "x.campaign_analytics"] {
            let error = await expectJobError {
                _ = try await MatviewRefreshJob.run(catalog: catalog, pool: TestCatalog.deadPool(), arguments: .init(view: name),
                                                    progress: { _ in }, logger: .init(label: "test"))
            }
            #expect(error?.code == .undeclared, "\(name)")
        }
    }
}
