// JobGuardrails: the session settings every database job runs under: lock_timeout, so a job
// that meets a held lock fails fast (and is retried later) instead of queueing behind it while
// production traffic queues behind the job; the class's statement_timeout; and TimeZone UTC,
// so partition bounds read and written by jobs are UTC.
//
// Settings are applied to the pooled session with `set_config(…, false)` (session scope, since
// VACUUM and REINDEX CONCURRENTLY run outside a transaction block) and the previous values are
// restored afterwards, so the pool's own settings survive the job.

import Logging
import Postgres
import SluiceCatalog
import SluiceCore

public struct JobGuardrails: Sendable, Equatable {
    /// The longest any statement of the job waits for a lock.
    public var lockTimeout: Duration
    /// The longest any statement of the job runs.
    public var statementTimeout: Duration

    /// Used only when no class settings are at hand.
    public static let defaultLockTimeout = Duration.seconds(2)

    public init(lockTimeout: Duration = JobGuardrails.defaultLockTimeout, statementTimeout: Duration) {
        self.lockTimeout = lockTimeout
        self.statementTimeout = statementTimeout
    }

    /// The catalog's settings for `workloadClass` (its `classes:` section, or DESIGN.md's defaults).
    public init(catalog: Catalog, workloadClass: WorkloadClass) {
        let settings = catalog.settings(for: workloadClass)
        self.init(lockTimeout: settings.lockTimeout, statementTimeout: settings.statementTimeout)
    }

    /// `1500ms`: a Postgres duration setting, rounded up to whole milliseconds (never 0 = off).
    static func milliseconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        let ms = s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000
        return "\(max(ms, 1))ms"
    }

    /// Runs `body` on a pooled connection with these settings applied to the session; restores
    /// the previous values afterwards (a connection that cannot be restored is broken and
    /// discarded by the pool).
    func withSession<T>(
        _ pool: PostgresPool, logger: Logger, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await pool.withConnection { connection in
            let previous = try await connection.query(
                "SELECT current_setting('lock_timeout'), current_setting('statement_timeout'), current_setting('TimeZone')")
            let old = (try previous[0].decode(0, as: String.self), try previous[0].decode(1, as: String.self),
                       try previous[0].decode(2, as: String.self))
            try await apply(lockTimeout: lockTimeout, on: connection)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                await Self.restore(old, on: connection, logger: logger)
                throw error
            }
            await Self.restore(old, on: connection, logger: logger)
            return value
        }
    }

    /// Sets the session's timeouts (the lock timeout may differ from the class's, e.g. for cleanup).
    func apply(lockTimeout: Duration, on connection: PostgresConnection) async throws(PostgresError) {
        try await connection.execute(
            "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false), "
                + "set_config('TimeZone', 'UTC', false)",
            [.text(Self.milliseconds(lockTimeout)), .text(Self.milliseconds(statementTimeout))])
    }

    /// Restores settings, even when the job's task was cancelled (the restore must still run).
    private static func restore(_ old: (String, String, String), on connection: PostgresConnection, logger: Logger) async {
        guard !connection.isBroken else { return }
        let done: Bool = await uncancellable {
            do {
                try await connection.execute(
                    "SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false), "
                        + "set_config('TimeZone', $3, false)",
                    [.text(old.0), .text(old.1), .text(old.2)])
                return true
            } catch {
                return false
            }
        }
        if !done {
            logger.warning("could not restore the session settings after a job; closing the connection")
            await connection.close()
        }
    }
}
