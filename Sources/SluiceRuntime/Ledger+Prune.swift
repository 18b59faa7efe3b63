// Ledger+Prune: the statements of retention, one bounded batch each. Every batch is one short
// transaction with its own `lock_timeout`, so the pruner never holds a lock for long and never
// queues production traffic behind it; a batch killed halfway rolls back whole (a job never
// leaves without its rejects and upload, nor they without it) and the next pass takes it again.
// Only final states are ever selected: live jobs (available, scheduled, running, retryable)
// cannot match. `Pruner` calls these in turn; they need no leadership to be safe (rows are
// locked `SKIP LOCKED`), leadership only keeps two processes from doing the same work.

import ClientSupport
import Foundation
import Postgres
import SluiceCore

/// What one batch removed, per table (`jobs`, `import_rejects`, `uploads`, …).
public typealias PruneCounts = [String: Int]

extension Ledger {
    func quoted(_ name: String) -> String { PostgresIdentifier.quote(schema: schema, name) }

    /// Runs `sql` in a transaction under `SET LOCAL lock_timeout`.
    private func pruneTransaction(lockTimeout: Duration, _ sql: String, _ binds: [PostgresValue]) async throws -> PostgresRows {
        try await pool.withConnection { c in
            try await c.withTransaction { c in
                try await c.simpleQuery("SET LOCAL lock_timeout = '\(max(1, lockTimeout.milliseconds))ms'")
                return try await c.query(sql, binds)
            }
        }
    }

    /// Removes up to `limit` jobs of `workloadClass` in the final `state` that finished more
    /// than `keep` ago, oldest first, with their import rejects and uploads. `partition` names
    /// the leaf to delete from (a state's default partition or the history attached by
    /// migration 7: the range partitions leave whole, `dropHistoryPartitions`); nil: `jobs`.
    public func pruneJobs(workloadClass: String, state: JobState, keep: Duration, limit: Int, partition: String? = nil,
                          lockTimeout: Duration = .seconds(2)) async throws -> PruneCounts {
        precondition(state.isFinal, "only final states are pruned")
        let source = partition.map(quoted) ?? table
        let rows = try await pruneTransaction(lockTimeout: lockTimeout, """
            WITH doomed AS (
                SELECT id FROM \(source)
                WHERE class = $1 AND state = $2 AND finished_at < now() - $3 * interval '1 millisecond'
                ORDER BY finished_at LIMIT $4 FOR UPDATE SKIP LOCKED),
            gone AS (DELETE FROM \(source) j USING doomed d WHERE j.id = d.id AND j.state = $2 RETURNING j.id),
            rejects AS (DELETE FROM \(quoted("import_rejects")) r USING gone g WHERE r.job_id = g.id RETURNING 1),
            uploads AS (DELETE FROM \(quoted("uploads")) u USING gone g WHERE u.job_id = g.id RETURNING 1)
            SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM rejects), (SELECT count(*) FROM uploads)
            """, [.text(workloadClass), .text(state.rawValue), .int(keep.milliseconds), .int(limit)])
        let row = rows[0]
        return ["jobs": try row.decode(0, as: Int.self), "import_rejects": try row.decode(1, as: Int.self),
                "uploads": try row.decode(2, as: Int.self)]
    }

    /// Removes up to `limit` schedule fires recorded more than `keep` ago, keeping what the
    /// scheduler's exactly-once rule reads: a fire whose enqueue never confirmed (`job_id` NULL,
    /// the recovery scan's work) and each schedule's latest fire (`last_fire`: `dueFires` only
    /// ever proposes fires after it, so an older fire can never be proposed, nor inserted, again;
    /// the latest one also names the job `schedule list` shows).
    public func pruneScheduleFires(keep: Duration, limit: Int, lockTimeout: Duration = .seconds(2)) async throws -> PruneCounts {
        let fires = quoted("schedule_fires")
        let rows = try await pruneTransaction(lockTimeout: lockTimeout, """
            WITH doomed AS (
                SELECT f.schedule, f.fire_time, f.manual FROM \(fires) f
                LEFT JOIN \(quoted("schedules")) s ON s.name = f.schedule
                WHERE f.fired_at < now() - $1 * interval '1 millisecond' AND f.job_id IS NOT NULL
                  AND (f.manual OR f.fire_time < s.last_fire)
                ORDER BY f.fired_at LIMIT $2 FOR UPDATE OF f SKIP LOCKED),
            gone AS (DELETE FROM \(fires) f USING doomed d
                WHERE f.schedule = d.schedule AND f.fire_time = d.fire_time AND f.manual = d.manual RETURNING 1)
            SELECT count(*) FROM gone
            """, [.int(keep.milliseconds), .int(limit)])
        return ["schedule_fires": try rows[0].decode(0, as: Int.self)]
    }

