// maintenance.reindex against the demo schema: REINDEX TABLE / INDEX CONCURRENTLY, refusal of
// exclusion-constraint indexes and undeclared names, and no invalid `_ccnew` index left behind
// when REINDEX CONCURRENTLY fails on a lock timeout or is cancelled midway.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import Testing
import SluiceRuntime

@Suite struct MaintenanceReindexTests {
    static let invalidIndexes = "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid"

    @Test func reindexesADeclaredTableAndIndex() async throws {
        let catalog = try TestCatalog.demo()
        try await ScratchDatabase.with("jobs_reindex") { db in
            let table = try await ReindexJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.leads"), progress: { _ in }, logger: db.logger)
            #expect(table.target == "table" && table.table == "demo.leads" && table.policy == "leads_indexes")
            #expect(table.reindexed.contains("demo.idx_leads_email_hash"))
            #expect(table.reindexed.contains("demo.idx_leads_tags_gin"))
            // 9, the two trigram indexes segments use (email, company), (workspace_id, source),
            // (workspace_id, id) for schedule_campaign_sends's id-ordered batches and the custom-field
            // key's expression trigram index (issue 18)
            #expect(table.reindexed.count == 14)
            let listed = try await ReindexJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(index: "demo.idx_campaigns_workspace_status"), progress: { _ in },
                logger: db.logger)
            #expect(listed.reindexed == ["demo.idx_campaigns_workspace_status"] && listed.table == "demo.campaigns")
            // An index of a listed table needs no listing of its own.
            let ofTable = try await ReindexJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(index: "demo.idx_leads_custom_fields_gin"), progress: { _ in },
                logger: db.logger)
            #expect(ofTable.policy == "leads_indexes")
            #expect(try await db.value(Self.invalidIndexes, as: Int.self) == 0)
            // An index of a table no policy lists is undeclared, though it exists.
            let error = await expectJobError {
                _ = try await ReindexJob.run(catalog: catalog, pool: db.pool, arguments: .init(index: "demo.idx_ai_usage_created"),
                                             progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .undeclared)
        }
    }

    @Test func exclusionConstraintIndexesAreRefusedOrSkipped() async throws {
        var catalog = try TestCatalog.demo()
        catalog.reindexPolicies[1].indexes.append(TestCatalog.name("demo.campaigns_no_same_name"))
        catalog.reindexPolicies[1].tables.append(TestCatalog.name("demo.campaigns"))
        try await ScratchDatabase.with("jobs_reexcl") { db in
            try await db.run("ALTER TABLE demo.campaigns ADD CONSTRAINT campaigns_no_same_name EXCLUDE USING btree (workspace_id WITH =, name WITH =)")
            let error = await expectJobError {
                _ = try await ReindexJob.run(catalog: catalog, pool: db.pool, arguments: .init(index: "demo.campaigns_no_same_name"),
                                             progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .unsupported)
            let report = try await ReindexJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.campaigns"), progress: { _ in }, logger: db.logger)
            #expect(report.skipped == ["demo.campaigns_no_same_name"])
            #expect(!report.reindexed.contains("demo.campaigns_no_same_name") && report.reindexed.count == 4)
        }
    }

    /// A writer's open transaction makes REINDEX CONCURRENTLY wait ("waiting for writers") after it
    /// created the invalid `_ccnew` copy.
    static func holdWriter(_ db: ScratchDatabase) async throws -> PostgresConnection {
        let writer = try await db.connect("test writer")
        try await writer.simpleQuery("BEGIN; LOCK TABLE demo.campaigns IN ROW EXCLUSIVE MODE")
        return writer
    }

    static let cleanupWaiting = """
        SELECT count(*) > 0 FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'DROP INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'
        """

    @Test func aFailedReindexLeavesNoInvalidIndex() async throws {
        let catalog = try TestCatalog.demo(lockTimeout: .seconds(1))
        try await ScratchDatabase.with("jobs_refail") { db in
            let writer = try await Self.holdWriter(db)
            let job = Task {
                try await ReindexJob.run(catalog: catalog, pool: db.pool, arguments: .init(index: "demo.idx_campaigns_workspace_status"),
                                         progress: { _ in }, logger: db.logger)
            }
            // The reindex times out waiting for the writer; its cleanup then waits for the writer too.
            try await db.waitUntil(Self.cleanupWaiting, "the cleanup to wait for the writer")
            #expect(try await db.value(Self.invalidIndexes, as: Int.self) == 1)
            try await writer.simpleQuery("ROLLBACK")
            await writer.close()
            guard case .failure(let error as JobError) = await job.result else {
                Issue.record("expected the reindex to fail")
                return
            }
            #expect(error.code == .lockTimeout)
            #expect(error.notes.contains("dropped invalid index demo.idx_campaigns_workspace_status_ccnew"), "\(error.notes)")
            #expect(try await db.value(Self.invalidIndexes, as: Int.self) == 0)
        }
    }

    @Test func aCancelledReindexLeavesNoInvalidIndex() async throws {
        var catalog = try TestCatalog.demo(lockTimeout: .seconds(30))
        catalog.reindexPolicies[1].tables.append(TestCatalog.name("demo.campaigns"))
        let declared = catalog
        try await ScratchDatabase.with("jobs_recancel") { db in
            let writer = try await Self.holdWriter(db)
            let job = Task {
                try await ReindexJob.run(catalog: declared, pool: db.pool, arguments: .init(table: "demo.campaigns"),
                                         progress: { _ in }, logger: db.logger)
            }
            try await db.waitUntil(
                """
                SELECT count(*) > 0 FROM pg_stat_progress_create_index
                WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND command = 'REINDEX CONCURRENTLY' AND phase LIKE 'waiting for%'
                """, "the reindex to wait midway")
            // One `_ccnew` per index of the table, its TOAST table's included.
            let copies = try await db.value(Self.invalidIndexes, as: Int.self)
            #expect(copies == 5)
            job.cancel()
            try await db.waitUntil(Self.cleanupWaiting, "the cleanup to start")
            try await writer.simpleQuery("ROLLBACK")
            await writer.close()
            guard case .failure(let error as JobError) = await job.result else {
                Issue.record("expected the reindex to be cancelled")
                return
            }
            #expect(error.code == .cancelled)
            #expect(error.notes.filter { $0.hasPrefix("dropped invalid index") }.count == copies, "\(error.notes)")
            #expect(try await db.value(Self.invalidIndexes, as: Int.self) == 0)
            // The table's indexes are all there and valid.
            #expect(try await db.value("SELECT count(*) FROM pg_indexes WHERE schemaname = 'demo' AND tablename = 'campaigns'", as: Int.self) == 4)
        }
    }

    @Test func missingAndUndeclaredIndexes() async throws {
        var catalog = try TestCatalog.demo()
        catalog.reindexPolicies[1].indexes.append(TestCatalog.name("demo.idx_ghost"))
        try await ScratchDatabase.with("jobs_remiss", seed: false) { db in
            let error = await expectJobError {
                _ = try await ReindexJob.run(catalog: catalog, pool: db.pool, arguments: .init(index: "demo.idx_ghost"), progress: { _ in },
                                             logger: db.logger)
            }
            #expect(error?.code == .missingObject)
            #expect(error?.object == "demo.idx_ghost")
        }
        let cases: [ReindexJob.Arguments] = [
            .init(index: "demo.idx_leads_tags_gin\"; DROP TABLE demo.leads; --"), .init(table: "pg_catalog.pg_class"),
            .init(index: "pg_catalog.pg_class_oid_index"), .init(table: "demo.ai_usage"), .init(index: "x.y.z"),
            .init(index: "other.idx"), .init(), .init(index: "demo.idx_leads_tags_gin", table: "demo.leads"),
        ]
        for arguments in cases {
            let error = await expectJobError {
                _ = try await ReindexJob.run(catalog: catalog, pool: TestCatalog.deadPool(), arguments: arguments, progress: { _ in },
                                             logger: .init(label: "test"))
            }
            #expect(error?.code == .undeclared || error?.code == .invalidArguments, "\(arguments)")
        }
    }
}
