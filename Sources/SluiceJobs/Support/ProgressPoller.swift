// ProgressPoller: watches a running maintenance statement from a second connection and turns
// its `pg_stat_progress_*` row into job progress.
//
// The job's own connection is busy inside VACUUM / ANALYZE, so the poller opens a short-lived
// connection of its own (not a pool slot, so two vacuums in a pool of two cannot starve each
// other). If it cannot connect the job still runs, without progress. It stops when the body
// finishes; a poll in flight is cancelled with it.

import Logging
import Postgres

enum ProgressPoller {
    /// Runs `body` while polling `sql` (one bound parameter: the job session's backend pid) every
    /// `interval`; each row found goes through `describe` to `progress`.
    @discardableResult
    static func whilePolling<T: Sendable>(
        configuration: PostgresConfiguration, sql: String, pid: Int32, interval: Duration,
        progress: @escaping ProgressReporter, logger: Logger,
        describe: @escaping @Sendable (PostgresRow) throws -> [String: String]?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await poll(configuration: configuration, sql: sql, pid: pid, interval: interval,
                           progress: progress, logger: logger, describe: describe)
            }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    private static func poll(
        configuration: PostgresConfiguration, sql: String, pid: Int32, interval: Duration,
        progress: @escaping ProgressReporter, logger: Logger,
        describe: @escaping @Sendable (PostgresRow) throws -> [String: String]?
    ) async {
        var config = configuration
        config.applicationName = "sluice progress"
        config.statementTimeout = .seconds(10)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(config, logger: logger)
        } catch {
            logger.warning("progress poller could not connect; the job runs without progress: \(error)")
            return
        }
        while !Task.isCancelled {
            do {
                let rows = try await connection.query(sql, [.int(Int(pid))])
                if let row = rows.first, let values = try describe(row) { await progress(values) }
            } catch {
                if !Task.isCancelled { logger.debug("progress poll failed: \(error)") }
            }
            do { try await Task.sleep(for: interval) } catch { break }
        }
        await connection.close()
    }

    /// `42.5`: a percentage with one decimal, or nil when the total is unknown.
    static func percent(_ done: Int, of total: Int) -> String? {
        guard total > 0 else { return nil }
        let p = (Double(done) * 1000 / Double(total)).rounded() / 10
        return String(min(p, 100))
    }
}