    /// Removes up to `limit` API idempotency keys created more than `keep` ago.
    public func pruneIdempotencyKeys(keep: Duration, limit: Int, lockTimeout: Duration = .seconds(2)) async throws -> PruneCounts {
        let keys = quoted("api_idempotency")
        let rows = try await pruneTransaction(lockTimeout: lockTimeout, """
            WITH doomed AS (
                SELECT key FROM \(keys) WHERE created_at < now() - $1 * interval '1 millisecond'
                ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED),
            gone AS (DELETE FROM \(keys) k USING doomed d WHERE k.key = d.key RETURNING 1)
            SELECT count(*) FROM gone
            """, [.int(keep.milliseconds), .int(limit)])
        return ["api_idempotency": try rows[0].decode(0, as: Int.self)]
    }

    /// Removes up to `limit` members of the oldest saved segment that a newer one (same target,
    /// workspace and rules) replaced more than `keep` ago; the batch that takes its last members
    /// removes the segment row too. A segment with millions of members so leaves over many short
    /// transactions instead of one long cascade.
    public func pruneReplacedSegments(keep: Duration, limit: Int, lockTimeout: Duration = .seconds(2)) async throws -> PruneCounts {
        let segments = quoted("segments"), members = quoted("segment_members")
        let rows = try await pruneTransaction(lockTimeout: lockTimeout, """
            WITH victim AS (
                SELECT s.id FROM \(segments) s
                WHERE EXISTS (
                    SELECT 1 FROM \(segments) n
                    WHERE n.target = s.target AND n.workspace_id = s.workspace_id AND md5(n.rules::text) = md5(s.rules::text)
                      AND n.rules = s.rules AND n.created_at > s.created_at
                      AND n.created_at < now() - $1 * interval '1 millisecond')
                ORDER BY s.created_at LIMIT 1 FOR UPDATE OF s SKIP LOCKED),
            batch AS (
                SELECT m.segment_id, m.member_id FROM \(members) m JOIN victim v ON m.segment_id = v.id LIMIT $2),
            gone AS (DELETE FROM \(members) m USING batch b
                WHERE m.segment_id = b.segment_id AND m.member_id = b.member_id RETURNING 1),
            segment AS (DELETE FROM \(segments) s USING victim v
                WHERE s.id = v.id AND (SELECT count(*) FROM batch) < $2 RETURNING 1)
            SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM segment)
            """, [.int(keep.milliseconds), .int(limit)])
        return ["segment_members": try rows[0].decode(0, as: Int.self), "segments": try rows[0].decode(1, as: Int.self)]
    }

    // MARK: Size and status

    /// The ledger table's size as the statistics collector sees it.
    public struct Size: Sendable, Equatable {
        /// Estimated live rows (`n_live_tup`).
        public var rows: Int
        /// Dead tuples waiting for vacuum (`n_dead_tup`).
        public var deadTuples: Int
        /// Table, indexes and TOAST (`pg_total_relation_size`).
        public var bytes: Int
        /// Autovacuum runs on the table since the statistics were reset.
        public var autovacuumCount: Int
        /// Autoanalyze runs likewise.
        public var autoanalyzeCount: Int
        public var lastAutovacuum: Date?
    }

