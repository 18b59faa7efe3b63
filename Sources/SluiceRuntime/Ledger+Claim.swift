// Ledger+Claim: A worker's writes: the conditional claim, the finish, lease heartbeats, progress, discards and replays.

import Foundation
import Logging
import Postgres
import SluiceCore

extension Ledger {

    /// Claims a job for `worker` (batched with concurrent claims).
    public func claim(_ request: ClaimRequest) async throws -> ClaimOutcome {
        try await claimer.submit(request)
    }

    static func claim(_ items: [ClaimRequest], table: String, pool: PostgresPool) async throws -> [Result<ClaimOutcome, any Error>] {
        // One decision per id: a message delivered twice in one batch is claimed once.
        var first: [JobID: Int] = [:]
        var unique: [ClaimRequest] = []
        for item in items where first[item.envelope.id] == nil {
            first[item.envelope.id] = unique.count
            unique.append(item)
        }
        var outcomes: [JobID: ClaimOutcome] = [:]
        // Items with the same worker and lease share a statement (one worker: all of them).
        let groups = Dictionary(grouping: unique, by: { "\($0.worker)\u{0}\($0.lease.milliseconds)" })
        try await pool.withConnection { c in
            for group in groups.values {
                let worker = group[0].worker
                let leaseMS = group[0].lease.milliseconds
                var decided = try await claimUpdate(group, worker: worker, leaseMS: leaseMS, table: table, connection: c)
                // A message with no row (a replayed dead letter, a hand-published envelope, or a
                // job whose producer's insert has not committed yet): insert it claimed.
                var lost: [ClaimRequest] = []
                var inserted: [JobID] = []
                for request in group where decided[request.envelope.id] == nil {
                    if let attempt = try await insertRow(
                        request.envelope, workloadClass: request.workloadClass, state: .running, worker: worker, leaseMS: leaseMS,
                        startedAt: request.startedAt, result: nil, table: table, connection: c) {
                        decided[request.envelope.id] = .claimed(attempt: attempt)
                        inserted.append(request.envelope.id)
                    } else {
                        lost.append(request)
                    }
                }
                // Another delivery of one of these messages may have been run and moved to a
                // final leaf meanwhile, unseen by the claim's snapshot and by the insert's
                // conflict check (Ledger.insert): then that job is done, and our row goes.
                for (id, state) in try await dropShadowedLive(inserted.map(\.uuid), table: table, connection: c) {
                    decided[JobID(uuid: id)] = .final(state)
                }
                // The insert met a row: the producer's insert committed meanwhile (it runs beside
                // the publish), or another live job holds the unique key. Claim once more; a row
                // still missing then is the unique key's holder's: busy.
                if !lost.isEmpty {
                    let again = try await claimUpdate(lost, worker: worker, leaseMS: leaseMS, table: table, connection: c)
                    for request in lost { decided[request.envelope.id] = again[request.envelope.id] ?? .busy(worker: nil) }
                }
                outcomes.merge(decided) { _, new in new }
            }
        }
        return items.enumerated().map { (index, item) in
            let id = item.envelope.id
            if first[id] != index { return .success(.busy(worker: item.worker)) }
            guard let outcome = outcomes[id] else {
                return .failure(LedgerError(.malformedRow, "claim of job \(id) returned no row"))
            }
            return .success(outcome)
        }
    }

