// Integration tests of DemoLoader against the real server: each test works in a scratch
// DATABASE of its own (the demo schema is fixed to `demo` / `demo_archive`), created through
// the `sluice` database and dropped WITH (FORCE) afterwards. Sizes stay tiny (hundreds of
// leads, thousands of events) so the suite runs in seconds; throughput is measured by
// `sluice demo load` in a release build, not here.

import Foundation
import Logging
import Postgres
@testable import SluiceDemo
@testable import SluiceJobs
import Testing
import TestSupport
@testable import SluiceJobs

/// Scratch databases and the repository's files, shared by this target's integration tests.
enum DemoTestSupport {
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var jobsFolder: String { repositoryRoot.appendingPathComponent("jobs").path }

    static func schemaSQL() throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent("jobs/demo/schema.sql"), encoding: .utf8)
    }

    static var logger: Logger {
        var logger = Logger(label: "sluice-jobs-tests")
        logger.logLevel = .error
        return logger
    }

    /// A fixed reference time (whole seconds), so runs are comparable; close to the real now so
    /// that the schema's partitions (made relative to now()) cover the load window.
    static let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60)

    /// Runs `body` with a connection to a new, empty database, dropped afterwards.
    nonisolated(nonsending) static func withScratchDatabase<T>(
        _ prefix: String = "jobs_demo", _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let name = TestEnvironment.uniqueName(prefix)
        let admin = try await PostgresConnection.connect(try PostgresConfiguration(url: TestEnvironment.postgresURL), logger: logger)
        try await admin.simpleQuery("CREATE DATABASE \(PostgresIdentifier.quote(name))")
        var configuration = try PostgresConfiguration(url: TestEnvironment.postgresURL)
        configuration.database = name
        func drop() async {
            _ = try? await admin.simpleQuery("DROP DATABASE IF EXISTS \(PostgresIdentifier.quote(name)) WITH (FORCE)")
            await admin.close()
        }
        do {
            let connection = try await PostgresConnection.connect(configuration, logger: logger)
            do {
                let result = try await body(connection)
                await connection.close()
                await drop()
                return result
            } catch {
                await connection.close()
                throw error
            }
        } catch {
            await drop()
            throw error
        }
    }

    static func int(_ connection: PostgresConnection, _ sql: String) async throws -> Int {
        try await connection.query(sql)[0].decode(0, as: Int.self)
    }

    static func string(_ connection: PostgresConnection, _ sql: String) async throws -> String {
        try await connection.query(sql)[0].decode(0, as: String.self)
    }
}

@Suite struct DemoLoaderTests {
    static func tiny(seed: UInt64 = 7, replace: Bool = false, finish: Bool = true) -> DemoLoadConfiguration {
        DemoLoadConfiguration(leads: 500, events: 3000, workspaces: 2, seed: seed, now: DemoTestSupport.now,
                              replace: replace, finish: finish)
    }

