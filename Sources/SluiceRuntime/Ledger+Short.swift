// Ledger+Short: the statements of a short job, one recorded once (issue 19): a read before it
// runs (is it still waiting?) and, when it ended inside its threshold, one write that records
// it completed. No claim commit: the delivery stays unacked while the job runs, so a worker
// killed meanwhile loses nothing (the broker redelivers it), and the write is conditional, so a
// job recorded final is never recorded again. Both are batched like the claim and the finish.

import Foundation
import Logging
import Postgres
import SluiceCore

/// What the read before a short run found.
public enum PeekOutcome: Sendable, Equatable {
    /// Waiting for a worker (`attempt`: the row's), or no row yet (nil: its producer's insert runs
    /// beside its publish, or a hand-published envelope): run it.
    case run(attempt: Int?)
    /// Final: ack and skip.
    case final(JobState)
    /// Running under a live lease (another worker claimed it): ack and skip.
    case busy(worker: String?)
    /// Running under an expired lease (its worker was lost): claim it first, as a long job.
    case claim
}

/// A short job that completed inside its threshold, recorded with one statement.
public struct ShortCompletion: Sendable {
    public var envelope: Envelope
    public var workloadClass: String
    public var worker: String
    public var startedAt: Date
    public var result: JSONValue

    public init(envelope: Envelope, workloadClass: String, worker: String, startedAt: Date, result: JSONValue) {
        self.envelope = envelope
        self.workloadClass = workloadClass
        self.worker = worker
        self.startedAt = startedAt
        self.result = result
    }
}

extension Ledger {
    /// Whether a delivered job is still to run (batched with concurrent reads).
    public func peek(_ id: JobID) async throws -> PeekOutcome {
        try await peeker.submit(id)
    }

    static func peek(_ ids: [JobID], table: String, pool: PostgresPool) async throws -> [Result<PeekOutcome, any Error>] {
        // The live leaf first, where a delivered job's row almost always is; the other leaves only
        // for an id it lacks (a final row, or none yet), one primary-key probe per leaf, and the
        // `LIMIT` keeps that a per-id lookup. A plain join through the parent probed every leaf
        // for every id.
        let rows = try await pool.withConnection { c in
            try await c.keyed("""
                SELECT i.id, COALESCE(l.state, f.state), COALESCE(l.attempt, f.attempt), COALESCE(l.worker, f.worker),
                    COALESCE(l.lease_until, f.lease_until) < now() AS expired
                FROM unnest($1::uuid[]) AS i(id)
                LEFT JOIN \(liveLeaf(table)) l ON l.id = i.id
                LEFT JOIN LATERAL (SELECT j.state, j.attempt, j.worker, j.lease_until FROM \(table) j
                                   WHERE l.id IS NULL AND j.id = i.id LIMIT 1) f ON true
                """, [.textArray(ids.map(\.description))])
        }
        var found: [UUID: PeekOutcome] = [:]
        for row in rows {
            let id = try row.decode(0, as: UUID.self)
            guard let text = try row.decode(1, as: String?.self) else {
                found[id] = .run(attempt: nil)
                continue
            }
            let state = JobState(rawValue: text) ?? .discarded
            if state.isFinal {
                found[id] = .final(state)
            } else if state == .running {
                found[id] = try row.decode(4, as: Bool?.self) == true ? .claim : .busy(worker: try row.decode(3, as: String?.self))
            } else {
                found[id] = .run(attempt: try row.decode(2, as: Int.self))
            }
        }
        return ids.map { id -> Result<PeekOutcome, any Error> in
            guard let outcome = found[id.uuid] else { return .failure(LedgerError(.malformedRow, "peek of job \(id) returned no row")) }
            return .success(outcome)
        }
    }

    /// Records a short job completed (batched). False when the row was no longer waiting (final,
    /// or claimed by another worker): nothing was written.
    public func recordCompleted(_ completion: ShortCompletion) async throws -> Bool {
        try await completer.submit(completion)
    }

    static func recordCompleted(_ items: [ShortCompletion], table: String, pool: PostgresPool) async throws -> [Result<Bool, any Error>] {
        try await pool.withConnection { c in
            let (moved, present) = try await completeWaiting(items, table: table, connection: c)
            var recorded = moved
            // No row in any leaf yet: make it, then move it to completed. A row that is there but
            // was not moved is final or busy (a redelivery racing the first record, or another
            // worker's claim): nothing is written, since a second row beside a final one would
            // meet no primary key (each leaf has its own). The row is made live (`available`) and
            // moved by the UPDATE, never inserted straight into a final leaf: the producer's
            // insert (beside the publish) must meet it in `jobs_live` or see it moved out
            // (Ledger.insert). A row the producer committed meanwhile is met the same way.
            let again = items.filter { !present.contains($0.envelope.id.uuid) }
            for item in again {
                _ = try await insertRow(
                    item.envelope, workloadClass: item.workloadClass, state: .available, worker: item.worker, leaseMS: nil,
                    startedAt: item.startedAt, result: nil, table: table, connection: c)
            }
            // A final row made meanwhile by another delivery (unseen by both snapshots, as in
            // the claim): ours goes, and the job is not recorded twice.
            _ = try await dropShadowedLive(again.map(\.envelope.id.uuid), table: table, connection: c)
            if !again.isEmpty { recorded.formUnion(try await completeWaiting(again, table: table, connection: c).moved) }
            return items.map { .success(recorded.contains($0.envelope.id.uuid)) }
        }
    }