    /// The size of `jobs`, summed over its partitions (estimates from `pg_stat_user_tables`; no
    /// count of the table).
    public func size() async throws -> Size {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT sum(s.n_live_tup)::bigint, sum(s.n_dead_tup)::bigint, sum(pg_total_relation_size(s.relid))::bigint,
                       sum(s.autovacuum_count)::bigint, sum(s.autoanalyze_count)::bigint, max(s.last_autovacuum)
                FROM pg_partition_tree(to_regclass($1)) t JOIN pg_stat_user_tables s ON s.relid = t.relid
                WHERE t.isleaf HAVING count(*) > 0
                """, [.text(table)])
        }
        guard let row = rows.first else { return Size(rows: 0, deadTuples: 0, bytes: 0, autovacuumCount: 0, autoanalyzeCount: 0) }
        return Size(rows: try row.decode(0, as: Int.self), deadTuples: try row.decode(1, as: Int.self),
                    bytes: try row.decode(2, as: Int.self), autovacuumCount: try row.decode(3, as: Int.self),
                    autoanalyzeCount: try row.decode(4, as: Int.self), lastAutovacuum: try row.decode(5, as: Date?.self))
    }

    /// The pruner's last pass as recorded in `pruner_status`, with the lease's current holder.
    public struct PrunerStatus: Sendable {
        public var holder: String
        public var leader: String?
        public var startedAt: Date
        public var finishedAt: Date
        public var removed: PruneCounts
        public var removedTotal: Int
        public var size: Size?
        public var error: String?
    }

    /// Records a finished pass (one row, replaced each time).
    func recordPrunerPass(holder: String, startedAt: Date, removed: PruneCounts, size: Size?, error: String?) async throws {
        let json = JSONValue.object(removed.mapValues { .int(Int64($0)) }).jsonString
        _ = try await pool.withConnection { c in
            try await c.execute("""
                INSERT INTO \(quoted("pruner_status")) AS p
                    (id, holder, started_at, finished_at, removed, removed_total, ledger_rows, ledger_bytes, ledger_dead, error)
                VALUES (true, $1, $2, now(), $3, $4, $5, $6, $7, $8)
                ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, started_at = EXCLUDED.started_at,
                    finished_at = EXCLUDED.finished_at, removed = EXCLUDED.removed, removed_total = EXCLUDED.removed_total,
                    ledger_rows = EXCLUDED.ledger_rows, ledger_bytes = EXCLUDED.ledger_bytes, ledger_dead = EXCLUDED.ledger_dead,
                    error = EXCLUDED.error
                """, [.text(holder), .timestamp(startedAt), .json(json), .int(removed.values.reduce(0, +)),
                      size.map { .int($0.rows) } ?? .null, size.map { .int($0.bytes) } ?? .null,
                      size.map { .int($0.deadTuples) } ?? .null, error.map { .text(String($0.prefix(1024))) } ?? .null])
        }
    }

    /// The last pass, or nil when no pruner has finished one on this ledger.
    public func prunerStatus(leaseName: String = Pruner.defaultLeaseName) async throws -> PrunerStatus? {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT p.holder, l.holder, p.started_at, p.finished_at, p.removed::text, p.removed_total,
                       p.ledger_rows, p.ledger_bytes, p.ledger_dead, p.error
                FROM \(quoted("pruner_status")) p
                LEFT JOIN \(leases) l ON l.name = $1 AND l.expires_at > now()
                """, [.text(leaseName)])
        }
        guard let row = rows.first else { return nil }
        var removed: PruneCounts = [:]
        if case .object(let fields) = try JSONValue.parse(try row.decode(4, as: String.self)) {
            for (k, v) in fields { if case .int(let n) = v { removed[k] = Int(n) } }
        }
        var size: Size?
        if let n = try row.decode(6, as: Int?.self) {
            size = Size(rows: n, deadTuples: try row.decode(8, as: Int?.self) ?? 0, bytes: try row.decode(7, as: Int?.self) ?? 0,
                        autovacuumCount: 0, autoanalyzeCount: 0)
        }
        return PrunerStatus(holder: try row.decode(0, as: String.self), leader: try row.decode(1, as: String?.self),
                            startedAt: try row.decode(2, as: Date.self), finishedAt: try row.decode(3, as: Date.self),
                            removed: removed, removedTotal: try row.decode(5, as: Int.self), size: size,
                            error: try row.decode(9, as: String?.self))
    }
}
