// AnalyzeJob (`maintenance.analyze {table}`): ANALYZE of a table a catalog analyze (or vacuum)
// policy lists, outside a transaction block so its lock is held only while it runs, with
// progress from `pg_stat_progress_analyze` polled from a second connection.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct AnalyzeJob: Sendable {
    public init() {}

    public static let kind: JobKind = "maintenance.analyze"

    public struct Arguments: Codable, Sendable, Equatable {
        public var table: String
        public init(table: String) { self.table = table }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var table: String
        public var policy: String
        public var durationSeconds: Double
        public var progressReports: Int
        /// `pg_class.reltuples` after the analyze (summed over partitions).
        public var estimatedRows: Int
    }

    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger, progressInterval: Duration = .seconds(1)
    ) async throws(JobError) -> Report {
        let declared = catalog.analyzePolicies.flatMap(\.tables) + catalog.vacuumPolicies.flatMap(\.tables)
        guard let table = Catalog.resolveName(arguments.table, among: declared) else {
            throw JobError.undeclared("table in an analyze or vacuum policy", arguments.table)
        }
        let policyName = catalog.analyzePolicy(forTable: table.description)?.name.rawValue
            ?? catalog.vacuumPolicy(forTable: table.description)?.name.rawValue ?? ""
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .maintenance)
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                _ = try await CatalogObjects.require(table, kinds: ["r", "p", "m"], what: "a table", on: connection)
                let counter = ProgressCounter()
                let start = ContinuousClock.now
                let tableName = table.description
                try await ProgressPoller.whilePolling(
                    configuration: pool.configuration.connection,
                    sql: "SELECT phase, sample_blks_total, sample_blks_scanned FROM pg_stat_progress_analyze WHERE pid = $1",
                    pid: connection.backendPID, interval: progressInterval,
                    progress: { values in
                        counter.increment()
                        await progress(values)
                    }, logger: logger,
                    describe: { row in
                        let total = try row.decode(1, as: Int.self)
                        let scanned = try row.decode(2, as: Int.self)
                        var values = ["table": tableName, "phase": try row.decode(0, as: String.self),
                                      "sample_blks_total": "\(total)", "sample_blks_scanned": "\(scanned)"]
                        if let p = ProgressPoller.percent(scanned, of: total) { values["percent"] = p }
                        return values
                    }
                ) {
                    try await connection.simpleQuery("ANALYZE \(Catalog.quoted(table))")
                }
                let elapsed = ContinuousClock.now - start
                let rows = try await connection.query(
                    """
                    SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM \(CatalogObjects.relationTree)
                    JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf
                    """, [.text(Catalog.quoted(table))])
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                return Report(table: table.description, policy: policyName, durationSeconds: seconds,
                              progressReports: counter.value, estimatedRows: try rows[0].decode(0))
            }
        } catch {
            throw JobError.wrap(error, object: table.description)
        }
    }
}

// MARK: As a job kind

extension AnalyzeJob: JobWorker {
    public static var defaultClass: WorkloadClass { .maintenance }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        let declared = catalog.analyzePolicies.flatMap(\.tables) + catalog.vacuumPolicies.flatMap(\.tables)
        guard Catalog.resolveName(arguments.table, among: declared) != nil else {
            throw .undeclared("table", what: "table in an analyze or vacuum policy", arguments.table)
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                           progress: context.progressReporter, logger: context.logger)
    }
}