    /// Moves waiting rows to completed; returns the ids moved, and the ids that have a row in
    /// any leaf that was moved or is not waiting (final, or claimed: not ours to record). A row
    /// still waiting that the update did not see (its producer's insert committed meanwhile) is
    /// not counted present, so the caller goes on to move it. The rows are found by `j.id = ANY($1)`
    /// and each one's values read from a JSON object keyed by id, not joined with the unnested
    /// input (the claim's reason: a generic plan that rescans the input for every row is
    /// quadratic in the batch, and packs make batches of hundreds). Only ids not moved are looked
    /// up again, in a second statement (rare: a redelivery, or no row yet). "Waiting" is written
    /// as not final and not running: both prune to `jobs_live`, and neither can drive an index
    /// scan, so the primary key finds the rows (`j.state IN (…waiting)` let a generic plan read
    /// every waiting row through the `state` index even with `Ledger.keyedPlans`: 12.9 ms a call
    /// for ~12 rows in `bench throughput --short-job-threshold 5s`, Postgres at 1,013 µs a job).
    private static func completeWaiting(_ items: [ShortCompletion], table: String, connection c: PostgresConnection) async throws
        -> (moved: Set<UUID>, present: Set<UUID>) {
        // {"<id>": [attempt, started_at, result, worker], …}
        let byID = Ledger.jsonByID(items, id: \.envelope.id) { item in
            ["\(item.envelope.attempt)", "\"\(Timestamp.format(item.startedAt))\"", item.result.jsonString,
             JSONValue.string(item.worker).jsonString]
        }
        let rows = try await c.keyed("""
            UPDATE \(table) j SET state = \(JobState.completed.sql), result = i.m -> j.id::text -> 2, error = NULL,
                worker = i.m -> j.id::text ->> 3, started_at = (i.m -> j.id::text ->> 1)::timestamptz, finished_at = now(),
                lease_until = NULL, attempt = GREATEST(j.attempt, (i.m -> j.id::text ->> 0)::int)
            FROM (SELECT $2::jsonb AS m) i
            WHERE j.id = ANY($1::uuid[]) AND j.state NOT IN \(JobState.finalSQL) AND j.state <> \(JobState.running.sql)
            RETURNING j.id
            """, [.textArray(items.map { $0.envelope.id.description }), .text(byID)])
        var moved = Set<UUID>()
        for row in rows { moved.insert(try row.decode(0, as: UUID.self)) }
        var present = moved
        let rest = items.map(\.envelope.id.uuid).filter { !moved.contains($0) }
        if !rest.isEmpty {
            let found = try await c.keyed("""
                SELECT i.id FROM unnest($1::uuid[]) AS i(id)
                WHERE EXISTS (SELECT 1 FROM \(table) j WHERE j.id = i.id AND j.state NOT IN \(JobState.waitingSQL))
                """, [.textArray(rest.map(\.uuidString))])
            for row in found { present.insert(try row.decode(0, as: UUID.self)) }
        }
        return (moved, present)
    }

    /// Inserts the row of a delivered job that has none: `running` under a lease of `leaseMS`, or
    /// `completed` with `result`. Returns its attempt; nil when a row was there first (its id, or
    /// a live job holding its unique key).
    static func insertRow(
        _ e: Envelope, workloadClass: String, state: JobState, worker: String, leaseMS: Int?, startedAt: Date?,
        result: JSONValue?, table: String, connection c: PostgresConnection
    ) async throws -> Int? {
        let inserted = try await c.query("""
            INSERT INTO \(table) (id, kind, class, target, args, state, attempt, max_attempts, timeout_s,
                priority, unique_key, enqueued_at, not_before, producer, trace_id, worker, lease_until, started_at,
                result, finished_at, enqueued_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                now() + $17::float8 * interval '1 millisecond', COALESCE($18, now()), $19,
                CASE WHEN $6::text IN \(JobState.finalSQL) THEN now() END, $20)
            ON CONFLICT DO NOTHING RETURNING attempt
            """, [.uuid(e.id.uuid), .text(e.kind.rawValue), .text(workloadClass), .text(e.target),
                  .json(JSONValue.object(e.args).jsonString), .text(state.rawValue), .int(e.attempt), .int(e.maxAttempts),
                  .int(e.timeoutSeconds), e.priority.map { .int($0) } ?? .null, e.uniqueKey.map { .text($0) } ?? .null,
                  .timestamp(e.enqueuedAt), e.notBefore.map { .timestamp($0) } ?? .null,
                  e.producer.map { .text($0) } ?? .null, e.traceID.map { .text($0) } ?? .null,
                  .text(worker), leaseMS.map { .int($0) } ?? .null, startedAt.map { .timestamp($0) } ?? .null,
                  result.map { .json($0.jsonString) } ?? .null, e.enqueuedBy.map { .text($0) } ?? .null])
        return try inserted.first?.decode(0, as: Int.self)
    }
}
