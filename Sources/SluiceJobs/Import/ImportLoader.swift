// ImportLoader: the database half of an import: a staging table shaped like the target's
// columns, COPY of the checked rows into it, then one upsert statement into the target. For
// `on_conflict: update` this runs per chunk of the file, each chunk committed (ImportChunkedLoad);
// for `skip`, `error` and a dry run, all in one transaction on one connection of the target's
// import pool.
//
// Deduplication is `DISTINCT ON (key) … ORDER BY key, line DESC` (the last line of a key
// wins), run only when two rows' key hashes collided while streaming. An empty cell follows its
// column's `on_empty` (jobs/README.md): `keep` (the default) gives an inserted row the column's
// default (read from pg_attrdef, never from the file) and leaves an existing row's value alone,
// `default` writes the default on both, `null` writes NULL on both. The update compares the row
// with `IS DISTINCT FROM` so unchanged rows are not rewritten (no dead tuple, no WAL): a
// re-import of the same file changes nothing, empty cells included.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

struct ImportLoader: Sendable {
    let spec: ImportSpec
    let columns: [ImportColumn]
    let catalog: Catalog

    struct Outcome {
        var counts: FileImporter.Report
        var rejects: [ImportReject]
    }

    /// Thrown by the row source when rejects pass the spec's limit; aborts the COPY.
    struct RejectLimit: Error {
        var rejects: [ImportReject]
        /// Rows of the chunks committed before the limit was passed (chunked load only).
        var committedRows = 0
    }

    /// Thrown inside the transaction to roll a dry run back.
    private struct DryRun: Error {
        var outcome: Outcome
    }

    static let stage = "sluice_import_stage"
    /// work_mem for the import's transaction (the key sort of a million rows fits).
    static let workMem = "256MB"

