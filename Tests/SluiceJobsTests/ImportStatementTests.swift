// import.statement with the demo's schedule_campaign_sends: one queued send per active or
// verified lead of the campaign's workspace, in several committed batches; a second run
// schedules nobody twice, nor does a batch that collides with a concurrent run; bad parameters
// and undeclared statements are refused.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import SluiceCore
import Testing

@Suite struct ImportStatementTests {
    /// The demo catalog with `schedule_campaign_sends` in batches of 7 (several per campaign).
    static func sendsCatalog() throws -> Catalog {
        var catalog = try TestCatalog.demo()
        let i = catalog.statements.firstIndex { $0.name.rawValue == "schedule_campaign_sends" }!
        catalog.statements[i].batchSize = 7
        return catalog
    }

    /// The demo's first campaign (by workspace slug and name) and its eligible leads' count.
    static func firstCampaign(_ db: ScratchDatabase) async throws -> (id: String, eligible: Int) {
        let campaign = try await db.value(
            "SELECT c.id::text FROM demo.campaigns c JOIN demo.workspaces w ON w.id = c.workspace_id ORDER BY w.slug, c.name LIMIT 1",
            as: String.self)
        let eligible = try await db.value(
            """
            SELECT count(*)::bigint FROM demo.leads l JOIN demo.campaigns c ON c.workspace_id = l.workspace_id
            WHERE c.id = $1::uuid AND l.status IN ('active', 'verified')
            """, [.text(campaign)], as: Int.self)
        return (campaign, eligible)
    }

    @Test func campaignSendsTwiceSchedulesNobodyTwice() async throws {
        let catalog = try Self.sendsCatalog()
        try await ScratchDatabase.with("imp_statement") { db in
            let (campaign, eligible) = try await Self.firstCampaign(db)
            #expect(eligible == 67)
            let before = try await db.value("SELECT count(*)::bigint FROM demo.email_sends WHERE campaign_id = $1::uuid", [.text(campaign)], as: Int.self)
            let runner = StatementRunner(catalog: catalog)
            let args = StatementRunner.Arguments(name: "schedule_campaign_sends", params: ["campaign_id": .string(campaign)])
            let progress = ProgressLog()
            let first = try await runner.run(args, pool: db.pool, progress: progress.reporter, logger: db.logger)
            #expect(first.affected == eligible && first.complete && first.batches == 67 / 7 + 2)
            #expect(progress.count == first.batches)
            let second = try await runner.run(args, pool: db.pool, progress: { _ in }, logger: db.logger)
            #expect(second.affected == 0 && second.complete)
            let after = try await db.value("SELECT count(*)::bigint FROM demo.email_sends WHERE campaign_id = $1::uuid", [.text(campaign)], as: Int.self)
            #expect(after == before + eligible)
            let queuedTwice = try await db.value(
                """
                SELECT count(*)::bigint FROM (SELECT lead_id FROM demo.email_sends WHERE campaign_id = $1::uuid AND status = 'queued'
                GROUP BY lead_id HAVING count(*) > 1) d
                """, [.text(campaign)], as: Int.self)
            #expect(queuedTwice == 0)
        }
    }

