// ScheduleStore: the scheduler's two tables, `<schema>.schedules` (last and next fire per
// schedule) and `<schema>.schedule_fires` (one row per fire, deduplicated by its primary key).
//
// `record` is the leader's fencing point: in one transaction it locks its own live lease row
// (a competitor's takeover waits for the commit; an expired lease aborts the write), inserts
// the fires (`ON CONFLICT DO NOTHING`: a fire already recorded by another leader is not ours to
// enqueue) and advances `last_fire`. Every statement stands alone or inside one transaction, so
// all of it works behind PgBouncer's transaction pooling. Times are the database's `now()`.

import ClientSupport
import Foundation
import Postgres
import SluiceCore

struct ScheduleStore: Sendable {
    let pool: PostgresPool
    let schedules: String
    let fires: String
    let leases: String

    init(pool: PostgresPool, schema: String) {
        self.pool = pool
        schedules = PostgresIdentifier.quote(schema: schema, "schedules")
        fires = PostgresIdentifier.quote(schema: schema, "schedule_fires")
        leases = PostgresIdentifier.quote(schema: schema, "leases")
    }

    /// A fire as stored: schedule, time, and whether an operator asked for it.
    struct Fire: Hashable, Sendable {
        var schedule: String
        var milliseconds: Int64
        var manual: Bool

        init(schedule: String, time: Date, manual: Bool) {
            self.schedule = schedule
            self.milliseconds = Int64((time.timeIntervalSince1970 * 1000).rounded())
            self.manual = manual
        }

        var time: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

        /// The text the fire's job ids derive from.
        var key: String {
            let key = FireKey(schedule: schedule, fireTime: time)
            return manual ? "\(schedule)@manual@\(key.fireTimeText)" : key.description
        }
    }

    /// A fire whose enqueue has not been confirmed.
    struct Pending: Sendable {
        var fire: Fire
        var attempts: Int
    }

