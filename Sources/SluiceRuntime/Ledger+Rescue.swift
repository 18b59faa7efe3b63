// Ledger+Rescue: Finding jobs whose lease expired (their worker died) and moving them on.

import Foundation
import Logging
import Postgres
import SluiceCore

extension Ledger {

    /// Locks up to `limit` running jobs whose lease expired (skipping rows another leader
    /// holds), hands them to `decide`, and applies its verdicts in the same transaction:
    /// `available` (republished) or `discarded`. Returns the number of jobs handled.
    public func rescueExpired(limit: Int = 500, _ decide: ([LedgerJob]) async -> [(JobID, JobState, String?)]) async throws -> Int {
        try await pool.withConnection { c in
            try await c.withTransaction { c in
                let rows = try await c.query("""
                    SELECT \(LedgerJob.columns) FROM \(table)
                    WHERE state = \(JobState.running.sql) AND lease_until < now()
                    ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED
                    """, [.int(limit)])
                let jobs = try rows.map { try LedgerJob(row: $0) }
                guard !jobs.isEmpty else { return 0 }
                let verdicts = await decide(jobs)
                for (id, state, error) in verdicts {
                    try await c.execute("""
                        UPDATE \(table) SET state = $2, lease_until = NULL, worker = NULL, error = COALESCE($3, error),
                            finished_at = CASE WHEN $2 = \(JobState.discarded.sql) THEN now() ELSE finished_at END
                        WHERE id = $1 AND state = \(JobState.running.sql) AND lease_until < now()
                        """, [.uuid(id.uuid), .text(state.rawValue), error.map { .text($0) } ?? .null])
                }
                return verdicts.count
            }
        }
    }
}
