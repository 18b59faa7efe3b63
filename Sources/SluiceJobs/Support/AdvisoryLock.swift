// AdvisoryLock: "one run per object at a time" for jobs whose work spans several transactions
// or runs outside any (REINDEX CONCURRENTLY, DETACH … CONCURRENTLY, batched deletes).
//
// A session-level `pg_try_advisory_lock(hashtext(key))` held for the run on the job's own
// connection and released at the end (or by the server when the session ends). Session locks
// need a real session: behind PgBouncer in transaction mode, use a direct connection for
// maintenance. Jobs that work in one transaction (refresh) use the `_xact_` form instead.

import Logging
import Postgres
import SluiceRuntime

enum AdvisoryLock {
    /// `sluice.<kind>:<object>`: the text hashed into the lock key.
    static func key(_ kind: String, _ object: String) -> String { "sluice.\(kind):\(object)" }

    /// Runs `body` holding the session advisory lock `key`; throws `.busy` when another session holds it.
    static func withSessionLock<T>(
        _ key: String, on connection: PostgresConnection, object: String, logger: Logger,
        _ body: () async throws -> T
    ) async throws -> T {
        let rows = try await connection.query("SELECT pg_try_advisory_lock(hashtext($1))", [.text(key)])
        guard try rows[0].decode(0, as: Bool.self) else {
            throw JobError(.busy, "another run holds the lock '\(key)'", object: object)
        }
        let unlock: @Sendable () async -> Void = {
            await uncancellable {
                do {
                    try await connection.execute("SELECT pg_advisory_unlock(hashtext($1))", [.text(key)])
                } catch {
                    logger.warning("could not release advisory lock \(key); closing the session: \(error)")
                    await connection.close()
                }
            }
        }
        let value: T
        do {
            value = try await body()
        } catch {
            await unlock()
            throw error
        }
        await unlock()
        return value
    }
}
