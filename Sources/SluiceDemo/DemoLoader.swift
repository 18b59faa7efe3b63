// DemoLoader: fills the demo email-marketing schema (jobs/demo/schema.sql) with realistic,
// seed-deterministic data through COPY: workspaces, leads, campaigns, email_sends,
// email_events, lead_activities and ai_usage, then VACUUMs (ANALYZE) the tables and refreshes (and
// vacuums) the four materialized views so the demo is ready for the maintenance and refresh jobs.
//
// Rows are generated lazily while COPY sends them (one table at a time over one connection),
// so memory stays flat for millions of rows; only workspaces and campaigns are held in memory.
// It creates the monthly partitions its 12-month window needs (same names as the schema and
// the partitions job), so no row lands in a DEFAULT partition. It refuses to load into demo
// tables that already hold rows unless told to replace them.

import Foundation
import Logging
import Postgres

public struct DemoLoader: Sendable {
    public var configuration: DemoLoadConfiguration
    public var logger: Logger

    /// The tables loaded, in load order (foreign keys point backwards).
    public static let tables = [
        "demo.workspaces", "demo.campaigns", "demo.leads", "demo.ai_usage",
        "demo.email_sends", "demo.email_events", "demo.lead_activities",
    ]
    /// The big tables whose keys and indexes are rebuilt after loading rather than maintained row by row.
    static let bulkTables = ["demo.leads", "demo.ai_usage", "demo.email_sends", "demo.email_events", "demo.lead_activities"]
    /// The monthly-partitioned tables.
    public static let partitionedTables = ["email_sends", "email_events", "lead_activities"]
    /// The materialized views refreshed at the end.
    public static let views = [
        "demo.campaign_analytics", "demo.workspace_usage_analytics",
        "demo.lead_engagement_scores", "demo.email_deliverability_metrics",
    ]