    /// Loads the file: chunk by chunk for `on_conflict: update` (ImportChunkedLoad), else (and
    /// for a dry run, whose counts are the reference the chunked load is tested against) in one
    /// transaction.
    func load<S: ImportByteSource>(
        reader: inout ImportRowReader<S>, pool: PostgresPool, dryRun: Bool, chunkRows: Int = ImportLoader.defaultChunkRows,
        state: ImportProgressState, progress: @escaping ProgressReporter, logger: Logger
    ) async throws -> Outcome {
        if spec.onConflict == .update && !dryRun {
            return try await loadChunked(reader: &reader, pool: pool, chunkRows: chunkRows, state: state, progress: progress, logger: logger)
        }
        let keyIndexes = spec.key.compactMap { k in columns.firstIndex { $0.column == k }.map { $0 + 1 } }
        let rows = RowSource(reader: reader, maxRejects: spec.maxRejects, keyIndexes: keyIndexes, state: state, progress: progress)
        defer { reader = rows.reader }
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .import)
        do {
            return try await guardrails.withSession(pool, logger: logger) { c in
                try await c.withTransaction { c in
                    let outcome = try await loadInTransaction(rows: rows, on: c, progress: progress)
                    if dryRun { throw DryRun(outcome: outcome) }
                    return outcome
                }
            }
        } catch let e as DryRun {
            return e.outcome
        } catch let e as RejectLimit {
            throw e
        } catch let e as JobError {
            throw e
        } catch {
            throw JobError.wrap(error, object: spec.table.description)
        }
    }

    private func loadInTransaction<S: ImportByteSource>(
        rows: RowSource<S>, on c: PostgresConnection, progress: @escaping ProgressReporter
    ) async throws -> Outcome {
        let table = spec.table.quoted
        // The upsert sorts the file by key (lock order, index locality): in memory, not on disk.
        try await c.simpleQuery("SET LOCAL work_mem = '\(Self.workMem)'")
        let target = try await targetColumns(on: c)
        let names = columns.map(\.column.quoted)
        let staged = (["NULL::bigint AS sluice_line"] + names).joined(separator: ", ")
        try await c.simpleQuery("CREATE TEMP TABLE \(Self.stage) ON COMMIT DROP AS SELECT \(staged) FROM \(table) WITH NO DATA")
        let readStart = ContinuousClock.now
        let copied = try await c.copyIn(into: "COPY \(Self.stage) FROM STDIN", rows: rows)
        let readSeconds = FileImporter.seconds(ContinuousClock.now - readStart)
        await progress(rows.state.fields(phase: "upserting", rows: rows.reader.rowsRead, bytes: rows.reader.bytesRead,
                                         rejected: rows.rejects.count))
        let upsertStart = ContinuousClock.now
        let (distinct, inserted, updated) = try await upsert(on: c, target: target, mayHaveDuplicates: rows.mayHaveDuplicates,
                                                             staged: copied)
        let upsertSeconds = FileImporter.seconds(ContinuousClock.now - upsertStart)
        var counts = FileImporter.Report(
            spec: "", table: "", format: "", dryRun: false, bytesRead: rows.reader.bytesRead, rowsRead: rows.reader.rowsRead,
            inserted: inserted, updated: updated, unchanged: 0, skipped: 0, rejected: rows.rejects.count,
            duplicates: copied - distinct, rejects: [], readSeconds: readSeconds, upsertSeconds: upsertSeconds, seconds: 0)
        switch spec.onConflict {
        case .update: counts.unchanged = distinct - inserted - updated
        case .skip: counts.skipped = distinct - inserted
        case .error: break
        }
        return Outcome(counts: counts, rejects: rows.rejects)
    }

    struct TargetColumn: Sendable {
        var type: String
        var notNull: Bool
        var defaultExpression: String?
    }

    /// The target's columns; refuses a missing table or a spec column the table lacks.
    func targetColumns(on c: PostgresConnection) async throws -> [String: TargetColumn] {
        let exists = try await c.query("SELECT to_regclass($1)::text", [.text(spec.table.quoted)])
        if try exists[0].isNull(0) {
            throw JobError(.missingObject, "import \(spec.name)'s table does not exist", object: spec.table.description)
        }
        let rows = try await c.query(
            """
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """, [.text(spec.table.quoted)])
        var out: [String: TargetColumn] = [:]
        for row in rows {
            out[try row.decode(0)] = TargetColumn(type: try row.decode(1), notNull: try row.decode(2), defaultExpression: try row.decode(3))
        }
        let missing = spec.columns.filter { out[$0.column.rawValue] == nil }.map(\.column.rawValue)
        if !missing.isEmpty {
            throw JobError(.missingObject, "import \(spec.name) names column(s) the table lacks: \(missing.joined(separator: ", "))",
                           object: spec.table.description)
        }
        let nullInNotNull = columns.filter { $0.onEmpty == .null && !$0.required && out[$0.column.rawValue]!.notNull }
        if let c = nullInNotNull.first {
            throw JobError(.invalidArguments,
                "import \(spec.name) column \(c.column) has on_empty: null but \(spec.table).\(c.column) is NOT NULL; use keep or default",
                object: spec.table.description)
        }
        return out
    }

    /// The upsert; returns (distinct keys, inserted, updated). When no two rows of the file can
    /// share a key (their key hashes all differ), the DISTINCT ON pass and its materialization are
    /// skipped: every staged row is its own key. `presorted`: the rows were staged in key order
    /// (ImportLoader.sortedRows), and the staging table's scan gives them in that order, so the
    /// upsert takes and locks the keys in one order without a sort of its own.
    func upsert(on c: PostgresConnection, target: [String: TargetColumn], mayHaveDuplicates: Bool,
                staged: Int, presorted: Bool = false) async throws -> (Int, Int, Int) {
        let table = spec.table.quoted
        let key = spec.key.map(\.quoted).joined(separator: ", ")
        let keySet = Set(spec.key)
        let names = columns.map(\.column.quoted)
        let plan = columns.map { Self.emptyCellPlan($0, target: target[$0.column.rawValue]!, table: table, key: spec.key) }
        let selected = zip(columns, plan).map { "\($1.inserted) AS \($0.column.quoted)" }
        let nonKey = zip(columns, plan).filter { !keySet.contains($0.0.column) }
        let conflict: String
        switch spec.onConflict {
        case .update where !nonKey.isEmpty:
            let sets = nonKey.map { "\($0.0.column.quoted) = \($0.1.updated)" }.joined(separator: ", ")
            let old = nonKey.map { "t.\($0.0.column.quoted)" }.joined(separator: ", ")
            let new = nonKey.map { $0.1.updated }.joined(separator: ", ")
            conflict = "ON CONFLICT (\(key)) DO UPDATE SET \(sets) WHERE (\(old)) IS DISTINCT FROM (\(new))"
        case .update, .skip:
            conflict = "ON CONFLICT (\(key)) DO NOTHING"
        case .error:
            conflict = ""
        }
        let fast = """
            WITH ins AS (
                INSERT INTO \(table) AS t (\(names.joined(separator: ", ")))
                SELECT \(selected.joined(separator: ", ")) FROM \(Self.stage) s\(presorted ? "" : " ORDER BY \(key)")
                \(conflict)
                RETURNING (t.xmax = 0) AS inserted
            )
            SELECT \(staged)::bigint, count(*) FILTER (WHERE inserted)::bigint, count(*) FILTER (WHERE NOT inserted)::bigint FROM ins
            """
        let sql = mayHaveDuplicates ? """
            WITH src AS MATERIALIZED (
                SELECT DISTINCT ON (\(key)) \(selected.joined(separator: ", "))
                FROM \(Self.stage) s ORDER BY \(key), s.sluice_line DESC
            ), ins AS (
                INSERT INTO \(table) AS t (\(names.joined(separator: ", ")))
                SELECT \(names.joined(separator: ", ")) FROM src ORDER BY \(key)
                \(conflict)
                RETURNING (t.xmax = 0) AS inserted
            )
            SELECT (SELECT count(*) FROM src)::bigint,
                   count(*) FILTER (WHERE inserted)::bigint, count(*) FILTER (WHERE NOT inserted)::bigint FROM ins
            """ : fast
        do throws(PostgresError) {
            let row = try await c.query(sql)[0]
            return (try row.decode(0), try row.decode(1), try row.decode(2))
        } catch where error.sqlState == PostgresError.uniqueViolation && spec.onConflict == .error {
            let e = error
            throw JobError(.invalidArguments,
                "rows of the file already exist in \(spec.table) (import \(spec.name) has on_conflict: error); nothing was written",
                object: spec.table.description, sqlState: e.sqlState)
        } catch where error.sqlState == "42P10" {
            let e = error
            throw JobError(.missingObject,
                "\(spec.table) has no unique index or constraint on (\(spec.key.map(\.rawValue).joined(separator: ", "))), import \(spec.name)'s key",
                object: spec.table.description, sqlState: e.sqlState)
        } catch {
            throw error
        }
    }
}

