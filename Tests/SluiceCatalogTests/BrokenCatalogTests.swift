import Foundation
import Testing
@testable import SluiceCatalog
@testable import SluiceCatalogLoader

/// Each broken file below is written to disk and loaded through the folder loader; the
/// expected line numbers are the lines of the YAML text as written (first line = 1).
@Suite struct BrokenCatalogTests {
    static let objects = """
        partitioned_tables:
          - table: demo.email_events
            column: created_at
          - table: demo.email_sends
            column: created_at
            retenton: 12 months
          - table: demo.lead_activities
            column: created_at
            premake: lots
          - table: "leads; drop table x"
            column: created_at
          - table: '"evil"'
            column: created_at
          - table: a.b.c
            column: created_at
          - table: demo.email_events
            column: created_at
        materialized_views:
          - view: demo.campaign_analytics
            refresh: sometimes
        cleanup:
          - name: old_sends
            table: demo.email_sends
            column: created_at
            age: 12m
            pause: 5 minutes
          - name: stale
            table: demo.email_sends
            column: created_at
            age: 30 days
            targets: [reporting]
        """

    static let settings = """
        classes:
          maintenance:
            statement_timeout: 5 minutes
            lock_timeout: 5min
          analytic:
            concurrency: 4
          refresh:
            concurrency: "4"
        cleanup:
          - name: stale
            table: demo.email_sends
            column: created_at
            age: 30 days
        """

