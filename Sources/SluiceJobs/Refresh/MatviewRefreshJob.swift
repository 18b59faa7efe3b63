// MatviewRefreshJob (`refresh.matview {view}`): REFRESH MATERIALIZED VIEW of a catalog-declared
// view, CONCURRENTLY when that keeps dashboards readable, one refresh per view at a time.
//
// Mode `auto` refreshes CONCURRENTLY when the view is populated and has a usable unique index
// (valid, no WHERE clause, plain columns), plainly otherwise; `concurrent` insists (an
// unpopulated view is refreshed plainly once, since nobody can read it anyway; a missing
// unique index is an error rather than a silent plain refresh that would block readers);
// `plain` always refreshes plainly (ACCESS EXCLUSIVE: readers wait for the whole refresh).
// The refresh runs in one transaction holding `pg_try_advisory_xact_lock` (a second run is
// `.busy`), under lock_timeout. Afterwards the view is ANALYZEd, which also gives a cheap row
// count (`reltuples`; exact for views of up to 30 000 rows with the default statistics target).

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct MatviewRefreshJob: Sendable {
    public init() {}

    public static let kind: JobKind = "refresh.matview"

    public struct Arguments: Codable, Sendable, Equatable {
        public var view: String
        public init(view: String) { self.view = view }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var view: String
        /// `concurrent` or `plain`: what ran.
        public var mode: String
        /// Why that mode (catalog setting, not populated, no unique index).
        public var reason: String
        public var durationSeconds: Double
        /// `reltuples` after ANALYZE.
        public var rows: Int
        public var refreshedAt: Date
    }

    public static func lockKey(_ view: QualifiedName) -> String { AdvisoryLock.key("refresh", view.description) }

    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger
    ) async throws(JobError) -> Report {
        guard let declared = catalog.materializedView(named: arguments.view) else {
            throw JobError.undeclared("materialized view", arguments.view)
        }
        let view = declared.view
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .refresh)
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                let relation = try await CatalogObjects.require(view, kinds: ["m"], what: "a materialized view", on: connection)
                let hasUniqueIndex = try await usableUniqueIndex(oid: relation.oid, connection: connection)
                let (concurrent, reason) = try choose(declared.refresh, populated: relation.populated, uniqueIndex: hasUniqueIndex, view: view)
                await progress(["view": view.description, "mode": concurrent ? "concurrent" : "plain", "step": "refresh"])
                let start = ContinuousClock.now
                try await connection.withTransaction { c in
                    let locked = try await c.query("SELECT pg_try_advisory_xact_lock(hashtext($1))", [.text(lockKey(view))])
                    guard try locked[0].decode(0, as: Bool.self) else {
                        throw JobError(.busy, "another refresh of \(view) is running", object: view.description)
                    }
                    try await c.execute("REFRESH MATERIALIZED VIEW \(concurrent ? "CONCURRENTLY " : "")\(Catalog.quoted(view))")
                }
                let elapsed = ContinuousClock.now - start
                let refreshedAt = Date()
                await progress(["view": view.description, "step": "analyze"])
                try await connection.simpleQuery("ANALYZE \(Catalog.quoted(view))")
                let rows = try await connection.query(
                    "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::bigint::oid", [.int(relation.oid)])
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                logger.info("refreshed \(view) \(concurrent ? "concurrently" : "plainly") in \(seconds) s")
                return Report(view: view.description, mode: concurrent ? "concurrent" : "plain", reason: reason,
                              durationSeconds: seconds, rows: try rows.first?.decode(0, as: Int.self) ?? 0, refreshedAt: refreshedAt)
            }
        } catch {
            throw JobError.wrap(error, object: view.description)
        }
    }

    /// CONCURRENTLY needs a unique index on plain columns, valid, without a WHERE clause.
    static func usableUniqueIndex(oid: Int, connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = $1::bigint::oid AND indisunique AND indisvalid
                           AND indpred IS NULL AND indexprs IS NULL)
            """, [.int(oid)])
        return try rows[0].decode(0, as: Bool.self)
    }

    /// The mode to run and why.
    static func choose(
        _ mode: MaterializedView.RefreshMode, populated: Bool, uniqueIndex: Bool, view: QualifiedName
    ) throws(JobError) -> (concurrent: Bool, reason: String) {
        switch mode {
        case .plain:
            return (false, "the catalog says plain")
        case .concurrent:
            if !populated { return (false, "not populated yet: the first refresh is plain (nobody can read it before)") }
            if !uniqueIndex {
                throw JobError(.unsupported,
                    "the catalog says concurrent but \(view) has no usable unique index (valid, no WHERE, plain columns)",
                    object: view.description)
            }
            return (true, "the catalog says concurrent")
        case .auto:
            if !populated { return (false, "auto: not populated") }
            if !uniqueIndex { return (false, "auto: no usable unique index") }
            return (true, "auto: populated with a unique index")
        }
    }
}

// MARK: As a job kind

extension MatviewRefreshJob: JobWorker {
    public static var defaultClass: WorkloadClass { .refresh }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard catalog.materializedView(named: arguments.view) != nil else {
            throw .undeclared("view", what: "materialized view", arguments.view)
        }
    }

    /// Refreshes, then publishes `<prefix>matview:<schema.view>` (a Redis hash of the report's
    /// fields, the target and the job id) so dashboards can show how fresh the view is. On a
    /// target other than `main` the key is `<prefix>matview:<target>:<schema.view>`. Then it
    /// enqueues a refresh of the cached query outputs that depend on the view.
    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        let report = try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                                        progress: context.progressReporter, logger: context.logger)
        var fields: [String: String] = ["job_id": context.id.description, "target": context.envelope.target]
        if case .object(let encoded) = try JobReportEncoding.json(report) {
            for (k, v) in encoded {
                switch v {
                case .string(let s): fields[k] = s
                case .int(let i): fields[k] = String(i)
                case .double(let d): fields[k] = String(d)
                case .bool(let b): fields[k] = String(b)
                default: break
                }
            }
        }
        let target = context.envelope.target
        await context.publishOutput(RedisKeys.matviewOutput(view: report.view, target: target), fields: fields)
        // Then the cached queries that read the view (depends_on in the catalog).
        if let view = context.catalog.materializedView(named: report.view)?.view {
            _ = await DependentQueries.enqueue(after: view, context: context)
        }
        return report
    }
}
