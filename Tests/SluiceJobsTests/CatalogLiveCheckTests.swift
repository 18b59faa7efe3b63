// Integration tests of CatalogLiveCheck on the real server: the repository's catalog passes on
// a database holding the demo schema, and a catalog written here (so its line numbers are
// known) that declares missing, mis-shaped and forbidden objects gets each one reported at the
// declaration's file and line, naming the object. One scratch database per test.

import Foundation
import Postgres
import SluiceDemo
import Testing
import TestSupport
@testable import SluiceCatalog
@testable import SluiceCatalogLoader
@testable import SluiceJobs

@Suite struct CatalogLiveCheckTests {
    /// Applies the demo schema and pg_stat_statements to a scratch database.
    static func prepareDemo(_ db: PostgresConnection) async throws {
        try await DemoLoader.applySchema(try DemoTestSupport.schemaSQL(), on: db)
        try await db.simpleQuery("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    }

    @Test func repositoryCatalogPassesOnTheDemoSchema() async throws {
        try await DemoTestSupport.withScratchDatabase("jobs_live_ok") { db in
            try await Self.prepareDemo(db)
            let catalog = try CatalogLoader.load(directory: DemoTestSupport.jobsFolder)
            let report = try await CatalogLiveCheck(catalog: catalog).run(on: db)
            #expect(report.problems.isEmpty, "\(report.problems)")
            #expect(report.warnings.isEmpty, "\(report.warnings)")
            #expect(report.isValid)

            // Without the extension, that alone is reported, at the target's declaration.
            try await db.simpleQuery("DROP EXTENSION pg_stat_statements")
            let without = try await CatalogLiveCheck(catalog: catalog).run(on: db)
            #expect(without.problems.map(\.code) == [.missingExtension])
            #expect(without.problems.first?.location.file == "sluice.yaml")
        }
    }

    /// Issue 18: a segment field or lookup that no index serves is a warning naming it.
    @Test func segmentFieldsWithoutAnIndexAreWarned() async throws {
        try await DemoTestSupport.withScratchDatabase("jobs_live_segidx") { db in
            try await Self.prepareDemo(db)
            try await db.simpleQuery("""
                DROP INDEX demo.idx_leads_workspace_source;
                DROP INDEX demo.idx_leads_company_trgm;
                DROP INDEX demo.lead_engagement_scores_lead_id_key;
                DROP INDEX demo.lead_engagement_scores_workspace_level;
                """)
            let catalog = try CatalogLoader.load(directory: DemoTestSupport.jobsFolder)
            let report = try await CatalogLiveCheck(catalog: catalog).run(on: db)
            let noIndex = report.warnings.filter { $0.code == .noIndex }.map(\.message)
            #expect(noIndex.count == 3, "\(report.warnings)")
            #expect(noIndex.contains { $0.contains("segment field source") && $0.contains("no index") })
            #expect(noIndex.contains { $0.contains("segment field company") && $0.contains("trigram") })
            #expect(noIndex.contains { $0.contains("segment field engagement_level") && $0.contains("lead_id") })
            // Without its unique index the view cannot be refreshed concurrently: that is a problem.
            #expect(report.problems.map(\.code) == [.noUniqueIndex], "\(report.problems)")
        }
    }

    /// A catalog declaring one broken object per section. Every marker below starts the line of
    /// the declaration it belongs to.
    static let brokenCatalog = """
        version: 1
        classes:
          analytics:
            role: sluice_test_no_such_role_x
        partitioned_tables:
          - table: demo.plain_events
            column: created_at
          - table: demo.listed_events
            column: created_at
          - table: demo.no_default_events
            column: created_at
          - table: demo.email_events
            column: created_at
          - table: demo.missing_events
            column: created_at
        materialized_views:
          - view: demo.no_such_view
          - view: demo.mv_without_unique
            refresh: concurrent
          - view: demo.campaign_analytics
            refresh: concurrent
          - view: demo.leads
        vacuum:
          - name: broken_vacuum
            tables: [demo.leads, demo.no_such_table]
        reindex:
          - name: broken_reindex
            indexes: [demo.bookings_during_excl, demo.no_such_index]
          - name: catalog_reindex
            tables: [pg_catalog.pg_class]
        cleanup:
          - name: missing_column
            table: demo.leads
            column: deleted_at
            age: 30 days
          - name: text_column
            table: demo.leads
            column: email
            age: 30 days
          - name: partitioned_without_key
            table: demo.email_sends
            column: created_at
            age: 30 days
        """

    /// 1-based line of the first line of `text` containing `marker`.
    static func line(of marker: String, in text: String = brokenCatalog) -> Int {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (lines.firstIndex { $0.contains(marker) } ?? -1) + 1
    }

    @Test func reportsEachBrokenDeclarationAtItsFileAndLine() async throws {
        try await DemoTestSupport.withScratchDatabase("jobs_live_bad") { db in
            try await Self.prepareDemo(db)
            try await db.simpleQuery("""
                CREATE TABLE demo.plain_events (id bigint, created_at timestamptz);
                CREATE TABLE demo.listed_events (kind text, created_at timestamptz) PARTITION BY LIST (kind);
                CREATE TABLE demo.no_default_events (created_at timestamptz) PARTITION BY RANGE (created_at);
                CREATE TABLE demo.no_default_events_p2030_01 PARTITION OF demo.no_default_events
                    FOR VALUES FROM ('2030-01-01 00:00:00+00') TO ('2030-02-01 00:00:00+00');
                CREATE TABLE demo.email_events_oddname PARTITION OF demo.email_events
                    FOR VALUES FROM ('2031-01-01 00:00:00+00') TO ('2031-02-01 00:00:00+00');
                CREATE TABLE demo.email_events_p2032_05 PARTITION OF demo.email_events
                    FOR VALUES FROM ('2032-05-01 00:00:00+00') TO ('2032-07-01 00:00:00+00');
                CREATE MATERIALIZED VIEW demo.mv_without_unique AS SELECT 1 AS x, 2 AS y;
                CREATE UNIQUE INDEX mv_without_unique_partial ON demo.mv_without_unique (x) WHERE y > 0;
                CREATE TABLE demo.bookings (during tstzrange, EXCLUDE USING gist (during WITH &&));
                """)
            let source = CatalogSource(path: "broken.yaml", text: Self.brokenCatalog)
            let check = CatalogLoader.check(sources: [source])
            #expect(check.problems.isEmpty, "the broken catalog is statically valid: \(check.problems)")
            let report = try await CatalogLiveCheck(catalog: check.catalog).run(on: db)

            func expectFinding(
                _ code: CatalogProblem.Code, at marker: String, naming object: String, warning: Bool = false,
                sourceLocation: Testing.SourceLocation = #_sourceLocation
            ) {
                let line = Self.line(of: marker)
                let found = (warning ? report.warnings : report.problems).contains {
                    $0.code == code && $0.location.file == "broken.yaml" && $0.location.line == line && $0.message.contains(object)
                }
                #expect(found, "\(code) for \(object) at broken.yaml:\(line); got:\n\(report.problems + report.warnings)",
                        sourceLocation: sourceLocation)
            }
            expectFinding(.missingRole, at: "analytics:", naming: "sluice_test_no_such_role_x")
            expectFinding(.wrongKind, at: "table: demo.plain_events", naming: "demo.plain_events")
            expectFinding(.partitionKey, at: "table: demo.listed_events", naming: "LIST")
            expectFinding(.noDefaultPartition, at: "table: demo.no_default_events", naming: "demo.no_default_events", warning: true)
            expectFinding(.partitionNaming, at: "table: demo.email_events", naming: "demo.email_events_oddname")
            expectFinding(.partitionNaming, at: "table: demo.email_events", naming: "demo.email_events_p2032_05")
            expectFinding(.missingObject, at: "table: demo.missing_events", naming: "demo.missing_events")
            expectFinding(.missingObject, at: "view: demo.no_such_view", naming: "demo.no_such_view")
            expectFinding(.noUniqueIndex, at: "view: demo.mv_without_unique", naming: "mv_without_unique_partial has a WHERE clause")
            expectFinding(.wrongKind, at: "view: demo.leads", naming: "demo.leads")
            expectFinding(.missingObject, at: "name: broken_vacuum", naming: "demo.no_such_table")
            expectFinding(.forbiddenObject, at: "name: broken_reindex", naming: "demo.bookings_during_excl")
            expectFinding(.missingObject, at: "name: broken_reindex", naming: "demo.no_such_index")
            expectFinding(.forbiddenObject, at: "name: catalog_reindex", naming: "pg_catalog.pg_class")
            expectFinding(.missingObject, at: "name: missing_column", naming: "deleted_at")
            expectFinding(.columnType, at: "name: text_column", naming: "email")
            expectFinding(.keyNotUnique, at: "name: partitioned_without_key", naming: "demo.email_sends")

            // The well-formed declarations raise nothing: the demo's own partitions and view.
            let campaignLine = Self.line(of: "view: demo.campaign_analytics")
            #expect(!(report.problems + report.warnings).contains { $0.location.line == campaignLine })
            let eventsLine = Self.line(of: "table: demo.email_events")
            #expect(report.problems.filter { $0.location.line == eventsLine }.count == 2, "only the two odd partitions")
            #expect(report.problems.count == 16, "\(report.problems)")
            #expect(report.warnings.count == 1, "\(report.warnings)")
        }
    }

    @Test func partitionNamingFollowsTheInterval() throws {
        let at = SluiceCatalog.SourceLocation(file: "t.yaml", line: 1)
        let weekly = PartitionedTable(table: try QualifiedName(parsing: "demo.events"), column: SQLIdentifier("created_at")!,
                                      interval: .weekly, location: at)
        func partition(_ name: String, _ from: String, _ to: String) -> CatalogLiveCheck.Database.Partition {
            let f = ISO8601DateFormatter()
            return .init(schema: "demo", name: name, isDefault: false, bound: "FOR VALUES FROM ('\(from)') TO ('\(to)')",
                         lower: f.date(from: from), upper: f.date(from: to))
        }
        // 2026-11-23 is a Monday.
        #expect(CatalogLiveCheck.namingProblem(partition("events_p2026_11_23", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"), of: weekly) == nil)
        #expect(CatalogLiveCheck.namingProblem(partition("events_p2026_11_24", "2026-11-24T00:00:00Z", "2026-12-01T00:00:00Z"), of: weekly) != nil)
        #expect(CatalogLiveCheck.namingProblem(partition("events_w48", "2026-11-23T00:00:00Z", "2026-11-30T00:00:00Z"), of: weekly)?
            .contains("should be named demo.events_p2026_11_23") == true)
        let unbounded = CatalogLiveCheck.Database.Partition(schema: "demo", name: "events_old", isDefault: false,
                                                           bound: "FOR VALUES FROM (MINVALUE) TO ('2020-01-01')", lower: nil, upper: nil)
        #expect(CatalogLiveCheck.namingProblem(unbounded, of: weekly) != nil)
    }
}
