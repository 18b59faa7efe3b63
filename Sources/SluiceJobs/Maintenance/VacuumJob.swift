// VacuumJob (`maintenance.vacuum {table, analyze, full}`): VACUUM of a table a catalog vacuum
// policy lists, outside a transaction block, with progress from `pg_stat_progress_vacuum`
// (or `pg_stat_progress_cluster` for VACUUM FULL) polled from a second connection.
//
// `analyze` defaults to the policy's; FULL runs only when the policy says `allow_full: true`
// (it rewrites the table under an ACCESS EXCLUSIVE lock). lock_timeout bounds the wait for the
// table's lock, so a held lock fails the job fast (`.lockTimeout`, retried later).

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct VacuumJob: Sendable {
    public init() {}

    public static let kind: JobKind = "maintenance.vacuum"

    public struct Arguments: Codable, Sendable, Equatable {
        public var table: String
        /// VACUUM (ANALYZE); nil takes the policy's `analyze`.
        public var analyze: Bool?
        /// VACUUM (FULL); only when the policy allows it.
        public var full: Bool?
        public init(table: String, analyze: Bool? = nil, full: Bool? = nil) {
            self.table = table
            self.analyze = analyze
            self.full = full
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var table: String
        public var policy: String
        public var analyzed: Bool
        public var full: Bool
        public var durationSeconds: Double
        /// Progress rows seen while it ran.
        public var progressReports: Int
        public var deadTuplesBefore: Int
        public var deadTuplesAfter: Int
        public var sizeBytesBefore: Int
        public var sizeBytesAfter: Int
    }

    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger, progressInterval: Duration = .seconds(1)
    ) async throws(JobError) -> Report {
        guard let policy = catalog.vacuumPolicy(forTable: arguments.table),
            let table = policy.tables.first(where: { Catalog.resolveName(arguments.table, among: [$0]) != nil })
        else {
            throw JobError.undeclared("table in a vacuum policy", arguments.table)
        }
        let full = arguments.full ?? false
        if full && !policy.allowFull {
            throw JobError(.notAllowed, "vacuum policy \(policy.name) does not allow VACUUM FULL (allow_full: false)",
                           object: table.description)
        }
        let analyze = arguments.analyze ?? policy.analyze
        var options: [String] = []
        if full { options.append("FULL") }
        if analyze { options.append("ANALYZE") }
        let sql = "VACUUM " + (options.isEmpty ? "" : "(\(options.joined(separator: ", "))) ") + Catalog.quoted(table)
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .maintenance)
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                _ = try await CatalogObjects.require(table, kinds: ["r", "p", "m"], what: "a table", on: connection)
                let before = try await statistics(table, connection: connection)
                let counter = ProgressCounter()
                let start = ContinuousClock.now
                let progressSQL = full
                    ? "SELECT phase, heap_blks_total, heap_blks_scanned, heap_tuples_scanned FROM pg_stat_progress_cluster WHERE pid = $1"
                    : "SELECT phase, heap_blks_total, heap_blks_scanned, heap_blks_vacuumed, index_vacuum_count, num_dead_tuples "
                        + "FROM pg_stat_progress_vacuum WHERE pid = $1"
                let tableName = table.description
                try await ProgressPoller.whilePolling(
                    configuration: pool.configuration.connection, sql: progressSQL, pid: connection.backendPID,
                    interval: progressInterval, progress: { values in
                        counter.increment()
                        await progress(values)
                    }, logger: logger,
                    describe: { row in
                        var values = ["table": tableName, "phase": try row.decode(0, as: String.self)]
                        let total = try row.decode(1, as: Int.self)
                        let scanned = try row.decode(2, as: Int.self)
                        values["heap_blks_total"] = "\(total)"
                        values["heap_blks_scanned"] = "\(scanned)"
                        if let p = ProgressPoller.percent(scanned, of: total) { values["percent"] = p }
                        if !full {
                            values["heap_blks_vacuumed"] = "\(try row.decode(3, as: Int.self))"
                            values["index_vacuum_count"] = "\(try row.decode(4, as: Int.self))"
                        }
                        return values
                    }
                ) {
                    try await connection.simpleQuery(sql)
                }
                let elapsed = ContinuousClock.now - start
                let after = try await statistics(table, connection: connection)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                logger.info("vacuum \(table) done in \(seconds) s")
                return Report(
                    table: table.description, policy: policy.name.rawValue, analyzed: analyze, full: full,
                    durationSeconds: seconds, progressReports: counter.value, deadTuplesBefore: before.dead,
                    deadTuplesAfter: after.dead, sizeBytesBefore: before.size, sizeBytesAfter: after.size)
            }
        } catch {
            throw JobError.wrap(error, object: table.description)
        }
    }

    /// Dead tuples (statistics, may lag) and total size (heap, indexes, TOAST; all partitions).
    static func statistics(_ table: QualifiedName, connection: PostgresConnection) async throws -> (dead: Int, size: Int) {
        let rows = try await connection.query(
            """
            SELECT coalesce(sum(s.n_dead_tup), 0)::bigint, coalesce(sum(pg_total_relation_size(t.relid)), 0)::bigint
            FROM \(CatalogObjects.relationTree) LEFT JOIN pg_stat_user_tables s ON s.relid = t.relid
            """, [.text(Catalog.quoted(table))])
        return (try rows[0].decode(0), try rows[0].decode(1))
    }
}

// MARK: As a job kind

extension VacuumJob: JobWorker {
    public static var defaultClass: WorkloadClass { .maintenance }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard let policy = catalog.vacuumPolicy(forTable: arguments.table) else {
            throw .undeclared("table", what: "table in a vacuum policy", arguments.table)
        }
        if arguments.full == true && !policy.allowFull {
            throw .argument("full", "vacuum policy \(policy.name) does not allow VACUUM FULL (allow_full: false)")
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                           progress: context.progressReporter, logger: context.logger)
    }
}