extension ImportLoader {
    /// A column's value in the upsert: `inserted` is selected from the staging row `s` (so it is
    /// what a new row gets and what `EXCLUDED` holds), `updated` is what an existing row `t` is set
    /// to. An empty cell is NULL in the staging table.
    struct EmptyCellPlan: Equatable {
        var inserted: String
        var updated: String
    }

    /// `excluded` names the proposed row (`EXCLUDED` in the upsert; a CTE's alias in the chunked
    /// load's count of rows repeated from an earlier chunk).
    static func emptyCellPlan(_ column: ImportColumn, target: TargetColumn, table: String, key: [SQLIdentifier],
                              excluded: String = "EXCLUDED") -> EmptyCellPlan {
        let c = column.column.quoted
        let raw = "s.\(c)"
        // A required column (every key column) is never empty.
        if column.required { return EmptyCellPlan(inserted: raw, updated: "\(excluded).\(c)") }
        switch column.onEmpty {
        case .null:
            return EmptyCellPlan(inserted: raw, updated: "\(excluded).\(c)")
        case .default:
            let value = target.defaultExpression.map { "coalesce(\(raw), \($0))" } ?? raw
            return EmptyCellPlan(inserted: value, updated: "\(excluded).\(c)")
        case .keep where target.defaultExpression == nil && !target.notNull:
            // NULL is the default: EXCLUDED holds NULL exactly when the cell was empty.
            return EmptyCellPlan(inserted: raw, updated: "coalesce(\(excluded).\(c), t.\(c))")
        case .keep:
            // EXCLUDED cannot tell an empty cell from its default, so the stored value is read
            // where the cell is empty (one probe of the key's unique index, only for those rows).
            let match = key.map { "k.\($0.quoted) = s.\($0.quoted)" }.joined(separator: " AND ")
            let stored = "(SELECT k.\(c) FROM \(table) k WHERE \(match))"
            let inserted: String
            if target.notNull {
                // A NOT NULL column's stored value is never NULL: NULL means no stored row.
                inserted = "coalesce(\(raw), \(stored)\(target.defaultExpression.map { ", \($0)" } ?? ""))"
            } else {
                let d = target.defaultExpression ?? "NULL"
                inserted = "CASE WHEN \(raw) IS NOT NULL THEN \(raw) WHEN EXISTS (SELECT 1 FROM \(table) k WHERE \(match)) "
                    + "THEN \(stored) ELSE \(d) END"
            }
            return EmptyCellPlan(inserted: inserted, updated: "\(excluded).\(c)")
        }
    }
}

