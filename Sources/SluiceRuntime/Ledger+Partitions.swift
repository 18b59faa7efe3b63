// Ledger+Partitions: the time partitions of finished history (migration 7). Each final state's
// table (`jobs_completed`, `jobs_cancelled`, `jobs_discarded`) is RANGE-partitioned by
// `finished_at`; the pruner makes partitions ahead of the clock and drops those whose upper bound
// is past the state's retention, so old history leaves without a row deleted or a dead tuple.
// Every statement is one short transaction under `SET LOCAL lock_timeout`: attaching takes a
// brief exclusive lock on the state's DEFAULT partition (to prove none of its rows fall in the new
// range), dropping one on the state's table; a timeout only postpones the work to the next pass.
// Limit: a partition's rows leave together, so a job is kept between its retention and its
// retention plus one partition's width (`RetentionSettings.partitionWidth`).

import ClientSupport
import Foundation
import Postgres
import SluiceCore

extension Ledger {
    /// One leaf of a final state's table, as the catalog of Postgres describes it.
    public struct HistoryPartition: Sendable, Equatable {
        public var name: String
        /// The DEFAULT partition (rows no range takes: no finish time, no partition made yet).
        public var isDefault: Bool
        /// nil: MINVALUE (the history attached by migration 7) or the default partition.
        public var lower: Date?
        /// nil only for the default partition.
        public var upper: Date?
        /// Rows are removed from it by batches at exactly the retention (it has no upper bound
        /// the pruner could wait for, or it holds what was there before partitions).
        public var prunedByRows: Bool { isDefault || lower == nil }
    }

    /// The partitioned table of a final state, e.g. `"sluice"."jobs_completed"`.
    func historyTable(_ state: JobState) -> String { quoted("jobs_\(state.rawValue)") }

    /// The leaves of `state`'s table, oldest first; empty when the ledger predates migration 7.
    public func historyPartitions(_ state: JobState) async throws -> [HistoryPartition] {
        precondition(state.isFinal, "only final states have history partitions")
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT c.relname, b.expr = 'DEFAULT',
                       (regexp_match(b.expr, 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz,
                       (regexp_match(b.expr, 'TO \\(''([^'']*)''\\)'))[1]::timestamptz
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
                WHERE i.inhparent = to_regclass($1)
                """, [.text(historyTable(state))])
        }
        return try rows.map {
            HistoryPartition(name: try $0.decode(0, as: String.self), isDefault: try $0.decode(1, as: Bool.self),
                             lower: try $0.decode(2, as: Date?.self), upper: try $0.decode(3, as: Date?.self))
        }.sorted { ($0.upper ?? .distantFuture) < ($1.upper ?? .distantFuture) }
    }

    /// The database's clock (partition bounds are compared with the `now()` of finishes).
    func databaseNow() async throws -> Date {
        try await pool.withConnection { c in try await c.query("SELECT now()")[0].decode(0, as: Date.self) }
    }

    /// Makes `state`'s partitions of `width` until they cover `ahead` past now; returns the
    /// names made. A new range starts where the last one ends, or, when none covers the near
    /// future (a fresh ledger, a pruner stopped for long), two seconds from now (whole seconds),
    /// so no finish already in the default partition falls inside it.
    /// `now` stands for the database's clock (tests).
    @discardableResult
    public func makeHistoryPartitions(_ state: JobState, width: Duration, ahead: Duration,
                                      lockTimeout: Duration = .milliseconds(500), now: Date? = nil) async throws -> [String] {
        let partitions = try await historyPartitions(state)
        guard !partitions.isEmpty else { return [] }
        let now = if let now { now } else { try await databaseNow() }
        let w = max(1, width.seconds)
        let horizon = now.addingTimeInterval(ahead.seconds)
        let margin = now.addingTimeInterval(2)
        var lower = partitions.compactMap(\.upper).max() ?? .distantPast
        if lower < margin {
            lower = Date(timeIntervalSince1970: margin.timeIntervalSince1970.rounded(.up))
        }
        var made: [String] = []
        while lower < horizon {
            let upper = lower.addingTimeInterval(w)
            let name = "jobs_\(state.rawValue)_p\(Self.partitionStamp(lower))"
            let leaf = quoted(name)
            try await ddlTransaction(lockTimeout: lockTimeout, """
                CREATE TABLE \(leaf) (LIKE \(table) INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
                ALTER TABLE \(leaf) ADD PRIMARY KEY (id);
                ALTER TABLE \(historyTable(state)) ATTACH PARTITION \(leaf)
                    FOR VALUES FROM ('\(Timestamp.format(lower))') TO ('\(Timestamp.format(upper))')
                """)
            made.append(name)
            lower = upper
        }
        return made
    }

    /// Drops `state`'s range partitions whose upper bound is `keep` or more in the past, each
    /// after its jobs' import rejects and uploads (in batches of `limit`). Returns the counts:
    /// `jobs_partitions` dropped, `jobs` (rows they held), `import_rejects`, `uploads`. `now`
    /// stands for the database's clock (tests).
    public func dropHistoryPartitions(_ state: JobState, keep: Duration, limit: Int,
                                      lockTimeout: Duration = .milliseconds(500), now: Date? = nil) async throws -> PruneCounts {
        let now = if let now { now } else { try await databaseNow() }
        let cutoff = now.addingTimeInterval(-keep.seconds)
        var counts: PruneCounts = [:]
        for partition in try await historyPartitions(state) where !partition.isDefault {
            guard let upper = partition.upper, upper <= cutoff else { continue }
            let leaf = quoted(partition.name)
            for (table, column) in [("import_rejects", "job_id"), ("uploads", "job_id")] {
                while true {
                    let rows = try await pool.withConnection { c in
                        try await c.query("""
                            WITH doomed AS (SELECT s.ctid AS t FROM \(quoted(table)) s JOIN \(leaf) j ON j.id = s.\(column) LIMIT $1),
                            gone AS (DELETE FROM \(quoted(table)) s USING doomed d WHERE s.ctid = d.t RETURNING 1)
                            SELECT count(*) FROM gone
                            """, [.int(limit)])
                    }
                    let n = try rows[0].decode(0, as: Int.self)
                    counts[table, default: 0] += n
                    if n < limit { break }
                }
            }
            // Exact up to 100,000 rows, the statistics' estimate beyond (a count would read it all).
            let held = try await pool.withConnection { c in
                try await c.query("""
                    SELECT CASE WHEN n <= 100000 THEN n ELSE GREATEST(n, (SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1))) END
                    FROM (SELECT count(*) AS n FROM (SELECT 1 FROM \(leaf) LIMIT 100001) l) x
                    """, [.text(leaf)])[0].decode(0, as: Int.self)
            }
            try await ddlTransaction(lockTimeout: lockTimeout, "DROP TABLE \(leaf)")
            counts["jobs", default: 0] += held
            counts["jobs_partitions", default: 0] += 1
        }
        return counts
    }

    /// DDL in one transaction under `SET LOCAL lock_timeout`.
    private func ddlTransaction(lockTimeout: Duration, _ sql: String) async throws {
        try await pool.withConnection { c in
            try await c.withTransaction { c in
                try await c.simpleQuery("SET LOCAL lock_timeout = '\(max(1, lockTimeout.milliseconds))ms'")
                try await c.simpleQuery(sql)
            }
        }
    }

    /// `20261206_230000` (UTC), a partition's name suffix from its lower bound (lower case, so
    /// the name needs no quoting).
    static func partitionStamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'_'HHmmss"
        return f.string(from: date)
    }
}