    @Test func reportsEveryProblemWithFileAndLine() throws {
        let check = try Fixtures.withCatalog(["demo/objects.yaml": Self.objects, "sluice.yaml": Self.settings]) {
            CatalogLoader.check(directory: $0)
        }
        #expect(check.summary == [
            "demo/objects.yaml:6 unknown_key",  // retenton
            "demo/objects.yaml:9 wrong_type",  // premake: lots
            "demo/objects.yaml:10 invalid_identifier",  // leads; drop table x
            "demo/objects.yaml:12 invalid_identifier",  // "evil"
            "demo/objects.yaml:14 invalid_identifier",  // a.b.c
            "demo/objects.yaml:16 duplicate",  // email_events again
            "demo/objects.yaml:20 invalid_value",  // refresh: sometimes
            "demo/objects.yaml:25 invalid_interval",  // age: 12m
            "demo/objects.yaml:26 invalid_duration",  // pause: 5 minutes
            "demo/objects.yaml:31 unknown_target",  // reporting
            "sluice.yaml:3 invalid_duration",  // 5 minutes
            "sluice.yaml:4 invalid_duration",  // 5min
            "sluice.yaml:5 unknown_class",  // analytic
            "sluice.yaml:8 wrong_type",  // "4"
            "sluice.yaml:10 duplicate",  // cleanup stale, first in demo/objects.yaml
        ], "\(check.problems.map(\.description).joined(separator: "\n"))")

        func message(_ file: String, _ line: Int) -> String {
            check.problems.first { $0.location.file == file && $0.location.line == line }?.message ?? ""
        }
        #expect(message("demo/objects.yaml", 6).contains("did you mean 'retention'?"))
        #expect(message("demo/objects.yaml", 10).contains("semicolon"))
        #expect(message("demo/objects.yaml", 12).contains("quote"))
        #expect(message("demo/objects.yaml", 14).contains("2 dots"))
        #expect(message("demo/objects.yaml", 16).contains("first is at demo/objects.yaml:2"))
        #expect(message("demo/objects.yaml", 25).contains("12 months"))
        #expect(message("sluice.yaml", 3).contains("30s, 5m"))
        #expect(message("sluice.yaml", 5).contains("did you mean 'analytics'?"))
        #expect(message("sluice.yaml", 10).contains("first is at demo/objects.yaml:27"))
        #expect(check.problems.allSatisfy { $0.location.column > 0 })

        // What validated is still there; what did not is left out, so it can never reach SQL.
        #expect(check.catalog.partitionedTable(named: "demo.email_events") != nil)
        #expect(check.catalog.partitionedTable(named: "demo.email_sends") == nil)
        #expect(check.catalog.partitionedTables.count == 1)
        #expect(check.catalog.materializedViews.isEmpty)
        #expect(check.catalog.settings(for: .maintenance).statementTimeout == ClassSettings.defaults(for: .maintenance).statementTimeout)

        let thrown = try Fixtures.withCatalog(["demo/objects.yaml": Self.objects, "sluice.yaml": Self.settings]) { dir in
            Result { () throws(CatalogError) in try CatalogLoader.load(directory: dir) }
        }
        guard case .failure(let thrown) = thrown else {
            Issue.record("a broken catalog loaded")
            return
        }
        #expect(thrown.problems.count == 15)
        #expect(thrown.description.hasPrefix("catalog has 15 problems:"))
    }

    @Test func yamlSyntaxErrorsNameTheirLine() {
        let check = Fixtures.check("""
            materialized_views:
              - view: demo.a
              - view: [demo.b
            vacuum: []
            """)
        #expect(check.problems.count == 1)
        #expect(check.problems.first?.code == .syntax)
        #expect((3...4).contains(check.problems.first?.location.line ?? 0), "\(check.problems)")
    }

    @Test func aKeyRepeatedInOneMappingIsASyntaxProblem() {
        let check = Fixtures.check("""
            materialized_views:
              - view: demo.a
                refresh: plain
                refresh: auto
            """)
        #expect(check.problems.map(\.code) == [.syntax])
        #expect(check.problems.first?.message.contains("'refresh'") == true)
        #expect(check.problems.first?.location.line ?? 0 >= 2)
    }

    @Test func missingAndEmptyFolders() throws {
        let missing = CatalogLoader.check(directory: "/nonexistent/sluice-catalog")
        #expect(missing.problems.map(\.code) == [.unreadable])
        let empty = try Fixtures.withCatalog(["README.md": "not yaml"]) { CatalogLoader.check(directory: $0) }
        #expect(empty.problems.map(\.code) == [.unreadable])
        #expect(empty.problems.first?.message.contains("no .yaml") == true)
        // Hidden files are skipped; an empty YAML file is a valid (empty) catalog.
        let hidden = try Fixtures.withCatalog([".hidden/x.yaml": "bogus: 1", "empty.yml": ""]) {
            CatalogLoader.check(directory: $0)
        }
        #expect(hidden.problems.isEmpty)
        #expect(hidden.catalog.files == ["empty.yml"])
        #expect(hidden.catalog.targets.map(\.name) == ["main"])
    }

    @Test func targetsNeverHoldPasswordsAndMustBeDeclared() {
        let check = Fixtures.check("""
            targets:
              reporting:
                url: postgresql://app:s3cret-pw@db.internal:5432/reports
              local:
                url: postgresql://app@127.0.0.1/reports
              both:
                url: postgresql://x/y
                url_env: X
              neither: {}
              lower:
                url_env: lower_case
              "Bad Name":
                url_env: X
            materialized_views:
              - view: demo.v
                targets: [local, nowhere]
            schedules:
              - name: s
                every: 1h
                kind: refresh.matview
                target: elsewhere
            """)
        #expect(check.summary == [
            "test.yaml:3 invalid_value", "test.yaml:8 conflict", "test.yaml:9 missing_key", "test.yaml:11 invalid_value",
            "test.yaml:12 invalid_identifier", "test.yaml:16 unknown_target", "test.yaml:21 unknown_target",
        ], "\(check.problems)")
        #expect(!check.problems.map(\.description).joined().contains("s3cret"))
        #expect(check.catalog.target(named: "local")?.source == .url("postgresql://app@127.0.0.1/reports"))
        #expect(check.catalog.target(named: "main")?.source == .environment("SLUICE_POSTGRES_URL"))
    }

    @Test func partitionRulesAreChecked() {
        let long = String(repeating: "t", count: 55)
        let check = Fixtures.check("""
            partitioned_tables:
              - table: demo.archived
                column: created_at
                retention: 6 months
                retention_mode: archive
              - table: demo.mixed
                column: created_at
                retention_mode: drop
              - table: demo.wrong_archive
                column: created_at
                retention: 1 year
                archive_schema: old
              - table: pg_catalog.pg_class
                column: created_at
              - table: demo.\(long)
                column: created_at
              - table: demo.ok_daily
                column: created_at
                interval: daily
                premake: 14
                retention: 90 days
                retention_mode: drop
              - table: demo.same_schema
                column: created_at
                retention: 2 years
                retention_mode: archive
                archive_schema: demo
              - table: demo.no_column
            """)
        #expect(check.summary == [
            "test.yaml:5 missing_key", "test.yaml:8 conflict", "test.yaml:12 conflict", "test.yaml:13 invalid_identifier",
            "test.yaml:15 invalid_identifier", "test.yaml:27 conflict", "test.yaml:28 missing_key",
        ], "\(check.problems)")
        let daily = check.catalog.partitionedTable(named: "ok_daily")
        #expect(daily?.interval == .daily)
        #expect(daily?.retention?.postgresInterval == "90 days")
        #expect(daily?.partitionName(year: 2026, month: 11, day: 2).rawValue == "ok_daily_p2026_11_02")
    }

    @Test func policiesAreChecked() {
        let check = Fixtures.check("""
            vacuum:
              - name: a
                tables: [demo.t1, demo.t2]
                dead_tuple_ratio: 20
              - name: b
                tables: [demo.t2]
              - name: c
                tables: []
              - name: d
                tables: demo.t3
            analyze:
              - name: a
                tables: [demo.t1]
                min_modified_rows: -1
            reindex:
              - name: r
              - name: s
                indexes: [demo.i1]
                time_budget: 0s
            cleanup:
              - name: x
                table: demo.t
                column: created_at
                age: 1 month
                batch_size: 0
                match: {status: [], "bad col": x}
            schedules:
              - name: one
                cron: "0 1 * *"
                kind: refresh.matview
              - name: two
                cron: "0 1 * * *"
                every: 1h
                kind: refresh.matview
              - name: three
                every: 1h
                kind: RefreshMatview
                missed: each:0
                time_zone: Mars/Olympus
              - name: four
                every: 500ms
                kind: sys.noop
                args: [1, 2]
            """)
        #expect(check.summary == [
            "test.yaml:4 invalid_value", "test.yaml:6 duplicate", "test.yaml:8 invalid_value", "test.yaml:10 wrong_type",
            "test.yaml:14 invalid_value", "test.yaml:16 missing_key", "test.yaml:19 invalid_duration",
            "test.yaml:25 invalid_value", "test.yaml:26 invalid_value", "test.yaml:26 invalid_identifier",
            "test.yaml:29 invalid_value", "test.yaml:33 conflict", "test.yaml:37 invalid_value", "test.yaml:38 invalid_value",
            "test.yaml:39 invalid_value", "test.yaml:41 invalid_duration", "test.yaml:43 wrong_type",
        ], "\(check.problems.map(\.description).joined(separator: "\n"))")
    }

    @Test func topLevelAndTypeMistakes() {
        let check = Fixtures.check("""
            version: 2
            materialised_views: []
            classes:
              maintenance:
                pool_size: 1
                concurrency: 4
                read_only: maybe
                role: Admin
              analytics:
            vacuum: {name: x}
            """)
        #expect(check.summary == [
            "test.yaml:1 invalid_value", "test.yaml:2 unknown_key", "test.yaml:5 conflict", "test.yaml:7 wrong_type",
            "test.yaml:8 invalid_identifier", "test.yaml:10 wrong_type",
        ], "\(check.problems.map(\.description).joined(separator: "\n"))")
        #expect(check.problems[1].message.contains("did you mean 'materialized_views'?"))
        // A class given as an empty entry keeps its defaults.
        #expect(check.catalog.settings(for: .analytics) == {
            var s = ClassSettings.defaults(for: .analytics)
            s.location = SourceLocation(file: "test.yaml", line: 9, column: 3)
            return s
        }())
    }

    @Test func bareNamesResolveOnlyWhenUnambiguous() {
        let check = Fixtures.check("""
            materialized_views:
              - view: sales.totals
              - view: billing.totals
              - view: sales.daily
              - view: plain_public
            """)
        #expect(check.problems.isEmpty)
        #expect(check.catalog.materializedView(named: "totals") == nil)
        #expect(check.catalog.materializedView(named: "billing.totals")?.view.schema.rawValue == "billing")
        #expect(check.catalog.materializedView(named: "daily")?.view.description == "sales.daily")
        #expect(check.catalog.materializedView(named: "public.plain_public") != nil)
        #expect(check.catalog.materializedView(named: "plain_public")?.view.quoted == #""public"."plain_public""#)
    }

    @Test func poolSizeFollowsConcurrencyWhenNotGiven() throws {
        let check = Fixtures.check("""
            classes:
              analytics:
                concurrency: 16
                statement_timeout: 2m
            """)
        #expect(check.problems.isEmpty)
        let analytics = check.catalog.settings(for: .analytics)
        #expect(analytics.poolSize == 16)
        #expect(analytics.statementTimeout == .seconds(120))
        #expect(analytics.prefetch == 50)
        #expect(analytics.shortJobThreshold == nil)
    }

    @Test func shortJobThresholdIsADurationAndZeroTurnsTheShortPathOff() throws {
        let check = Fixtures.check("""
            classes:
              analytics:
                short_job_threshold: 500ms
              maintenance:
                short_job_threshold: 0s
            """)
        #expect(check.problems.isEmpty)
        #expect(check.catalog.settings(for: .analytics).shortJobThreshold == .milliseconds(500))
        #expect(check.catalog.settings(for: .maintenance).shortJobThreshold == .zero)
        #expect(check.catalog.settings(for: .refresh).shortJobThreshold == nil)
        let bad = Fixtures.check("""
            classes:
              analytics:
                short_job_threshold: soon
            """)
        #expect(bad.problems.contains { $0.message.contains("short_job_threshold") })
    }
}
