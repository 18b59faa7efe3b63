// CleanupJob (`maintenance.cleanup {policy}`): deletes rows older than a catalog cleanup
// policy's age in bounded batches, one commit per batch, pausing between batches, so neither
// locks nor WAL pile up and replicas keep up.
//
// Rows are picked by the policy's `key` columns (`(id, created_at) IN (SELECT … LIMIT n)`, what
// a partitioned table needs) or, with no key, by `ctid` on a plain table
// (`ctid = ANY(ARRAY(SELECT ctid … LIMIT n))`, a TID scan). The cutoff is fixed once at the
// start, so rows turning old meanwhile wait for the next run. `match` values are bound. The job
// stops cleanly when its task is cancelled (between batches, or by cancelling the statement in
// flight, whose batch then rolls back) and when the policy's time budget is spent.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct CleanupJob: Sendable {
    public init() {}

    public static let kind: JobKind = "maintenance.cleanup"

    public struct Arguments: Codable, Sendable, Equatable {
        public var policy: String
        public init(policy: String) { self.policy = policy }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var policy: String
        public var table: String
        /// The cutoff rows were older than (UTC, ISO 8601).
        public var cutoff: String
        public var rowsDeleted: Int
        public var batches: Int
        /// `done` (no old rows left), `time_budget` (more remain; the next run continues).
        public var stoppedBy: String
        public var durationSeconds: Double
    }

    public static func lockKey(_ policy: SQLIdentifier) -> String { AdvisoryLock.key("cleanup", policy.rawValue) }

    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger
    ) async throws(JobError) -> Report {
        guard let policy = catalog.cleanupPolicy(named: arguments.policy) else {
            throw JobError.undeclared("cleanup policy", arguments.policy)
        }
        if policy.table.schema.isSystemSchema {
            throw JobError(.unsupported, "cleanup never deletes from system schemas", object: policy.table.description)
        }
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .maintenance)
        let deleted = ProgressCounter()
        let batches = ProgressCounter()
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                let relation = try await CatalogObjects.require(
                    policy.table, kinds: ["r", "p"], what: "a table", on: connection)
                if policy.key.isEmpty && relation.kind == "p" {
                    throw JobError(.unsupported,
                        "\(policy.table) is partitioned: ctid does not identify a row across partitions; declare the policy's key",
                        object: policy.table.description)
                }
                return try await AdvisoryLock.withSessionLock(
                    lockKey(policy.name), on: connection, object: policy.table.description, logger: logger
                ) {
                    let cutoffRows = try await connection.query(
                        "SELECT (now() - $1::interval)::timestamptz::text, to_char((now() - $1::interval) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                        [.text(policy.age.postgresInterval)])
                    let cutoff = try cutoffRows[0].decode(0, as: String.self)
                    let cutoffISO = try cutoffRows[0].decode(1, as: String.self)
                    let sql = deleteStatement(policy)
                    var binds: [PostgresValue] = [.text(cutoff)]
                    for m in policy.match { binds.append(.textArray(m.values)) }
                    let start = ContinuousClock.now
                    var stoppedBy = "done"
                    while true {
                        if Task.isCancelled { throw CancellationError() }
                        if ContinuousClock.now - start >= policy.timeBudget {
                            stoppedBy = "time_budget"
                            break
                        }
                        let n = try await connection.execute(sql, binds)
                        deleted.add(n)
                        batches.increment()
                        await progress([
                            "policy": policy.name.rawValue, "rows_deleted": "\(deleted.value)", "batches": "\(batches.value)",
                            "last_batch": "\(n)",
                        ])
                        if n < policy.batchSize { break }
                        if policy.pause > .zero { try await Task.sleep(for: policy.pause) }
                    }
                    let elapsed = ContinuousClock.now - start
                    logger.info("cleanup \(policy.name): \(deleted.value) rows in \(batches.value) batches (\(stoppedBy))")
                    return Report(
                        policy: policy.name.rawValue, table: policy.table.description, cutoff: cutoffISO,
                        rowsDeleted: deleted.value, batches: batches.value, stoppedBy: stoppedBy,
                        durationSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
            }
        } catch {
            var e = JobError.wrap(error, object: policy.table.description)
            e.notes.append("\(deleted.value) rows deleted in \(batches.value) committed batches before stopping")
            throw e
        }
    }

    /// The batch DELETE: `$1` the cutoff, `$2…` one text[] per `match` entry.
    static func deleteStatement(_ policy: CleanupPolicy) -> String {
        let table = Catalog.quoted(policy.table)
        var conditions = ["\(Catalog.quoted(policy.column)) < $1::timestamptz"]
        for (i, m) in policy.match.enumerated() {
            conditions.append("\(Catalog.quoted(m.column))::text = ANY($\(i + 2)::text[])")
        }
        let predicate = conditions.joined(separator: " AND ")
        if policy.key.isEmpty {
            return "DELETE FROM \(table) WHERE ctid = ANY(ARRAY(SELECT ctid FROM \(table) WHERE \(predicate) LIMIT \(policy.batchSize)))"
        }
        let key = policy.key.map { Catalog.quoted($0) }.joined(separator: ", ")
        return "DELETE FROM \(table) WHERE (\(key)) IN (SELECT \(key) FROM \(table) WHERE \(predicate) LIMIT \(policy.batchSize))"
    }
}

// MARK: As a job kind

extension CleanupJob: JobWorker {
    public static var defaultClass: WorkloadClass { .maintenance }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard catalog.cleanupPolicy(named: arguments.policy) != nil else {
            throw .undeclared("policy", what: "cleanup policy", arguments.policy)
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                           progress: context.progressReporter, logger: context.logger)
    }
}
