// Ledger: the job table in Postgres, the truth about every job (DESIGN.md "Reliability").
//
// Hot statements (enqueue inserts, short jobs' reads and records, claims, finishes) go through `Batcher`s: concurrent calls are
// coalesced into one `unnest`-based statement, so thousands of jobs a second cost tens of
// statements. Claims are conditional UPDATEs, so duplicate and redelivered messages are
// harmless: a completed job is never claimed again, a live lease is never stolen. Every
// statement is schema-qualified with the configured schema (default `sluice`).

import Foundation
import Logging
import Postgres
import SluiceCore

public final class Ledger: Sendable {
    public let pool: PostgresPool
    public let schema: String
    let table: String
    let leases: String
    let logger: Logger

    let inserter: Batcher<LedgerInsert, InsertOutcome>
    let claimer: Batcher<ClaimRequest, ClaimOutcome>
    let finisher: Batcher<FinishRequest, Bool>
    let peeker: Batcher<JobID, PeekOutcome>
    let completer: Batcher<ShortCompletion, Bool>


    public init(pool: PostgresPool, schema: String = "sluice", logger: Logger) {
        self.pool = pool
        self.schema = schema
        self.logger = logger
        let table = PostgresIdentifier.quote(schema: schema, "jobs")
        self.table = table
        self.leases = PostgresIdentifier.quote(schema: schema, "leases")
        inserter = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.insert(items, table: table, pool: pool) }
        }
        claimer = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.claim(items, table: table, pool: pool) }
        }
        finisher = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.finish(items, table: table, pool: pool) }
        }
        peeker = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.peek(items, table: table, pool: pool) }
        }
        completer = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.recordCompleted(items, table: table, pool: pool) }
        }
    }

    /// Runs one batch statement; a serialization failure is retried (twice). Since migration 7 a
    /// finish moves its row from `jobs_live` to a final state's partition, and a concurrent
    /// UPDATE of the same row (a claim of a redelivered message, a cancel) then fails with
    /// SQLSTATE 40001 ("tuple … moved to another partition") where a plain table would have
    /// re-checked its WHERE; run again, the statement sees the row where it is now.
    static func runBatch<T>(_ count: Int, _ body: () async throws -> [Result<T, any Error>]) async -> [Result<T, any Error>] {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as PostgresError where error.sqlState == PostgresError.serializationFailure && attempt < 2 {
                attempt += 1
            } catch {
                return Array(repeating: .failure(error), count: count)
            }
        }
    }

    // MARK: Migrations

    /// Creates the schema and applies pending migrations up to `version` (all by default; tests
    /// stop earlier to build an old ledger), each in a transaction under an advisory lock.
    /// Returns the versions applied now.
    @discardableResult
    public func migrate(through version: Int = .max) async throws -> [Int] {
        let quoted = PostgresIdentifier.quote(schema)
        var applied: [Int] = []
        for migration in Migrations.all(schema: schema) where migration.version <= version {
            let done = try await pool.withConnection { c in
                try await c.withTransaction { c in
                    try await c.execute("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [.int(Int(Migrations.lockKey & 0x7fff_ffff)), .text(schema)])
                    try await c.simpleQuery("""
                        CREATE SCHEMA IF NOT EXISTS \(quoted);
                        CREATE TABLE IF NOT EXISTS \(quoted).schema_migrations (
                            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                        """)
                    let rows = try await c.query("SELECT 1 FROM \(quoted).schema_migrations WHERE version = $1", [.int(migration.version)])
                    if !rows.isEmpty { return false }
                    try await c.simpleQuery(migration.sql)
                    try await c.execute("INSERT INTO \(quoted).schema_migrations (version, name) VALUES ($1, $2)",
                                        [.int(migration.version), .text(migration.name)])
                    return true
                }
            }
            if done {
                logger.info("ledger migration applied", metadata: ["migration.version": "\(migration.version)"])
                applied.append(migration.version)
            }
        }
        return applied
    }

    /// Drops the schema with everything in it (tests).
    public func dropSchema() async throws {
        _ = try await pool.withConnection { c in
            try await c.simpleQuery("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quote(schema)) CASCADE")
        }
    }
}

/// The job states as the ledger's SQL writes them, derived from `JobState` so statements and
/// the Swift model cannot drift apart (the CHECK constraint of migration 1 lists the same set).
extension JobState {
    /// `'running'`.
    var sql: String { "'\(rawValue)'" }

    /// `('available','scheduled')`.
    static func sqlList(_ states: [JobState]) -> String { "(" + states.map(\.sql).joined(separator: ",") + ")" }

    /// States that hold a unique key and may still run.
    static let liveSQL = sqlList(allCases.filter { !$0.isFinal })
    /// States no one moves a job out of (but a replay).
    static let finalSQL = sqlList(allCases.filter(\.isFinal))
    /// States waiting for a worker: queued, delayed or between attempts.
    static let waitingSQL = sqlList([.available, .scheduled, .retryable])
    /// States of a row whose message may not have been published yet.
    static let unpublishedSQL = sqlList([.available, .scheduled])
}

extension Ledger {
    /// Run first in the same pipeline (one round trip, one implicit transaction) by the hot
    /// statements that find their rows by id (`id = ANY($1)`): their plans then use indexes
    /// only, until the pipeline's commit resets both settings. Their prepared plans are generic
    /// and made once per connection, often while `jobs_live` is nearly empty: a plan made then
    /// (a bitmap scan of the `state` index, or a sequential scan) filters every waiting row
    /// against the whole id array, and is kept while the backlog grows: 781 ms for a claim of
    /// 138 jobs over 13,748 waiting rows, 848 ms for a finish of 253 (`auto_explain` of a
    /// `bench throughput --batch 1` run at 1,600 jobs/s with Postgres at 780 µs a job: the
    /// slow mode). The plan is also forced generic: with scans disabled, a generic plan's cost
    /// (which counts the disabled nodes it cannot avoid) never compares well with a custom
    /// plan's, so Postgres planned every execution again, 0.7–3 ms a bind on the partitioned
    /// ledger (the log's `bind` durations), which took the enqueue call from 1.5 to 2.6 ms.
    /// `set_config(…, true)` rather than `SET LOCAL`, which warns outside an explicit
    /// transaction block.
    static let keyedPlans = """
        SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
            set_config('plan_cache_mode', 'force_generic_plan', true)
        """
}

extension Ledger {
    /// `{"<id>": [entry…], …}`, the per-row values of a batch statement that finds its rows by
    /// `j.id = ANY($1)` and reads each row's values with `$n::jsonb -> j.id::text` (a binary
    /// search) rather than joining the unnested input, whose generic plan can rescan the input
    /// for every row. `entry` gives each item's array elements as JSON text.
    static func jsonByID<T>(_ items: [T], id: (T) -> JobID, entry: (T) -> [String]) -> String {
        var out = "{"
        for (n, item) in items.enumerated() {
            if n > 0 { out += "," }
            out += "\"\(id(item).uuid.uuidString.lowercased())\":[" + entry(item).joined(separator: ",") + "]"
        }
        return out + "}"
    }
}

extension PostgresConnection {
    /// Runs a ledger statement that finds its rows by id, with index scans only (`Ledger.keyedPlans`).
    /// Not for use inside a transaction block: the settings would last until its end.
    func keyed(_ sql: String, _ binds: [PostgresValue]) async throws -> PostgresRows {
        try await pipeline([(sql: Ledger.keyedPlans, binds: []), (sql: sql, binds: binds)])[1]
    }
}
