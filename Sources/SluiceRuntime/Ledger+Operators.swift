// Ledger+Operators: What operators read and do: one job, cancel, counts per class and state.

import Foundation
import Logging
import Postgres
import SluiceCore

extension Ledger {

    public func job(_ id: JobID) async throws -> LedgerJob? {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT \(LedgerJob.columns) FROM \(table) WHERE id = $1", [.uuid(id.uuid)])
        }
        return try rows.first.map { try LedgerJob(row: $0) }
    }

    /// What `cancel` did.
    public enum CancelOutcome: String, Sendable {
        /// The job was queued; it is now `cancelled` and will be skipped when its message arrives.
        case cancelled
        /// The job is running; its worker cancels the statement at its next heartbeat.
        case requested
        /// The job had already finished.
        case alreadyFinal = "already_final"
        case notFound = "not_found"
    }

    public func cancel(_ id: JobID) async throws -> (CancelOutcome, JobState?) {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                UPDATE \(table) SET
                    state = CASE WHEN state IN \(JobState.waitingSQL) THEN \(JobState.cancelled.sql) ELSE state END,
                    finished_at = CASE WHEN state IN \(JobState.waitingSQL) THEN now() ELSE finished_at END,
                    error = CASE WHEN state IN \(JobState.waitingSQL) THEN 'cancelled by operator' ELSE error END,
                    cancel_requested = cancel_requested OR state = \(JobState.running.sql)
                WHERE id = $1
                RETURNING state, (SELECT state FROM \(table) WHERE id = $1) AS old_state
                """, [.uuid(id.uuid)])
        }
        guard let row = rows.first else { return (.notFound, nil) }
        let state = JobState(rawValue: try row.decode(0, as: String.self)) ?? .discarded
        let old = JobState(rawValue: try row.decode(1, as: String.self)) ?? .discarded
        if old.isFinal { return (.alreadyFinal, state) }
        return (state == .cancelled ? .cancelled : .requested, state)
    }

    /// Per class with any such job: jobs waiting and running now, completed and failed in the
    /// last hour (`overview` of every class, all-zero classes left out).
    public func statusCounts() async throws -> [String: ClassCounts] {
        try await overview(classes: WorkloadClass.allCases.map(\.rawValue)).filter { $0.value != ClassCounts() }
    }

    /// Counts of jobs per state (tests, `sluice status`).
    public func countByState(ids: [JobID]) async throws -> [JobState: Int] {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT state, count(*) FROM \(table) WHERE id = ANY($1::uuid[]) GROUP BY state",
                              [.textArray(ids.map(\.description))])
        }
        var out: [JobState: Int] = [:]
        for row in rows {
            if let s = JobState(rawValue: try row.decode(0, as: String.self)) { out[s] = try row.decode(1, as: Int.self) }
        }
        return out
    }
}
