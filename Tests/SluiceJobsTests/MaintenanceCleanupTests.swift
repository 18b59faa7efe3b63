// maintenance.cleanup against the demo schema: batched deletes by ctid and by key with bound
// `match` values, progress after every batch, a clean stop when cancelled midway (every
// committed batch whole, nothing else touched), the time budget, undeclared policies.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import Testing
import SluiceRuntime

@Suite struct MaintenanceCleanupTests {
    @Test func deletesOldRowsInBatchesByCtid() async throws {
        var catalog = try TestCatalog.demo()
        let i = try #require(catalog.cleanupPolicies.firstIndex { $0.name.rawValue == "old_ai_usage" })
        catalog.cleanupPolicies[i].batchSize = 100
        catalog.cleanupPolicies[i].pause = .zero
        try await ScratchDatabase.with("jobs_clean") { db in
            try await db.run("""
                INSERT INTO demo.ai_usage (workspace_id, feature, tokens_used, created_at)
                    SELECT (SELECT id FROM demo.workspaces LIMIT 1), 'summary', 10, now() - interval '100 days' - i * interval '1 minute'
                    FROM generate_series(1, 250) i;
                INSERT INTO demo.ai_usage (workspace_id, feature, tokens_used, created_at)
                    SELECT (SELECT id FROM demo.workspaces LIMIT 1), 'summary', 10, now() - interval '10 days' FROM generate_series(1, 50) i;
                """)
            let log = ProgressLog()
            let report = try await CleanupJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(policy: "old_ai_usage"), progress: log.reporter, logger: db.logger)
            #expect(report.rowsDeleted == 250)
            #expect(report.batches == 3)
            #expect(report.stoppedBy == "done")
            #expect(log.all.map { $0["rows_deleted"] } == ["100", "200", "250"])
            #expect(try await db.value("SELECT count(*) FROM demo.ai_usage", as: Int.self) == 50)
        }
    }

    static let staleSends = """
        INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, created_at)
            SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), s, now() - interval '60 days' - i * interval '1 minute'
            FROM generate_series(1, 150) i, unnest(ARRAY['failed', 'queued']) s;
        INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, created_at)
            SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'failed', now() - interval '5 days' FROM generate_series(1, 100);
        """
    static let staleCount = """
        SELECT count(*) FROM demo.email_sends WHERE status IN ('failed', 'queued') AND created_at < now() - interval '30 days'
        """

    @Test func stopsCleanlyWhenCancelledMidway() async throws {
        var catalog = try TestCatalog.demo()
        let i = try #require(catalog.cleanupPolicies.firstIndex { $0.name.rawValue == "stale_email_sends" })
        catalog.cleanupPolicies[i].batchSize = 50
        catalog.cleanupPolicies[i].pause = .milliseconds(200)
        try await ScratchDatabase.with("jobs_cleancancel") { db in
            try await db.run(Self.staleSends)
            let otherBefore = try await db.value("SELECT count(*) FROM demo.email_sends WHERE status NOT IN ('failed', 'queued')", as: Int.self)
            #expect(try await db.value(Self.staleCount, as: Int.self) == 300)
            let log = ProgressLog()
            let pausing = catalog
            let job = Task {
                try await CleanupJob.run(catalog: pausing, pool: db.pool, arguments: .init(policy: "stale_email_sends"),
                                         progress: log.reporter, logger: db.logger)
            }
            while log.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            job.cancel()
            guard case .failure(let error as JobError) = await job.result else {
                Issue.record("expected the cleanup to stop as cancelled")
                return
            }
            #expect(error.code == .cancelled)
            #expect(!error.isRetryable)
            let left = try await db.value(Self.staleCount, as: Int.self)
            let deleted = 300 - left
            // Whole batches only, at least the two reported, and it stopped well before the end.
            #expect(deleted % 50 == 0 && deleted >= 100 && deleted < 300, "deleted \(deleted)")
            #expect(deleted == Int(log.all.last?["rows_deleted"] ?? "") ?? -1)
            #expect(error.notes.contains("\(deleted) rows deleted in \(deleted / 50) committed batches before stopping"), "\(error.notes)")
            // Rows outside the policy's match and age are untouched.
            #expect(try await db.value("SELECT count(*) FROM demo.email_sends WHERE status NOT IN ('failed', 'queued')", as: Int.self) == otherBefore)
            #expect(try await db.value("SELECT count(*) FROM demo.email_sends WHERE created_at > now() - interval '6 days' AND status = 'failed'", as: Int.self) >= 100)
            // The per-policy lock was released: a new run finishes the work.
            catalog.cleanupPolicies[i].pause = .zero
            let report = try await CleanupJob.run(catalog: catalog, pool: db.pool, arguments: .init(policy: "stale_email_sends"),
                                                  progress: { _ in }, logger: db.logger)
            #expect(report.rowsDeleted == left)
            #expect(try await db.value(Self.staleCount, as: Int.self) == 0)
        }
    }

    @Test func respectsTheTimeBudget() async throws {
        var catalog = try TestCatalog.demo()
        let i = try #require(catalog.cleanupPolicies.firstIndex { $0.name.rawValue == "stale_email_sends" })
        catalog.cleanupPolicies[i].batchSize = 50
        catalog.cleanupPolicies[i].pause = .milliseconds(100)
        catalog.cleanupPolicies[i].timeBudget = .milliseconds(150)
        try await ScratchDatabase.with("jobs_cleanbudget") { db in
            try await db.run(Self.staleSends)
            let report = try await CleanupJob.run(catalog: catalog, pool: db.pool, arguments: .init(policy: "stale_email_sends"),
                                                  progress: { _ in }, logger: db.logger)
            #expect(report.stoppedBy == "time_budget")
            #expect(report.rowsDeleted >= 50 && report.rowsDeleted < 300)
            #expect(try await db.value(Self.staleCount, as: Int.self) == 300 - report.rowsDeleted)
        }
    }

    @Test func undeclaredPoliciesSendNoSQL() async throws {
        let catalog = try TestCatalog.demo()
        for name in ["stale_email_sends; DELETE FROM demo.leads", "demo.email_sends", "nope", ""] {
            let error = await expectJobError {
                _ = try await CleanupJob.run(catalog: catalog, pool: TestCatalog.deadPool(), arguments: .init(policy: name),
                                             progress: { _ in }, logger: .init(label: "test"))
            }
            #expect(error?.code == .undeclared, "\(name)")
        }
    }
}