    /// The conditional claim of `group` (one statement); no entry for an id without a row.
    /// The rows are found by `j.id = ANY($1)` (the primary key) and each row's attempt and
    /// start are read from a JSON object keyed by id (`$4`, a binary search per row), not
    /// joined with the unnested input: a join needs the planner to know the group's size, and
    /// its generic plan (10 rows assumed for any array) chose a nested loop that rescanned the
    /// whole input for every row: 64,262 comparisons and 14 ms for a group of 254, so a worker
    /// that fell behind claimed ever larger groups ever more slowly. With the join alone (no
    /// `ANY`), it had hashed the input and read every waiting row through the `(state, id)`
    /// index. Only the ids it did not claim are looked up in the whole ledger, one primary-key
    /// probe per leaf each (the `LIMIT` keeps the lookup per id, never a join over every row).
    private static func claimUpdate(_ group: [ClaimRequest], worker: String, leaseMS: Int, table: String,
                                    connection c: PostgresConnection) async throws -> [JobID: ClaimOutcome] {
        // {"<id>": [attempt, started_at or null], …}: timestamps need no JSON escaping.
        let byID = jsonByID(group, id: \.envelope.id) { r in
            ["\(r.envelope.attempt)", r.startedAt.map { "\"\(Timestamp.format($0))\"" } ?? "null"]
        }
        let rows = try await c.keyed("""
            WITH input AS (SELECT $4::jsonb AS m),
            claimed AS (
                UPDATE \(table) j SET state = \(JobState.running.sql), worker = $2, lease_until = now() + $3 * interval '1 millisecond',
                    started_at = COALESCE((i.m -> j.id::text ->> 1)::timestamptz, now()),
                    attempt = GREATEST(j.attempt, (i.m -> j.id::text ->> 0)::int), error = NULL
                FROM input i
                WHERE j.id = ANY($1::uuid[]) AND (j.state IN \(JobState.waitingSQL)
                    OR (j.state = \(JobState.running.sql) AND j.lease_until < now()))
                RETURNING j.id, j.attempt)
            SELECT c.id, c.attempt AS claimed_attempt, NULL::text AS state, NULL::text AS worker FROM claimed c
            UNION ALL
            SELECT i.id, NULL, j.state, j.worker
            FROM unnest($1::uuid[]) AS i(id) LEFT JOIN LATERAL (SELECT j.state, j.worker FROM \(table) j WHERE j.id = i.id LIMIT 1) j ON true
            WHERE NOT EXISTS (SELECT 1 FROM claimed c WHERE c.id = i.id)
            """, [.textArray(group.map { $0.envelope.id.description }), .text(worker), .int(leaseMS), .text(byID)])
        var outcomes: [JobID: ClaimOutcome] = [:]
        for row in rows {
            let id = JobID(uuid: try row.decode("id", as: UUID.self))
            if let attempt = try row.decode("claimed_attempt", as: Int?.self) {
                outcomes[id] = .claimed(attempt: attempt)
            } else if let stateText = try row.decode("state", as: String?.self) {
                let state = JobState(rawValue: stateText) ?? .discarded
                outcomes[id] = state.isFinal ? .final(state) : .busy(worker: try row.decode("worker", as: String?.self))
            }
        }
        return outcomes
    }

    /// Records how an attempt ended (batched). Returns false when the row was already final
    /// (cancelled meanwhile) and was left alone.
    @discardableResult
    public func finish(_ request: FinishRequest) async throws -> Bool {
        try await finisher.submit(request)
    }

    /// The rows are found by `j.id = ANY($1)` and each one's values read from a JSON object keyed
    /// by id, as in the claim: joined with the unnested input, a generic plan may rescan the input
    /// for every row (quadratic in the batch).
    static func finish(_ items: [FinishRequest], table: String, pool: PostgresPool) async throws -> [Result<Bool, any Error>] {
        // {"<id>": [state, {"r": result} or {}, error or null, attempt], …}
        let byID = jsonByID(items, id: \.id) { item in
            ["\"\(item.state.rawValue)\"", item.result.map { "{\"r\":" + $0.jsonString + "}" } ?? "{}",
             item.error.map { JSONValue.string(String($0.prefix(4096))).jsonString } ?? "null", "\(item.attempt)"]
        }
        let rows = try await pool.withConnection { c in
            try await c.keyed("""
                UPDATE \(table) j SET state = i.m -> j.id::text ->> 0, result = i.m -> j.id::text -> 1 -> 'r',
                    error = i.m -> j.id::text ->> 2,
                    finished_at = CASE WHEN i.m -> j.id::text ->> 0 IN \(JobState.finalSQL) THEN now() ELSE NULL END,
                    lease_until = NULL, attempt = GREATEST(j.attempt, (i.m -> j.id::text ->> 3)::int)
                FROM (SELECT $2::jsonb AS m) i
                WHERE j.id = ANY($1::uuid[]) AND j.state NOT IN \(JobState.finalSQL)
                RETURNING j.id
                """, [.textArray(items.map { $0.id.description }), .text(byID)])
        }
        var updated = Set<UUID>()
        for row in rows { updated.insert(try row.decode(0, as: UUID.self)) }
        return items.map { .success(updated.contains($0.id.uuid)) }
    }