    @Test func loadsEveryTableIntoMonthlyPartitionsAndRefreshesTheViews() async throws {
        try await DemoTestSupport.withScratchDatabase { db in
            let loader = DemoLoader(configuration: Self.tiny(), logger: DemoTestSupport.logger)
            let summary = try await loader.load(on: db, schemaSQL: try DemoTestSupport.schemaSQL())
            #expect(summary.appliedSchema)
            #expect(summary.rows(of: "demo.workspaces") == 2)
            #expect(summary.rows(of: "demo.leads") == 500)
            #expect(summary.rows(of: "demo.email_events") == 3000)
            #expect(summary.rows(of: "demo.lead_activities") == 500)
            #expect(summary.defaultPartitionRows == 0)
            // The summary's counts are the tables' counts.
            for table in summary.tables {
                let count = try await DemoTestSupport.int(db, "SELECT count(*) FROM \(DemoLoader.quoted(table.name))")
                #expect(count == table.rows, "\(table.name)")
            }
            let sends = try #require(summary.rows(of: "demo.email_sends"))
            #expect(sends > 1000 && sends < 1500, "about 2.4 events per send: \(sends)")

            // Nothing in the DEFAULT partitions; rows spread over several monthly partitions.
            for table in DemoLoader.partitionedTables {
                #expect(try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.\(table)_default") == 0, "\(table)")
                let partitions = try await DemoTestSupport.int(db, "SELECT count(DISTINCT tableoid) FROM demo.\(table)")
                #expect(partitions >= 4, "\(table) rows in \(partitions) partitions")
            }
            // Nothing after the reference time, nothing before the 12-month window.
            let late = try await DemoTestSupport.int(db, """
                SELECT count(*) FROM demo.email_events WHERE created_at > to_timestamp(\(Int(DemoTestSupport.now.timeIntervalSince1970)))
                """)
            #expect(late == 0)

            // A plausible funnel: sent > delivered > opened > clicked, and some bounces.
            let types = try await db.query("SELECT event_type, count(*)::int8 FROM demo.email_events GROUP BY 1")
            var byType: [String: Int] = [:]
            for row in types { byType[try row.decode(0)] = try row.decode(1) }
            let sent = byType["sent"] ?? 0
            let delivered = byType["delivered"] ?? 0
            let opened = byType["opened"] ?? 0
            let clicked = byType["clicked"] ?? 0
            #expect(sent > delivered && delivered > opened && opened > clicked && clicked > 0, "\(byType)")
            #expect((byType["bounced"] ?? 0) > 0)
            #expect(try await DemoTestSupport.int(db, "SELECT count(DISTINCT status) FROM demo.leads") >= 4)
            // Every send and event points at a loaded lead and campaign of the same workspace.
            #expect(try await DemoTestSupport.int(db, """
                SELECT count(*) FROM demo.email_events e
                LEFT JOIN demo.leads l ON l.id = e.lead_id AND l.workspace_id = e.workspace_id
                LEFT JOIN demo.campaigns c ON c.id = e.campaign_id AND c.workspace_id = e.workspace_id
                WHERE l.id IS NULL OR c.id IS NULL
                """) == 0)
            #expect(try await DemoTestSupport.int(db, """
                SELECT count(*) FROM (SELECT lead_id, campaign_id FROM demo.email_sends GROUP BY 1, 2 HAVING count(*) > 1) d
                """) == 0, "no lead gets the same campaign twice")

            // The views were refreshed: one row per campaign, per workspace, per lead.
            let campaigns = try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.campaigns")
            #expect(try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.campaign_analytics") == campaigns)
            #expect(try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.workspace_usage_analytics") == 2)
            #expect(try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.lead_engagement_scores") == 500)
            // Deliverability covers the last 30 days: rows exactly when sends went out then.
            let recentSends = try await DemoTestSupport.int(db, """
                SELECT count(*) FROM demo.email_sends
                WHERE created_at >= now() - interval '30 days' AND status IN ('sent', 'delivered', 'bounced')
                """)
            let deliverability = try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.email_deliverability_metrics")
            #expect((recentSends > 0) == (deliverability > 0), "\(recentSends) recent sends, \(deliverability) rows")
            #expect(try await DemoTestSupport.int(db, "SELECT sum(sent_count)::int8 FROM demo.campaign_analytics") > 0)
            // ANALYZE ran.
            #expect(try await DemoTestSupport.int(db,
                "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'demo' AND relname = 'leads' AND last_analyze IS NOT NULL") == 1)
        }
    }

    /// md5 of every row of every loaded table, in id order.
    static func fingerprint(_ db: PostgresConnection) async throws -> [String: String] {
        var result: [String: String] = [:]
        for table in DemoLoader.tables {
            let order = table == "demo.ai_usage" ? "created_at, workspace_id, feature, tokens_used" : "id"
            let columns = table == "demo.ai_usage" ? "workspace_id, feature, tokens_used, created_at" : "t.*"
            result[table] = try await DemoTestSupport.string(db, """
                SELECT coalesce(md5(string_agg(row_text, '|' ORDER BY k)), '')
                FROM (SELECT (\(columns))::text AS row_text, (\(order))::text AS k FROM \(DemoLoader.quoted(table)) t) s
                """)
        }
        return result
    }

    @Test func sameSeedSameRowsAndReloadNeedsReplace() async throws {
        try await DemoTestSupport.withScratchDatabase { db in
            // No schema and no SQL to apply: a clear error, nothing created.
            let missing = await #expect(throws: DemoLoadError.self) {
                try await DemoLoader(configuration: Self.tiny(finish: false), logger: DemoTestSupport.logger).load(on: db, schemaSQL: nil)
            }
            #expect(missing?.code == .schemaMissing)

            let first = DemoLoader(configuration: Self.tiny(finish: false), logger: DemoTestSupport.logger)
            _ = try await first.load(on: db, schemaSQL: try DemoTestSupport.schemaSQL())
            let a = try await Self.fingerprint(db)

            // Loading again into full tables is refused unless replacing.
            let full = await #expect(throws: DemoLoadError.self) { try await first.load(on: db, schemaSQL: nil) }
            #expect(full?.code == .notEmpty)

            _ = try await DemoLoader(configuration: Self.tiny(replace: true, finish: false), logger: DemoTestSupport.logger)
                .load(on: db, schemaSQL: nil)
            let b = try await Self.fingerprint(db)
            #expect(a == b)
            #expect(a.values.allSatisfy { !$0.isEmpty })

            _ = try await DemoLoader(configuration: Self.tiny(seed: 8, replace: true, finish: false), logger: DemoTestSupport.logger)
                .load(on: db, schemaSQL: nil)
            let c = try await Self.fingerprint(db)
            #expect(c["demo.leads"] != a["demo.leads"])
            #expect(c["demo.email_events"] != a["demo.email_events"])
            #expect(try await DemoTestSupport.int(db, "SELECT count(*) FROM demo.email_events") == 3000)
        }
    }

    @Test func rejectsSizesOutOfRange() throws {
        #expect(throws: DemoLoadError.self) { try DemoLoadConfiguration(leads: 0, events: 10).validate() }
        #expect(throws: DemoLoadError.self) { try DemoLoadConfiguration(leads: 5, events: 10, workspaces: 6).validate() }
        #expect(throws: DemoLoadError.self) { try DemoLoadConfiguration(leads: 5, events: -1).validate() }
        try DemoLoadConfiguration(leads: 5, events: 0, workspaces: 5).validate()
        #expect(DemoLoadConfiguration.defaultWorkspaces(leads: 2_000_000) == 100)
        #expect(DemoLoadConfiguration.defaultWorkspaces(leads: 1) == 1)
    }

    @Test func planProducesExactlyTheRequestedEvents() {
        for events in [0, 1, 7, 2500] {
            let plan = DemoPlan(configuration: DemoLoadConfiguration(leads: 50, events: events, workspaces: 3, now: DemoTestSupport.now))
            let rows = DemoRows(plan: plan)
            #expect(Array(DemoRows.EventRows(rows: rows)).count == events)
            #expect(Array(DemoRows.SendRows(rows: rows)).count == plan.sends)
            #expect(plan.campaigns.reduce(0) { $0 + $1.recipients } == plan.sends)
            for c in plan.campaigns { #expect(c.recipients <= plan.workspaces[c.workspace].leadCount) }
        }
    }
}