    /// The statement has no ON CONFLICT clause: a send another run commits while a batch runs
    /// makes that batch fail on the unique index, and the runner runs it again with a new
    /// snapshot, which leaves the other run's send out. Here the other run is a transaction that
    /// inserted one lead's send and commits only once the runner's batch waits on it.
    @Test func aBatchCollidingWithAConcurrentRunIsRunAgain() async throws {
        let catalog = try Self.sendsCatalog()
        try await ScratchDatabase.with("imp_collide") { db in
            let (campaign, eligible) = try await Self.firstCampaign(db)
            let before = try await db.value("SELECT count(*)::bigint FROM demo.email_sends WHERE campaign_id = $1::uuid", [.text(campaign)], as: Int.self)
            let other = try await db.connect("test other run")
            try await other.simpleQuery("BEGIN")
            // The 20th eligible lead in id order: in the third batch of 7.
            try await other.execute(
                """
                INSERT INTO demo.email_sends (workspace_id, campaign_id, lead_id, status, scheduled_at, created_at)
                SELECT c.workspace_id, c.id, l.id, 'queued', now(), c.created_at
                FROM demo.campaigns c JOIN demo.leads l ON l.workspace_id = c.workspace_id
                WHERE c.id = $1::uuid AND l.status IN ('active', 'verified')
                ORDER BY l.id OFFSET 19 LIMIT 1
                """, [.text(campaign)])
            let runner = StatementRunner(catalog: catalog)
            let args = StatementRunner.Arguments(name: "schedule_campaign_sends", params: ["campaign_id": .string(campaign)])
            let run = Task { try await runner.run(args, pool: db.pool, progress: { _ in }, logger: db.logger) }
            try await db.waitUntil(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                "the runner's batch to wait on the other run's send")
            try await other.simpleQuery("COMMIT")
            await other.close()
            let first = try await run.value
            #expect(first.affected == eligible - 1 && first.complete)
            let after = try await db.value("SELECT count(*)::bigint FROM demo.email_sends WHERE campaign_id = $1::uuid", [.text(campaign)], as: Int.self)
            #expect(after == before + eligible)
            let twice = try await db.value(
                """
                SELECT count(*)::bigint FROM (SELECT lead_id FROM demo.email_sends WHERE campaign_id = $1::uuid AND status = 'queued'
                GROUP BY lead_id HAVING count(*) > 1) d
                """, [.text(campaign)], as: Int.self)
            #expect(twice == 0)
        }
    }

    @Test func badArgumentsAreRefusedBeforeAnySQL() throws {
        let catalog = try TestCatalog.demo()
        func message(_ a: StatementRunner.Arguments) -> String? {
            do {
                try StatementRunner.validate(a, against: catalog)
                return nil
            } catch { return error.description }
        }
        #expect(message(.init(name: "drop_everything"))?.contains("declares no statement") == true)
        #expect(message(.init(name: "schedule_campaign_sends"))?.contains("needs the parameter campaign_id") == true)
        #expect(message(.init(name: "schedule_campaign_sends", params: ["campaign_id": "42"]))?.contains("must be uuid") == true)
        #expect(message(.init(name: "schedule_campaign_sends", params: ["campaign_id": .string(UUID().uuidString), "x": 1]))?
            .contains("has no parameter \"x\"") == true)
        #expect(message(.init(name: "schedule_campaign_sends", params: ["campaign_id": .string(UUID().uuidString)])) == nil)
    }
}

/// The import kinds as the runtime sees them: names checked against the catalog at enqueue,
/// each refusal naming the argument at fault.
@Suite struct ImportKindTests {
    @Test func validateNamesTheField() throws {
        let catalog = try TestCatalog.demo()
        let file = ImportFileJob()
        func refusal(_ a: FileImporter.Arguments) -> String? {
            do {
                try file.validate(a, against: catalog)
                return nil
            } catch { return "\(error.field ?? ""): \(error.reason)" }
        }
        #expect(refusal(.init(spec: "leads", source: .init(upload: UUID().uuidString))) == nil)
        #expect(refusal(.init(spec: "leads", source: .init(path: "in/leads.csv"))) == nil)
        #expect(refusal(.init(spec: "contacts", source: .init(path: "x.csv")))?.hasPrefix("args.spec: ") == true)
        #expect(refusal(.init(spec: "leads", source: .init()))?.hasPrefix("args.source: source needs exactly one") == true)
        #expect(refusal(.init(spec: "leads", source: .init(upload: "nope")))?.contains("upload id") == true)
        #expect(refusal(.init(spec: "leads", source: .init(path: "x.csv"), options: .init(delimiter: "ab")))?
            .hasPrefix("args.options: ") == true)
        #expect(ImportFileJob.kind.rawValue == "import.file" && ImportFileJob.defaultClass == .import)

        let statement = ImportStatementJob()
        func refusal(_ a: StatementRunner.Arguments) -> String? {
            do {
                try statement.validate(a, against: catalog)
                return nil
            } catch { return "\(error.field ?? ""): \(error.reason)" }
        }
        #expect(refusal(.init(name: "nope"))?.hasPrefix("args.name: ") == true)
        #expect(refusal(.init(name: "schedule_campaign_sends", params: ["campaign_id": 7]))?.hasPrefix("args.params: ") == true)
        #expect(ImportStatementJob.kind.rawValue == "import.statement")
    }
}
