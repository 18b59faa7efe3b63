// Runs jobs/demo/schema.sql into a scratch database on the real server and checks it against
// the demo catalog. The project's Postgres client lives in another module, so this test alone
// shells out to psql, sending the script as ONE string with -c, the way PQexec would.

import Foundation
import Testing
import TestSupport
@testable import SluiceCatalog
@testable import SluiceCatalogLoader

@Suite struct DemoSchemaIntegrationTests {
    struct PsqlFailure: Error, CustomStringConvertible {
        var status: Int32
        var output: String
        var description: String { "psql exited with \(status): \(output)" }
    }

    /// Runs psql against `url` with `sql` as one -c string; returns unaligned, tuples-only output.
    @discardableResult
    static func psqlBlocking(_ url: String, _ sql: String) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        environment["PGOPTIONS"] = "-c client_min_messages=warning"
        let (status, output) = try runProcessBlocking("psql", ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                                                      environment: environment)
        guard status == 0 else { throw PsqlFailure(status: status, output: output) }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// psql off the cooperative pool: a blocked pool thread would stall the parallel tests.
    @discardableResult
    static func psql(_ url: String, _ sql: String) async throws -> String {
        try await offPool { try psqlBlocking(url, sql) }
    }

    static func rows(_ url: String, _ sql: String) async throws -> [String] {
        try await psql(url, sql).split(separator: "\n").map(String.init)
    }

    /// `url` with its database replaced.
    static func url(_ base: String, database: String) throws -> String {
        var components = try #require(URLComponents(string: base))
        components.path = "/" + database
        return try #require(components.string)
    }

    @Test func schemaBuildsTheDeclaredObjects() async throws {
        let database = TestEnvironment.uniqueName("demo_check")
        let admin = TestEnvironment.postgresURL
        try await Self.psql(admin, "CREATE DATABASE \(database)")
        defer { _ = try? Self.psqlBlocking(admin, "DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
        let db = try Self.url(admin, database: database)

        let schema = try String(
            contentsOf: Fixtures.repositoryRoot.appendingPathComponent("jobs/demo/schema.sql"), encoding: .utf8)
        try await Self.psql(db, schema)
        // Re-running is a no-op, not an error.
        try await Self.psql(db, schema)

        let catalog = try CatalogLoader.load(directory: Fixtures.jobsFolder)

        // The three partitioned tables: RANGE on the catalog's column, with a DEFAULT partition.
        let partitioned = try await Self.rows(db, """
            SELECT c.relname || '|' || pg_get_partkeydef(c.oid) || '|' || (p.partdefid <> 0)
            FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'demo' ORDER BY 1
            """)
        #expect(partitioned == [
            "email_events|RANGE (created_at)|true", "email_sends|RANGE (created_at)|true",
            "lead_activities|RANGE (created_at)|true",
        ])
        for table in catalog.partitionedTables {
            #expect(partitioned.contains("\(table.table.name)|RANGE (\(table.column))|true"), "\(table.table)")
        }

        // The initial months use the partitions job's names: the current UTC month exists, and
        // the DEFAULT partition is named as the catalog expects.
        let now = try await Self.psql(db, "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY MM')").split(separator: " ")
        let (year, month) = (Int(now[0])!, Int(now[1])!)
        for table in catalog.partitionedTables {
            let current = table.partitionName(year: year, month: month, day: 1)
            let found = try await Self.psql(db, """
                SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = '\(table.table.quoted)'::regclass
                  AND c.relname IN ('\(current)', '\(table.defaultPartitionName)')
                """)
            #expect(found == "2", "\(table.table): \(current)")
        }

        // The four views: populated, each with a valid unique index on plain columns and no
        // WHERE clause, so REFRESH ... CONCURRENTLY works; and it does.
        let views = try await Self.rows(db, """
            SELECT m.matviewname FROM pg_matviews m
            WHERE m.schemaname = 'demo' AND m.ispopulated AND EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
                  AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL)
            ORDER BY 1
            """)
        #expect(views == ["campaign_analytics", "email_deliverability_metrics", "lead_engagement_scores", "workspace_usage_analytics"])
        for view in catalog.materializedViews {
            #expect(views.contains(view.view.name.rawValue))
            try await Self.psql(db, "REFRESH MATERIALIZED VIEW CONCURRENTLY \(Catalog.quoted(view.view))")
        }

        // Every other table, index and column the catalog names exists in the schema.
        var relations = Set<QualifiedName>()
        relations.formUnion(catalog.vacuumPolicies.flatMap(\.tables))
        relations.formUnion(catalog.analyzePolicies.flatMap(\.tables))
        relations.formUnion(catalog.reindexPolicies.flatMap(\.tables))
        relations.formUnion(catalog.reindexPolicies.flatMap(\.indexes))
        relations.formUnion(catalog.cleanupPolicies.map(\.table))
        for name in relations.sorted() {
            #expect(try await Self.psql(db, "SELECT to_regclass('\(name.quoted)') IS NOT NULL") == "t", "\(name)")
        }
        for policy in catalog.cleanupPolicies {
            let columns = [policy.column] + policy.key + policy.match.map(\.column)
            let list = columns.map { "'\($0)'" }.joined(separator: ",")
            let found = try await Self.psql(db, """
                SELECT count(DISTINCT column_name) FROM information_schema.columns
                WHERE table_schema = '\(policy.table.schema)' AND table_name = '\(policy.table.name)'
                  AND column_name IN (\(list))
                """)
            #expect(found == "\(Set(columns).count)", "\(policy.name)")
        }
        for table in catalog.partitionedTables where table.retentionMode == .archive {
            #expect(try await Self.psql(db, "SELECT to_regnamespace('\(table.archiveSchema!.quoted)') IS NOT NULL") == "t")
        }
    }
}
