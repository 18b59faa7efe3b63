// PartitionsJob (`maintenance.partitions {table}`): keeps a catalog-declared partitioned table's
// partitions made ahead and retires old ones, the job pg_partman's run_maintenance does.
//
// - Creates the current period and `premake` periods ahead, UTC bounds, catalog names. A period
//   whose rows already sit in the DEFAULT partition cannot be created (Postgres would refuse):
//   it is skipped and reported with the row count, for an operator to move the rows.
// - Retires partitions whose whole range is older than `retention`: detach (default), drop, or
//   detach and move to the archive schema. With a DEFAULT partition Postgres forbids
//   `DETACH … CONCURRENTLY`, so the job then uses a plain DETACH (ACCESS EXCLUSIVE on the parent
//   for milliseconds, bounded by lock_timeout), in one transaction with the DROP / SET SCHEMA;
//   without one it detaches CONCURRENTLY (outside a transaction block) and finalizes any detach
//   an earlier run left pending.
// - ANALYZEs the parent after creating partitions, and reports the rows in the DEFAULT partition.
// Each DDL statement is its own short transaction under lock_timeout, so a reader waits behind
// the job for at most lock_timeout. Only partitions named as the catalog names them are
// touched. Two runs on one table never both act: a session advisory lock makes the second `.busy`.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct PartitionsJob: Sendable {
    public init() {}

    public static let kind: JobKind = "maintenance.partitions"

    public struct Arguments: Codable, Sendable, Equatable {
        public var table: String
        public init(table: String) { self.table = table }
    }

    public struct SkippedPartition: Codable, Sendable, Equatable {
        public var name: String
        public var reason: String
        /// Rows of this period found in the DEFAULT partition (0 when that is not the reason).
        public var rowsInDefault: Int
    }

    public struct RetiredPartition: Codable, Sendable, Equatable {
        public var name: String
        /// `detached`, `dropped` or `archived`.
        public var action: String
        /// `schema.name` after the action (nil when dropped).
        public var nowAt: String?
    }

    public struct Report: Codable, Sendable, Equatable {
        public var table: String
        public var created: [String]
        /// Partitions of the premake window that already existed.
        public var existing: [String]
        public var skipped: [SkippedPartition]
        public var retired: [RetiredPartition]
        /// Retirements skipped (name taken in the archive schema …).
        public var retentionSkipped: [SkippedPartition]
        /// Pending `DETACH … CONCURRENTLY` of an earlier run, finalized now.
        public var finalized: [String]
        /// Attached partitions whose names do not follow the catalog's naming (left alone).
        public var unrecognized: [String]
        public var defaultPartition: String?
        /// Rows in the DEFAULT partition (counted up to `defaultRowsCountLimit`).
        public var defaultPartitionRows: Int
        public var defaultPartitionRowsAtLeast: Bool
        public var analyzed: Bool
        public var detachMode: String
    }

    /// Rows counted in the DEFAULT partition before the report says "at least".
    public static let defaultRowsCountLimit = 1_000_000

    /// The advisory-lock key text for `table` (`sluice.partitions:schema.table`).
    public static func lockKey(_ table: QualifiedName) -> String { AdvisoryLock.key("partitions", table.description) }

    /// Runs the job. `now` is the clock (injectable for tests); periods are computed from it in UTC.
    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger, now: Date = Date()
    ) async throws(JobError) -> Report {
        guard let table = catalog.partitionedTable(named: arguments.table) else {
            throw JobError.undeclared("partitioned table", arguments.table)
        }
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .maintenance)
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                try await AdvisoryLock.withSessionLock(
                    lockKey(table.table), on: connection, object: table.table.description, logger: logger
                ) {
                    try await work(table, connection: connection, progress: progress, logger: logger, now: now)
                }
            }
        } catch {
            throw JobError.wrap(error, object: table.table.description)
        }
    }

    private struct Child {
        var name: String
        var schema: String
        var detachPending: Bool
        var isDefault: Bool
    }

    private static func work(
        _ table: PartitionedTable, connection: PostgresConnection, progress: @escaping ProgressReporter,
        logger: Logger, now: Date
    ) async throws -> Report {
        let parent = table.table
        let relation = try await CatalogObjects.require(parent, kinds: ["p"], what: "a partitioned table", on: connection)
        var report = Report(
            table: parent.description, created: [], existing: [], skipped: [], retired: [], retentionSkipped: [],
            finalized: [], unrecognized: [], defaultPartition: nil, defaultPartitionRows: 0,
            defaultPartitionRowsAtLeast: false, analyzed: false, detachMode: "")

        var children = try await listChildren(relation.oid, connection: connection)
        let defaultChild = children.first { $0.isDefault }
        // The DEFAULT partition is addressed only by the catalog's name for it.
        var defaultName: QualifiedName?
        if let d = defaultChild {
            report.defaultPartition = "\(d.schema).\(d.name)"
            if d.schema == parent.schema.rawValue && d.name == table.defaultPartitionName.rawValue {
                defaultName = QualifiedName(schema: parent.schema, name: table.defaultPartitionName)
            } else {
                logger.warning("default partition \(d.schema).\(d.name) is not named as the catalog expects; its rows are not counted")
            }
        }
        report.detachMode = defaultChild == nil ? "concurrently" : "plain (the table has a DEFAULT partition)"

        // Detaches an earlier run left pending (DETACH CONCURRENTLY interrupted).
        for child in children where child.detachPending && child.schema == parent.schema.rawValue {
            guard let period = PartitionPeriod.parse(name: child.name, table: table) else { continue }
            let name = QualifiedName(schema: parent.schema, name: period.name)
            try await connection.simpleQuery("ALTER TABLE \(Catalog.quoted(parent)) DETACH PARTITION \(Catalog.quoted(name)) FINALIZE")
            report.finalized.append(name.description)
            await progress(["step": "finalize", "partition": name.description])
        }
        if !report.finalized.isEmpty { children = try await listChildren(relation.oid, connection: connection) }

        let attached = children.filter { !$0.isDefault && !$0.detachPending }
        let attachedNames = Set(attached.filter { $0.schema == parent.schema.rawValue }.map(\.name))
        for child in attached where child.schema != parent.schema.rawValue || PartitionPeriod.parse(name: child.name, table: table) == nil {
            report.unrecognized.append("\(child.schema).\(child.name)")
        }

        // 1. Premake: the current period and `premake` ahead.
        let current = PartitionPeriod.containing(now, table: table)
        for offset in 0...table.premake {
            let period = current.advanced(by: offset, table: table)
            let name = QualifiedName(schema: parent.schema, name: period.name)
            if attachedNames.contains(period.name.rawValue) {
                report.existing.append(name.description)
                continue
            }
            if let defaultName {
                let rows = try await connection.query(
                    "SELECT count(*) FROM ONLY \(Catalog.quoted(defaultName)) WHERE \(Catalog.quoted(table.column)) >= $1::timestamptz "
                        + "AND \(Catalog.quoted(table.column)) < $2::timestamptz",
                    [.timestamp(period.start), .timestamp(period.end)])
                let count = try rows[0].decode(0, as: Int.self)
                if count > 0 {
                    report.skipped.append(SkippedPartition(
                        name: name.description,
                        reason: "\(count) rows of this period sit in the DEFAULT partition; move them out, then the partition can be created",
                        rowsInDefault: count))
                    await progress(["step": "skip", "partition": name.description, "rows_in_default": "\(count)"])
                    continue
                }
            }
            do {
                try await connection.execute(
                    "CREATE TABLE \(Catalog.quoted(name)) PARTITION OF \(Catalog.quoted(parent)) FOR VALUES FROM ("
                        + PartitionPeriod.literal(period.start) + ") TO (" + PartitionPeriod.literal(period.end) + ")")
                report.created.append(name.description)
                await progress(["step": "create", "partition": name.description])
            } catch where error.sqlState == "42P17" || error.sqlState == PostgresError.checkViolation {
                // 42P17: overlaps a partition named otherwise; 23514: rows in a default we could not count.
                report.skipped.append(SkippedPartition(name: name.description, reason: error.message, rowsInDefault: 0))
            } catch where error.sqlState == PostgresError.duplicateTable {
                report.existing.append(name.description)
            } catch {
                throw withNotes(error, report)
            }
        }

        // 2. Retention.
        if let retention = table.retention {
            let cutoff = cutoffDate(now, minus: retention)
            let due = attached.filter { $0.schema == parent.schema.rawValue }
                .compactMap { PartitionPeriod.parse(name: $0.name, table: table) }
                .filter { $0.end <= cutoff }
                .sorted { $0.start < $1.start }
            if !due.isEmpty, table.retentionMode == .archive, let archive = table.archiveSchema {
                let exists = try await connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [.text(archive.rawValue)])
                if exists.isEmpty {
                    throw JobError(.missingObject, "the archive schema \(archive) does not exist", object: archive.rawValue)
                }
            }
            for period in due {
                do {
                    if let retired = try await retire(period, table: table, hasDefault: defaultChild != nil, connection: connection, report: &report) {
                        report.retired.append(retired)
                        await progress(["step": retired.action, "partition": "\(parent.schema).\(period.name)"])
                    }
                } catch {
                    throw withNotes(error, report)
                }
            }
        }

        // 3. ANALYZE the parent when partitions were added (its statistics cover all of them).
        if !report.created.isEmpty {
            await progress(["step": "analyze", "table": parent.description])
            try await connection.simpleQuery("ANALYZE \(Catalog.quoted(parent))")
            report.analyzed = true
        }

        if let defaultName {
            let rows = try await connection.query(
                "SELECT count(*) FROM (SELECT 1 FROM ONLY \(Catalog.quoted(defaultName)) LIMIT \(defaultRowsCountLimit + 1)) x")
            let count = try rows[0].decode(0, as: Int.self)
            report.defaultPartitionRows = min(count, defaultRowsCountLimit)
            report.defaultPartitionRowsAtLeast = count > defaultRowsCountLimit
        }
        logger.info(
            "partitions \(parent): created \(report.created.count), retired \(report.retired.count), skipped \(report.skipped.count), default rows \(report.defaultPartitionRows)")
        return report
    }

    private static func retire(
        _ period: PartitionPeriod, table: PartitionedTable, hasDefault: Bool, connection: PostgresConnection,
        report: inout Report
    ) async throws -> RetiredPartition? {
        let parent = table.table
        let child = QualifiedName(schema: parent.schema, name: period.name)
        var follow: String?
        var archived: QualifiedName?
        switch table.retentionMode {
        case .detach: break
        case .drop: follow = "DROP TABLE \(Catalog.quoted(child))"
        case .archive:
            guard let archive = table.archiveSchema else { return nil }
            let target = QualifiedName(schema: archive, name: period.name)
            if try await CatalogObjects.relation(target, on: connection) != nil {
                report.retentionSkipped.append(SkippedPartition(
                    name: child.description, reason: "\(target) already exists; not detached", rowsInDefault: 0))
                return nil
            }
            follow = "ALTER TABLE \(Catalog.quoted(child)) SET SCHEMA \(Catalog.quoted(archive))"
            archived = target
        }
        let detach = "ALTER TABLE \(Catalog.quoted(parent)) DETACH PARTITION \(Catalog.quoted(child))"
        if hasDefault {
            try await connection.withTransaction { c in
                try await c.execute(detach)
                if let follow { try await c.execute(follow) }
            }
        } else {
            try await connection.simpleQuery(detach + " CONCURRENTLY")
            if let follow { try await connection.simpleQuery(follow) }
        }
        switch table.retentionMode {
        case .detach: return RetiredPartition(name: child.description, action: "detached", nowAt: child.description)
        case .drop: return RetiredPartition(name: child.description, action: "dropped", nowAt: nil)
        case .archive: return RetiredPartition(name: child.description, action: "archived", nowAt: archived?.description)
        }
    }

    private static func listChildren(_ oid: Int, connection: PostgresConnection) async throws -> [Child] {
        let rows = try await connection.query(
            """
            SELECT c.relname::text, n.nspname::text, i.inhdetachpending, c.oid = p.partdefid
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_partitioned_table p ON p.partrelid = i.inhparent
            WHERE i.inhparent = $1::bigint::oid ORDER BY c.relname
            """, [.int(oid)])
        return try rows.map { row in
            Child(name: try row.decode(0), schema: try row.decode(1), detachPending: try row.decode(2), isDefault: try row.decode(3))
        }
    }

    /// `now - retention` in UTC calendar arithmetic.
    static func cutoffDate(_ now: Date, minus retention: CalendarInterval) -> Date {
        shift(now, by: retention, times: -1)
    }

    /// When a partition ending at `end` leaves retention: `end + retention`, the inverse of
    /// `cutoffDate` (retired once `end <= now - retention`).
    static func retentionDue(end: Date, retention: CalendarInterval) -> Date {
        shift(end, by: retention, times: 1)
    }

    private static func shift(_ date: Date, by interval: CalendarInterval, times sign: Int) -> Date {
        let c = PartitionPeriod.calendar
        switch interval.unit {
        case .day: return c.date(byAdding: .day, value: sign * interval.count, to: date)!
        case .week: return c.date(byAdding: .day, value: sign * 7 * interval.count, to: date)!
        case .month: return c.date(byAdding: .month, value: sign * interval.count, to: date)!
        case .year: return c.date(byAdding: .year, value: sign * interval.count, to: date)!
        }
    }

    /// Adds what was already done to a failure, so a retry's operator sees the partial result.
    private static func withNotes(_ error: any Error, _ report: Report) -> JobError {
        var e = JobError.wrap(error, object: report.table)
        if !report.created.isEmpty { e.notes.append("created before failing: " + report.created.joined(separator: ", ")) }
        if !report.retired.isEmpty {
            e.notes.append("retired before failing: " + report.retired.map { "\($0.name) (\($0.action))" }.joined(separator: ", "))
        }
        return e
    }
}

// MARK: As a job kind

extension PartitionsJob: JobWorker {
    public static var defaultClass: WorkloadClass { .maintenance }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard catalog.partitionedTable(named: arguments.table) != nil else {
            throw .undeclared("table", what: "partitioned table", arguments.table)
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                           progress: context.progressReporter, logger: context.logger)
    }
}
