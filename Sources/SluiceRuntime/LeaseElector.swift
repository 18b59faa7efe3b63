// LeaseElector: leadership through a lease row in `<schema>.leases`, for roles where exactly
// one process should act (the lease-expiry rescuer, later the scheduler).
//
// `tryAcquire` inserts or takes over the row when it is free, expired or already ours, and
// extends it; a single statement, so it works behind PgBouncer transaction pooling (no session
// advisory locks). A leader that stops renewing loses the role after `ttl`.

import Postgres

public final class LeaseElector: Sendable {
    public let name: String
    public let holder: String
    public let ttl: Duration
    private let pool: PostgresPool
    private let table: String

    public init(pool: PostgresPool, schema: String = "sluice", name: String, holder: String, ttl: Duration = .seconds(15)) {
        self.pool = pool
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.table = PostgresIdentifier.quote(schema: schema, "leases")
    }

    /// Takes or renews the lease; true while this holder leads.
    public func tryAcquire() async throws -> Bool {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                INSERT INTO \(table) AS l (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
                ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
                    acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END
                WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder
                RETURNING holder
                """, [.text(name), .text(holder), .int(ttl.milliseconds)])
        }
        return rows.count == 1
    }

    /// Gives the lease up (shutdown), so another process can lead at once.
    public func release() async throws {
        _ = try await pool.withConnection { c in
            try await c.execute("DELETE FROM \(table) WHERE name = $1 AND holder = $2", [.text(name), .text(holder)])
        }
    }

    /// The current holder, if the lease is live.
    public func currentHolder() async throws -> String? {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT holder FROM \(table) WHERE name = $1 AND expires_at > now()", [.text(name)])
        }
        return try rows.first?.decode(0, as: String.self)
    }
}