    static func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }

    /// `last_fire` of the named schedules that have one.
    func lastFires(_ names: [String]) async throws -> [String: Date] {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT name, last_fire FROM \(schedules) WHERE name = ANY($1::text[]) AND last_fire IS NOT NULL",
                              [.textArray(names)])
        }
        var out: [String: Date] = [:]
        for row in rows { out[try row.decode(0, as: String.self)] = try row.decode(1, as: Date.self) }
        return out
    }

    /// Records fires and advances `last_fire` / `next_fire`, if `lease` (name, holder) is still
    /// live in the database. Returns the fires inserted now (nil: the lease is gone, nothing
    /// was written). `advance` maps a schedule to its new last fire and next fire.
    func record(_ newFires: [Fire], advance: [String: (last: Date, next: Date?)], lease: (name: String, holder: String))
        async throws -> [Fire]?
    {
        try await pool.withConnection { c in
            try await c.withTransaction { c -> [Fire]? in
                let held = try await c.query("""
                    SELECT 1 FROM \(leases) WHERE name = $1 AND holder = $2 AND expires_at > now() FOR UPDATE
                    """, [.text(lease.name), .text(lease.holder)])
                guard !held.isEmpty else { return nil }
                var inserted: [Fire] = []
                if !newFires.isEmpty {
                    let rows = try await c.query("""
                        INSERT INTO \(fires) (schedule, fire_time, manual)
                        SELECT s, to_timestamp(m / 1000.0), false FROM unnest($1::text[], $2::int8[]) AS t(s, m)
                        ON CONFLICT DO NOTHING
                        RETURNING schedule, (extract(epoch FROM fire_time) * 1000)::int8
                        """, [.textArray(newFires.map(\.schedule)), .intArray(newFires.map { Int($0.milliseconds) })])
                    let returned = Set(try rows.map { "\(try $0.decode(0, as: String.self))@\(try $0.decode(1, as: Int.self))" })
                    inserted = newFires.filter { returned.contains("\($0.schedule)@\($0.milliseconds)") }
                }
                for (name, a) in advance.sorted(by: { $0.key < $1.key }) {
                    try await c.execute("""
                        INSERT INTO \(schedules) AS s (name, last_fire, next_fire, updated_at) VALUES ($1, $2, $3, now())
                        ON CONFLICT (name) DO UPDATE SET last_fire = GREATEST(s.last_fire, EXCLUDED.last_fire),
                            next_fire = EXCLUDED.next_fire, updated_at = now()
                        """, [.text(name), .timestamp(a.last), a.next.map { .timestamp($0) } ?? .null])
                }
                return inserted
            }
        }
    }

    /// Writes `next_fire` for schedules that have no row yet (first start), so `list` shows it.
    func noteNextFires(_ next: [String: Date]) async throws {
        guard !next.isEmpty else { return }
        let names = next.keys.sorted()
        _ = try await pool.withConnection { c in
            try await c.execute("""
                INSERT INTO \(schedules) (name, next_fire) SELECT n, to_timestamp(m / 1000.0)
                FROM unnest($1::text[], $2::int8[]) AS t(n, m)
                ON CONFLICT (name) DO UPDATE SET next_fire = EXCLUDED.next_fire, updated_at = now()
                WHERE \(schedules).next_fire IS DISTINCT FROM EXCLUDED.next_fire
                """, [.textArray(names), .intArray(names.map { Int(Self.ms(next[$0]!)) })])
        }
    }

    /// Inserts a manual fire (no lease needed: it is keyed by its own time). Returns the job
    /// and attempts of the same fire when it exists already (two runs in one millisecond).
    func recordManual(_ fire: Fire) async throws -> (job: JobID?, attempts: Int) {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                WITH ins AS (INSERT INTO \(fires) (schedule, fire_time, manual) VALUES ($1, to_timestamp($2 / 1000.0), true)
                    ON CONFLICT DO NOTHING RETURNING job_id, attempts)
                SELECT job_id, attempts FROM ins
                UNION ALL SELECT job_id, attempts FROM \(fires) WHERE \(whereFire(1)) AND NOT EXISTS (SELECT 1 FROM ins)
                """, binds(fire))
        }
        guard let row = rows.first else { return (nil, 0) }
        return (try row.decode(0, as: UUID?.self).map(JobID.init(uuid:)), try row.decode(1, as: Int.self))
    }

    private func whereFire(_ first: Int) -> String {
        "schedule = $\(first) AND fire_time = to_timestamp($\(first + 1) / 1000.0) AND manual = $\(first + 2)"
    }

    private func binds(_ f: Fire) -> [PostgresValue] { [.text(f.schedule), .int(Int(f.milliseconds)), .bool(f.manual)] }

    /// Counts one more enqueue attempt; returns the attempts so far (this one included), or nil
    /// when the fire has its job already.
    func beginAttempt(_ fire: Fire) async throws -> Int? {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                UPDATE \(fires) SET attempts = attempts + 1, enqueued_at = now()
                WHERE \(whereFire(1)) AND job_id IS NULL RETURNING attempts
                """, binds(fire))
        }
        return try rows.first?.decode(0, as: Int.self)
    }

    func recordJob(_ fire: Fire, id: JobID, duplicate: Bool) async throws {
        _ = try await pool.withConnection { c in
            try await c.execute("UPDATE \(fires) SET job_id = $4, duplicate = $5, error = NULL WHERE \(whereFire(1))",
                                binds(fire) + [.uuid(id.uuid), .bool(duplicate)])
        }
    }

    func recordError(_ fire: Fire, _ error: String) async throws {
        _ = try await pool.withConnection { c in
            try await c.execute("UPDATE \(fires) SET error = $4 WHERE \(whereFire(1))", binds(fire) + [.text(String(error.prefix(1024)))])
        }
    }

    /// Fires without a job whose last attempt (or insert) is older than `age`, oldest first.
    func pending(olderThan age: Duration, maxAttempts: Int, limit: Int = 100) async throws -> [Pending] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT schedule, (extract(epoch FROM fire_time) * 1000)::int8, manual, attempts FROM \(fires)
                WHERE job_id IS NULL AND attempts < $2 AND COALESCE(enqueued_at, fired_at) < now() - $1 * interval '1 millisecond'
                ORDER BY fired_at LIMIT $3
                """, [.int(Int(age.milliseconds)), .int(maxAttempts), .int(limit)])
        }
        return try rows.map { row in
            Pending(fire: Fire(schedule: try row.decode(0, as: String.self),
                               time: Date(timeIntervalSince1970: Double(try row.decode(1, as: Int.self)) / 1000),
                               manual: try row.decode(2, as: Bool.self)),
                    attempts: try row.decode(3, as: Int.self))
        }
    }

    /// Last fire and its job per schedule, for `list`.
    func status() async throws -> [String: (last: Date?, job: JobID?)] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT s.name, s.last_fire, f.job_id FROM \(schedules) s
                LEFT JOIN \(fires) f ON f.schedule = s.name AND f.fire_time = s.last_fire AND NOT f.manual
                """)
        }
        var out: [String: (last: Date?, job: JobID?)] = [:]
        for row in rows {
            out[try row.decode(0, as: String.self)] = (try row.decode(1, as: Date?.self),
                                                       try row.decode(2, as: UUID?.self).map(JobID.init(uuid:)))
        }
        return out
    }
}
