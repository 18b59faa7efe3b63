// ReindexJob (`maintenance.reindex {index | table}`): REINDEX … CONCURRENTLY of an index a
// catalog reindex policy lists (or any index of a table it lists), or of such a table.
//
// REINDEX CONCURRENTLY builds `<index>_ccnew` beside the old index; if it fails or is cancelled
// midway the invalid `_ccnew` (or, late in the swap, `_ccold`) index stays behind and slows
// every write. The job then drops such invalid indexes of the table with DROP INDEX CONCURRENTLY
// (run even when the job's task was cancelled) and names them in the error; each run also
// drops leftovers of earlier runs first. System catalogs and exclusion-constraint indexes
// (which Postgres cannot rebuild concurrently) are refused. One run per table at a time.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct ReindexJob: Sendable {
    public init() {}

    public static let kind: JobKind = "maintenance.reindex"

    /// Exactly one of `index` and `table`.
    public struct Arguments: Codable, Sendable, Equatable {
        public var index: String?
        public var table: String?
        public init(index: String? = nil, table: String? = nil) {
            self.index = index
            self.table = table
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        /// `index` or `table`.
        public var target: String
        public var name: String
        public var table: String
        public var policy: String
        /// Indexes rebuilt (for a table, every index but the skipped ones).
        public var reindexed: [String]
        /// Exclusion-constraint indexes Postgres skips in REINDEX TABLE CONCURRENTLY.
        public var skipped: [String]
        /// Invalid `_ccnew` / `_ccold` indexes left by earlier runs, dropped first.
        public var droppedLeftovers: [String]
        public var sizeBytesBefore: Int
        public var sizeBytesAfter: Int
        public var durationSeconds: Double
    }

    /// How long the cleanup's DROP INDEX CONCURRENTLY may wait for transactions still using the
    /// table. Its waits hold only a SHARE UPDATE EXCLUSIVE lock, which blocks no reader or writer.
    public static let cleanupLockTimeout = Duration.seconds(30)

    public static func lockKey(_ table: QualifiedName) -> String { AdvisoryLock.key("reindex", table.description) }

    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger
    ) async throws(JobError) -> Report {
        // Resolve against the catalog before any SQL.
        let declaredTables = catalog.reindexPolicies.flatMap(\.tables)
        let declaredIndexes = catalog.reindexPolicies.flatMap(\.indexes)
        enum Target { case table(QualifiedName), listedIndex(QualifiedName), indexOfListedTable(QualifiedName) }
        let target: Target
        switch (arguments.index, arguments.table) {
        case (nil, let t?):
            guard let table = Catalog.resolveName(t, among: declaredTables) else {
                throw JobError.undeclared("table in a reindex policy", t)
            }
            target = .table(table)
        case (let i?, nil):
            if let index = Catalog.resolveName(i, among: declaredIndexes) {
                target = .listedIndex(index)
            } else if let name = try? QualifiedName(parsing: i), declaredTables.contains(where: { $0.schema == name.schema }) {
                // Maybe an index of a listed table: only the database can tell (checked below).
                target = .indexOfListedTable(name)
            } else {
                throw JobError.undeclared("index in a reindex policy", i)
            }
        default:
            throw JobError(.invalidArguments, "give exactly one of 'index' and 'table'")
        }
        let objectName: QualifiedName
        switch target {
        case .table(let n), .listedIndex(let n), .indexOfListedTable(let n): objectName = n
        }
        if objectName.schema.isSystemSchema {
            throw JobError(.unsupported, "system catalogs are not reindexed by jobs", object: objectName.description)
        }

        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .maintenance)
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                // The table the work is on, and the policy allowing it.
                let table: QualifiedName
                var indexes: [IndexInfo]
                switch target {
                case .table(let t):
                    _ = try await CatalogObjects.require(t, kinds: ["r", "p", "m"], what: "a table", on: connection)
                    table = t
                    indexes = try await indexesOf(table: t, connection: connection)
                case .listedIndex(let i), .indexOfListedTable(let i):
                    guard let info = try await indexInfo(i, connection: connection) else {
                        if case .indexOfListedTable = target { throw JobError.undeclared("index in a reindex policy", i.description) }
                        throw JobError(.missingObject, "the catalog declares index \(i) but the database has none", object: i.description)
                    }
                    guard let t = SQLIdentifier(info.tableSchema).flatMap({ s in SQLIdentifier(info.tableName).map { QualifiedName(schema: s, name: $0) } })
                    else { throw JobError.undeclared("index in a reindex policy", i.description) }
                    if case .indexOfListedTable = target, !declaredTables.contains(t) {
                        throw JobError.undeclared("index in a reindex policy", i.description)
                    }
                    if info.exclusion {
                        throw JobError(.unsupported, "\(i) backs an exclusion constraint, which REINDEX CONCURRENTLY cannot rebuild",
                                       object: i.description)
                    }
                    table = t
                    indexes = [info]
                }
                if table.schema.isSystemSchema {
                    throw JobError(.unsupported, "system catalogs are not reindexed by jobs", object: table.description)
                }
                let policy = catalog.reindexPolicy(forTable: table.description) ?? catalog.reindexPolicy(forIndex: objectName.description)
                return try await AdvisoryLock.withSessionLock(
                    lockKey(table), on: connection, object: objectName.description, logger: logger
                ) {
                    let leftovers = await dropInvalidCopies(table: table, connection: connection, guardrails: guardrails, logger: logger)
                    if !leftovers.failed.isEmpty {
                        throw JobError(.lockTimeout, "invalid indexes of an earlier run could not be dropped yet",
                                       object: table.description, notes: leftovers.failed.map { "still there: \($0)" })
                    }
                    let skipped = indexes.filter(\.exclusion).map(\.name)
                    indexes.removeAll { $0.exclusion }
                    let sizeBefore = indexes.reduce(0) { $0 + $1.size }
                    let sql: String
                    switch target {
                    case .table: sql = "REINDEX TABLE CONCURRENTLY \(Catalog.quoted(table))"
                    case .listedIndex(let i), .indexOfListedTable(let i): sql = "REINDEX INDEX CONCURRENTLY \(Catalog.quoted(i))"
                    }
                    await progress(["step": "reindex", "object": objectName.description, "indexes": "\(indexes.count)"])
                    let start = ContinuousClock.now
                    do {
                        try await connection.simpleQuery(sql)
                    } catch {
                        var failure = JobError.wrap(error, object: objectName.description)
                        let cleanup = await dropInvalidCopies(table: table, connection: connection, guardrails: guardrails, logger: logger)
                        failure.notes += cleanup.dropped.map { "dropped invalid index \($0)" }
                        failure.notes += cleanup.failed.map { "invalid index \($0) could not be dropped yet; the next run drops it" }
                        throw failure
                    }
                    let elapsed = ContinuousClock.now - start
                    let after: [IndexInfo]
                    switch target {
                    case .table: after = try await indexesOf(table: table, connection: connection).filter { !$0.exclusion }
                    case .listedIndex(let i), .indexOfListedTable(let i): after = try await indexInfo(i, connection: connection).map { [$0] } ?? []
                    }
                    let isTable: Bool = if case .table = target { true } else { false }
                    return Report(
                        target: isTable ? "table" : "index", name: objectName.description, table: table.description,
                        policy: policy?.name.rawValue ?? "", reindexed: indexes.map(\.name), skipped: skipped,
                        droppedLeftovers: leftovers.dropped, sizeBytesBefore: sizeBefore,
                        sizeBytesAfter: after.reduce(0) { $0 + $1.size },
                        durationSeconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
            }
        } catch {
            throw JobError.wrap(error, object: objectName.description)
        }
    }

    struct IndexInfo: Sendable {
        var name: String
        var tableSchema: String
        var tableName: String
        var exclusion: Bool
        var size: Int
    }

    private static let indexColumns = """
        SELECT n.nspname || '.' || c.relname, tn.nspname::text, t.relname::text,
               EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype = 'x'),
               pg_relation_size(c.oid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
        """

    private static func decode(_ rows: PostgresRows) throws -> [IndexInfo] {
        try rows.map { r in
            IndexInfo(name: try r.decode(0), tableSchema: try r.decode(1), tableName: try r.decode(2),
                      exclusion: try r.decode(3), size: try r.decode(4))
        }
    }

    static func indexInfo(_ index: QualifiedName, connection: PostgresConnection) async throws -> IndexInfo? {
        try decode(try await connection.query(
            indexColumns + " WHERE n.nspname = $1 AND c.relname = $2", [.text(index.schema.rawValue), .text(index.name.rawValue)])).first
    }

    static func indexesOf(table: QualifiedName, connection: PostgresConnection) async throws -> [IndexInfo] {
        try decode(try await connection.query(
            indexColumns + " WHERE tn.nspname = $1 AND t.relname = $2 AND i.indisvalid ORDER BY 1",
            [.text(table.schema.rawValue), .text(table.name.rawValue)]))
    }

    /// Invalid `_ccnew` / `_ccold` indexes on `table`, its partitions and their TOAST tables, as `schema.name`.
    static func invalidCopies(table: QualifiedName, connection: PostgresConnection) async throws -> [QualifiedName] {
        let rows = try await connection.query(
            """
            SELECT n.nspname::text, c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.indrelid IN (SELECT relid FROM \(CatalogObjects.relationTree)
                                 UNION SELECT x.reltoastrelid FROM pg_class x WHERE x.oid IN (SELECT relid FROM \(CatalogObjects.relationTree)))
              AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$' ORDER BY 2
            """, [.text(Catalog.quoted(table))])
        return try rows.compactMap { r in
            // Names derived from catalog-declared ones; anything outside the identifier rule is left alone.
            guard let s = SQLIdentifier(try r.decode(0, as: String.self)), let n = SQLIdentifier(try r.decode(1, as: String.self))
            else { return nil }
            return QualifiedName(schema: s, name: n)
        }
    }

    /// Drops the invalid copies with DROP INDEX CONCURRENTLY, even if the job's task was cancelled.
    static func dropInvalidCopies(
        table: QualifiedName, connection: PostgresConnection, guardrails: JobGuardrails, logger: Logger
    ) async -> (dropped: [String], failed: [String]) {
        await uncancellable {
            var dropped: [String] = []
            var failed: [String] = []
            do {
                let copies = try await invalidCopies(table: table, connection: connection)
                if copies.isEmpty { return ([], []) }
                try await guardrails.apply(lockTimeout: max(guardrails.lockTimeout, cleanupLockTimeout), on: connection)
                for copy in copies {
                    // A cancel request sent for the REINDEX can reach the server late and cancel
                    // one of these statements instead (Postgres cannot tell statements apart:
                    // StatementControl): a DROP cancelled so (57014) is run once more; it is
                    // idempotent.
                    var attempt = 0
                    while true {
                        attempt += 1
                        do {
                            try await connection.simpleQuery("DROP INDEX CONCURRENTLY IF EXISTS \(Catalog.quoted(copy))")
                            dropped.append(copy.description)
                            logger.notice("dropped invalid index \(copy) left by REINDEX CONCURRENTLY")
                        } catch let e as PostgresError where e.sqlState == PostgresError.queryCanceled && attempt == 1 {
                            logger.info("dropping invalid index \(copy) was cancelled (a late cancel request); running it again")
                            continue
                        } catch {
                            failed.append(copy.description)
                            logger.warning("could not drop invalid index \(copy): \(error)")
                        }
                        break
                    }
                }
                try await guardrails.apply(lockTimeout: guardrails.lockTimeout, on: connection)
            } catch {
                logger.warning("could not look for invalid indexes of \(table): \(error)")
            }
            return (dropped, failed)
        }
    }
}

// MARK: As a job kind

extension ReindexJob: JobWorker {
    public static var defaultClass: WorkloadClass { .maintenance }

    /// Exactly one of `index` and `table`, declared in a reindex policy. An index not listed by
    /// name may still belong to a listed table: that only the database can tell, at run time.
    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        let declaredTables = catalog.reindexPolicies.flatMap(\.tables)
        switch (arguments.index, arguments.table) {
        case (nil, let t?):
            guard Catalog.resolveName(t, among: declaredTables) != nil else {
                throw .undeclared("table", what: "table in a reindex policy", t)
            }
        case (let i?, nil):
            if Catalog.resolveName(i, among: catalog.reindexPolicies.flatMap(\.indexes)) != nil { return }
            guard let name = try? QualifiedName(parsing: i), declaredTables.contains(where: { $0.schema == name.schema }) else {
                throw .undeclared("index", what: "index in a reindex policy", i)
            }
        default:
            throw EnvelopeError(.invalidArguments, field: "args", reason: "give exactly one of 'index' and 'table'")
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                           progress: context.progressReporter, logger: context.logger)
    }
}