/// The checked rows as an async sequence for COPY; rejects are kept aside (up to the limit,
/// then the import aborts), progress is reported as the rows go by.
final class RowSource<S: ImportByteSource>: AsyncSequence, @unchecked Sendable {
    // @unchecked Sendable: iterated by the one task running the COPY; read after it ends.
    typealias Element = [PostgresValue]
    var reader: ImportRowReader<S>
    var rejects: [ImportReject] = []
    let maxRejects: Int
    /// Positions of the key's values in a row, and a hash of every key seen: two rows of one key
    /// always collide, so no collision means no duplicates (a collision only costs the exact pass).
    let keyIndexes: [Int]
    private var keyHashes: Set<Int> = []
    private(set) var mayHaveDuplicates = false
    let state: ImportProgressState
    let progress: ProgressReporter
    private var sinceCheck = 0

    init(reader: ImportRowReader<S>, maxRejects: Int, keyIndexes: [Int], state: ImportProgressState,
         progress: @escaping ProgressReporter) {
        self.reader = reader
        self.maxRejects = maxRejects
        self.keyIndexes = keyIndexes
        self.state = state
        self.progress = progress
    }

    func next() async throws -> [PostgresValue]? {
        while true {
            sinceCheck += 1
            if sinceCheck >= 2048 {
                sinceCheck = 0
                try Task.checkCancellation()
                if state.due() {
                    await progress(state.fields(phase: "reading", rows: reader.rowsRead, bytes: reader.bytesRead, rejected: rejects.count))
                }
            }
            guard let item = try await reader.next() else { return nil }
            switch item {
            case .row(let values):
                if !mayHaveDuplicates {
                    var h = Hasher()
                    for i in keyIndexes { h.combine(values[i]) }
                    if !keyHashes.insert(h.finalize()).inserted {
                        mayHaveDuplicates = true
                        keyHashes = []
                    }
                }
                return values
            case .reject(let reject):
                rejects.append(reject)
                if rejects.count > maxRejects { throw ImportLoader.RejectLimit(rejects: rejects) }
            }
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let source: RowSource
        mutating func next() async throws -> [PostgresValue]? { try await source.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: self) }
}