    public init(configuration: DemoLoadConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Schema

    /// True when the demo schema has been applied (demo.leads exists).
    public static func schemaExists(on connection: PostgresConnection) async throws(DemoLoadError) -> Bool {
        try await run("checking for the demo schema") { () throws(PostgresError) in
            try await connection.query("SELECT to_regclass('demo.leads') IS NOT NULL")[0].decode(0, as: Bool.self)
        }
    }

    /// Runs `sql` (jobs/demo/schema.sql: idempotent, one multi-statement string).
    public static func applySchema(_ sql: String, on connection: PostgresConnection) async throws(DemoLoadError) {
        try await run("applying the demo schema") { () throws(PostgresError) in
            _ = try await connection.simpleQuery("SET client_min_messages = warning;\n" + sql + "\n;RESET client_min_messages")
        }
    }

    // MARK: Load

    /// Loads the demo data set over `connection`. When the schema is missing it is applied from
    /// `schemaSQL` (or the load fails with `.schemaMissing`). `progress` is called every
    /// `progressInterval` from the loading task.
    public func load(
        on connection: PostgresConnection, schemaSQL: String?,
        progress: @escaping @Sendable (DemoLoadProgress) -> Void = { _ in }
    ) async throws(DemoLoadError) -> DemoLoadSummary {
        try configuration.validate()
        let started = ContinuousClock.now
        var appliedSchema = false
        if try await !Self.schemaExists(on: connection) {
            guard let schemaSQL else {
                throw DemoLoadError(.schemaMissing, "the demo schema is not applied (run `sluice demo schema`)")
            }
            try await Self.applySchema(schemaSQL, on: connection)
            appliedSchema = true
        }
        try await Self.run("setting session parameters") { () throws(PostgresError) in
            _ = try await connection.simpleQuery("SET synchronous_commit = off; SET work_mem = '128MB'; SET maintenance_work_mem = '256MB'")
        }
        let plan = DemoPlan(configuration: configuration)
        logger.info("demo load planned", metadata: [
            "demo.leads": "\(plan.leads)", "demo.sends": "\(plan.sends)", "demo.events": "\(plan.events)",
            "demo.campaigns": "\(plan.campaigns.count)", "demo.workspaces": "\(plan.workspaces.count)",
        ])
        let meter = DemoProgressMeter(interval: configuration.progressInterval, report: progress)
        var tables: [DemoLoadSummary.Table] = []
        let copyStart = ContinuousClock.now
        var indexSeconds = 0.0

        // One transaction: a failed or interrupted load leaves the tables, partitions and indexes
        // as they were.
        try await Self.run("starting the load transaction") { () throws(PostgresError) in
            _ = try await connection.simpleQuery("BEGIN")
        }
        do {
            try await prepareTables(connection)
            try await createPartitions(plan, connection)
            let saved = try await Self.run("setting the big tables' indexes aside") { () throws(PostgresError) in
                let saved = try await DemoBulkIndexes.capture(tables: Self.bulkTables, on: connection)
                try await saved.drop(on: connection)
                return saved
            }
            let rows = DemoRows(plan: plan)
            tables.append(try await copy("demo.workspaces", DemoRows.workspaceColumns, rows.workspaceRows(),
                                         expected: plan.workspaces.count, meter, connection))
            tables.append(try await copy("demo.campaigns", DemoRows.campaignColumns, rows.campaignRows(),
                                         expected: plan.campaigns.count, meter, connection))
            tables.append(try await copy("demo.leads", DemoRows.leadColumns, (0..<plan.leads).lazy.map(rows.leadRow),
                                         expected: plan.leads, meter, connection))
            tables.append(try await copy("demo.ai_usage", DemoRows.aiUsageColumns, (0..<plan.aiUsage).lazy.map(rows.aiUsageRow),
                                         expected: plan.aiUsage, meter, connection))
            tables.append(try await copy("demo.email_sends", DemoRows.sendColumns, DemoRows.SendRows(rows: rows),
                                         expected: plan.sends, meter, connection))
            tables.append(try await copy("demo.email_events", DemoRows.eventColumns, DemoRows.EventRows(rows: rows),
                                         expected: plan.events, meter, connection))
            tables.append(try await copy("demo.lead_activities", DemoRows.activityColumns,
                                         (0..<plan.activities).lazy.map(rows.activityRow), expected: plan.activities, meter, connection))
            let indexStart = ContinuousClock.now
            for (label, sql) in saved.rebuildStatements {
                meter.begin("rebuilding \(label)", expected: 0)
                meter.report()
                try await Self.run("rebuilding \(label)") { () throws(PostgresError) in _ = try await connection.simpleQuery(sql) }
            }
            indexSeconds = (ContinuousClock.now - indexStart).demoSeconds
            try await Self.run("committing the load") { () throws(PostgresError) in _ = try await connection.simpleQuery("COMMIT") }
        } catch {
            _ = try? await connection.simpleQuery("ROLLBACK")
            throw error
        }
        let copySeconds = (ContinuousClock.now - copyStart).demoSeconds

        let defaultRows = try await defaultPartitionRows(connection)
        if defaultRows > 0 {
            logger.warning("demo rows landed in DEFAULT partitions", metadata: ["demo.default_rows": "\(defaultRows)"])
        }
        let finishStart = ContinuousClock.now
        if configuration.finish {
            meter.begin("VACUUM (ANALYZE)", expected: 0)
            meter.report()
            // Vacuumed as well as analyzed, as autovacuum leaves a table that has settled: until
            // the visibility map is set, every index-only scan (segments' tenant walks, lookups)
            // visits the heap as well (bench segment's negated lookup: p95 ~300 ms right after
            // a load of 2M leads, ~120 ms once autovacuum had been through).
            try await Self.run("vacuuming and analyzing the demo tables") { () throws(PostgresError) in
                _ = try await connection.simpleQuery("VACUUM (ANALYZE) " + Self.tables.map(Self.quoted).joined(separator: ", "))
            }
            for view in Self.views {
                meter.begin("REFRESH \(view)", expected: 0)
                meter.report()
                try await Self.run("refreshing \(view)") { () throws(PostgresError) in
                    // A refreshed view has no statistics until analyzed: without them the planner
                    // takes a tenant's 400,000 lookup rows for 50 (segment lookups sorted them).
                    _ = try await connection.simpleQuery("REFRESH MATERIALIZED VIEW \(Self.quoted(view))")
                    _ = try await connection.simpleQuery("VACUUM (ANALYZE) \(Self.quoted(view))")
                }
            }
        }
        try await Self.run("resetting session parameters") { () throws(PostgresError) in
            _ = try await connection.simpleQuery("RESET synchronous_commit; RESET work_mem; RESET maintenance_work_mem")
        }
        return DemoLoadSummary(
            seed: configuration.seed, tables: tables, copySeconds: copySeconds,
            indexSeconds: indexSeconds, finishSeconds: (ContinuousClock.now - finishStart).demoSeconds,
            totalSeconds: (ContinuousClock.now - started).demoSeconds, defaultPartitionRows: defaultRows,
            appliedSchema: appliedSchema)
    }

    /// `"demo"."leads"` from `demo.leads` (the fixed names above only).
    static func quoted(_ name: String) -> String {
        name.split(separator: ".").map { PostgresIdentifier.quote(String($0)) }.joined(separator: ".")
    }

    /// Refuses (or truncates, with `replace`) demo tables that already hold rows.
    func prepareTables(_ connection: PostgresConnection) async throws(DemoLoadError) {
        let occupied = try await Self.run("checking the demo tables") { () throws(PostgresError) in
            try await connection.query("""
                SELECT EXISTS (SELECT 1 FROM demo.workspaces) OR EXISTS (SELECT 1 FROM demo.leads)
                    OR EXISTS (SELECT 1 FROM demo.email_events) OR EXISTS (SELECT 1 FROM demo.email_sends)
                    OR EXISTS (SELECT 1 FROM demo.lead_activities) OR EXISTS (SELECT 1 FROM demo.ai_usage)
                """)[0].decode(0, as: Bool.self)
        }
        guard occupied else { return }
        guard configuration.replace else {
            throw DemoLoadError(.notEmpty, "the demo tables already hold rows; replace them (--replace) or load into another database")
        }
        try await Self.run("truncating the demo tables") { () throws(PostgresError) in
            _ = try await connection.simpleQuery("TRUNCATE " + Self.tables.map(Self.quoted).joined(separator: ", ") + " RESTART IDENTITY")
        }
    }

    /// Creates the monthly partitions of the load window that do not exist yet.
    func createPartitions(_ plan: DemoPlan, _ connection: PostgresConnection) async throws(DemoLoadError) {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var statements: [String] = []
        for table in Self.partitionedTables {
            for (year, month) in plan.months {
                let (nextYear, nextMonth) = month == 12 ? (year + 1, 1) : (year, month + 1)
                let child = PostgresIdentifier.quote("\(table)_p\(year)_\(two(month))")
                statements.append("""
                    CREATE TABLE IF NOT EXISTS "demo".\(child) PARTITION OF "demo".\(PostgresIdentifier.quote(table)) \
                    FOR VALUES FROM ('\(year)-\(two(month))-01 00:00:00+00') TO ('\(nextYear)-\(two(nextMonth))-01 00:00:00+00')
                    """)
            }
        }
        try await Self.run("creating the monthly partitions") { () throws(PostgresError) in
            _ = try await connection.simpleQuery("SET client_min_messages = warning; " + statements.joined(separator: ";\n")
                + "; RESET client_min_messages")
        }
    }

    func defaultPartitionRows(_ connection: PostgresConnection) async throws(DemoLoadError) -> Int {
        var total = 0
        for table in Self.partitionedTables {
            let name = "demo.\(table)_default"
            total += try await Self.run("counting \(name)") { () throws(PostgresError) in
                guard try await connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(name)])[0].decode(0, as: Bool.self)
                else { return 0 }
                return try await connection.query("SELECT count(*) FROM \(Self.quoted(name))")[0].decode(0, as: Int.self)
            }
        }
        return total
    }

    func copy<Rows: Sequence<[PostgresValue]>>(
        _ table: String, _ columns: String, _ rows: Rows, expected: Int, _ meter: DemoProgressMeter,
        _ connection: PostgresConnection
    ) async throws(DemoLoadError) -> DemoLoadSummary.Table {
        meter.begin(table, expected: expected)
        let start = ContinuousClock.now
        let copied: Int
        do {
            copied = try await connection.copyIn(
                into: "COPY \(Self.quoted(table)) (\(columns)) FROM STDIN", rows: DemoMeteredRows(base: rows, meter: meter))
        } catch {
            throw DemoLoadError(.database, "loading \(table) failed after about \(meter.rows) rows", cause: error)
        }
        let seconds = (ContinuousClock.now - start).demoSeconds
        logger.info("demo table loaded", metadata: ["demo.table": "\(table)", "demo.rows": "\(copied)", "demo.seconds": "\(seconds)"])
        return DemoLoadSummary.Table(name: table, rows: copied, seconds: seconds)
    }

    /// Runs one database step, wrapping its failure with what was being done.
    static func run<T>(
        _ what: String, _ body: () async throws(PostgresError) -> T
    ) async throws(DemoLoadError) -> T {
        do {
            return try await body()
        } catch {
            throw DemoLoadError(.database, "\(what) failed", cause: error)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var demoSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