    /// Records a transactional job completed on `connection`, inside the transaction that
    /// holds its effect, only while the claim is still `worker`'s at `attempt` (a stale worker,
    /// whose job was rescued or claimed by another, changes nothing). False: not ours.
    func completeFenced(_ id: JobID, attempt: Int, worker: String, result: JSONValue, connection c: PostgresConnection) async throws -> Bool {
        let rows = try await c.query("""
            UPDATE \(table) SET state = \(JobState.completed.sql), result = $2, error = NULL, finished_at = now(), lease_until = NULL
            WHERE id = $1 AND state = \(JobState.running.sql) AND worker = $3 AND attempt = $4
            RETURNING id
            """, [.uuid(id.uuid), .json(result.jsonString), .text(worker), .int(attempt)])
        return !rows.isEmpty
    }

    /// Extends the leases of `ids` held by `worker`; returns the ids whose cancel was requested.
    /// Ids whose lease is no longer this worker's are left out of the update.
    public func heartbeat(_ ids: [JobID], worker: String, lease: Duration) async throws -> Set<JobID> {
        guard !ids.isEmpty else { return [] }
        let rows = try await pool.withConnection { c in
            try await c.keyed("""
                UPDATE \(table) SET lease_until = now() + $3 * interval '1 millisecond'
                WHERE id = ANY($1::uuid[]) AND state = \(JobState.running.sql) AND worker = $2
                RETURNING id, cancel_requested
                """, [.textArray(ids.map(\.description)), .text(worker), .int(lease.milliseconds)])
        }
        var cancelled = Set<JobID>()
        for row in rows where try row.decode(1, as: Bool.self) {
            cancelled.insert(JobID(uuid: try row.decode(0, as: UUID.self)))
        }
        return cancelled
    }

    /// Gives running jobs up (worker shutdown, a failed retry publish): their lease expires now,
    /// so a worker receiving their message may claim them, and if no message is on its way the
    /// leader's rescue republishes them.
    public func expireLeases(_ ids: [JobID], worker: String) async throws {
        guard !ids.isEmpty else { return }
        _ = try await pool.withConnection { c in
            try await c.execute("""
                UPDATE \(table) SET state = \(JobState.running.sql), lease_until = now() - interval '1 millisecond'
                WHERE id = ANY($1::uuid[]) AND (state = \(JobState.running.sql) AND worker = $2 OR state = \(JobState.retryable.sql))
                """, [.textArray(ids.map(\.description)), .text(worker)])
        }
    }

    /// Stores a job's latest progress report.
    public func progress(_ id: JobID, _ value: JSONValue) async throws {
        _ = try await pool.withConnection { c in
            try await c.execute("UPDATE \(table) SET progress = $2 WHERE id = $1", [.uuid(id.uuid), .json(value.jsonString)])
        }
    }

    /// Marks a job discarded (a bad message whose id was readable), unless it is final already.
    public func discard(_ id: JobID, error: String) async throws {
        _ = try await finish(FinishRequest(id: id, state: .discarded, result: nil, error: error, attempt: 0))
    }

    /// Makes a discarded job runnable again (dead-letter replay): `available`, attempt 1.
    public func resetForReplay(_ id: JobID) async throws {
        _ = try await pool.withConnection { c in
            try await c.execute("""
                UPDATE \(table) SET state = \(JobState.available.sql), attempt = 1, error = NULL, finished_at = NULL, result = NULL,
                    lease_until = NULL, worker = NULL, cancel_requested = false
                WHERE id = $1 AND state = \(JobState.discarded.sql)
                """, [.uuid(id.uuid)])
        }
    }
}
