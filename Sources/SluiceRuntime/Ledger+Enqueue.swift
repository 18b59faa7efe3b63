// Ledger+Enqueue: Inserting job rows (batched; a row already there with the job's id counts as
// inserted) and marking rows whose publish failed.

import Foundation
import Logging
import Postgres
import SluiceCore

extension Ledger {

    /// Inserts the job (batched with concurrent inserts). A live job with the same unique key
    /// wins: the outcome then names it and nothing is inserted.
    public func insert(_ request: LedgerInsert) async throws -> InsertOutcome {
        do {
            return try await inserter.submit(request)
        } catch let error as LedgerError where error.code == .uniqueKeyRace {
            // The holder finished between our insert and our read: try once more.
            return try await inserter.submit(request)
        }
    }

    /// Inserts a batch of rows with one statement per thousand (no task per row); one outcome
    /// per row, in order. `secondLook: false` when no message of these jobs can have been
    /// published yet (the caller publishes after this returns): no worker can have recorded one,
    /// so the look for a copy in a final leaf is skipped.
    public func insert(batch items: [LedgerInsert], secondLook: Bool = true) async -> [Result<InsertOutcome, any Error>] {
        var out: [Result<InsertOutcome, any Error>] = []
        var start = 0
        while start < items.count {
            let chunk = Array(items[start..<min(start + 1000, items.count)])
            out += await Ledger.runBatch(chunk.count) { [table, pool] in
                try await Ledger.insert(chunk, table: table, pool: pool, secondLook: secondLook)
            }
            start += chunk.count
        }
        for i in out.indices {
            // The holder of the unique key finished between the insert and the read: once more.
            if case .failure(let error as LedgerError) = out[i], error.code == .uniqueKeyRace {
                do { out[i] = .success(try await insert(items[i])) } catch { out[i] = .failure(error) }
            }
        }
        return out
    }

    static func insert(_ items: [LedgerInsert], table: String, pool: PostgresPool, secondLook: Bool = true) async throws
        -> [Result<InsertOutcome, any Error>] {
        let e = items.map(\.envelope)
        func ts(_ d: Date?) -> String? { d.map(Timestamp.format) }
        let binds: [PostgresValue] = [
            .textArray(e.map { $0.id.description }), .textArray(e.map { $0.kind.rawValue }),
            .textArray(items.map(\.workloadClass)), .textArray(e.map(\.target)),
            .textArray(e.map { JSONValue.object($0.args).jsonString }), .textArray(items.map { $0.state.rawValue }),
            .intArray(e.map(\.attempt)), .intArray(e.map(\.maxAttempts)), .intArray(e.map(\.timeoutSeconds)),
            .intArray(e.map(\.priority)), .textArray(e.map(\.uniqueKey)), .textArray(e.map { ts($0.enqueuedAt) }),
            .textArray(e.map { ts($0.notBefore) }), .textArray(e.map(\.producer)), .textArray(e.map(\.traceID)),
            .textArray(e.map(\.enqueuedBy)),
        ]
        // `ON CONFLICT DO NOTHING` without a conflict target: `jobs` is partitioned (migration 7) and
        // the live unique index is `jobs_live`'s own, which a target cannot name through the parent;
        // every row inserted here is live, so it lands in `jobs_live` and is checked against it.
        // The primary key is each partition's own, so nothing in the schema keeps an id to one row
        // across leaves. This insert runs beside the publish, and a worker that gets the message
        // first makes the row itself, runs the job and moves the row to a final leaf. A worker's
        // row still live (committed or not) is met by the conflict; one already moved out is not,
        // and no snapshot taken by this statement can be trusted to see it: the worker's move can
        // commit between this statement's start and its index insert (it did, tens of times in
        // a run under load, FailureTests.privateBroker). So the same transaction looks again with
        // a fresh snapshot, taken after our rows were written: any final row of an id we inserted
        // is visible then, and our live copy is deleted before anyone can see it
        // (`dropShadowedLive`; skipped with `secondLook: false`, when the caller publishes only
        // after this insert). The job is recorded either way: it counts as inserted. Both
        // statements go in one pipeline: one round trip and one commit, not four round trips
        // (BEGIN, insert, look again, COMMIT). The second look takes every id of the batch, not
        // only those the insert returned (it cannot wait for them): a live row beside a final
        // row of the same id is a leftover whoever wrote it, and goes.
        return try await pool.withConnection { c in
            var statements: [(sql: String, binds: [PostgresValue])] = [
                (sql: """
                INSERT INTO \(table) (id, kind, class, target, args, state, attempt, max_attempts, timeout_s, priority,
                    unique_key, enqueued_at, not_before, producer, trace_id, enqueued_by)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]::jsonb[], $6::text[],
                    $7::int[], $8::int[], $9::int[], $10::smallint[], $11::text[], $12::text[]::timestamptz[],
                    $13::text[]::timestamptz[], $14::text[], $15::text[], $16::text[])
                    AS u(id, kind, class, target, args, state, attempt, max_attempts, timeout_s, priority,
                         unique_key, enqueued_at, not_before, producer, trace_id, enqueued_by)
                ON CONFLICT DO NOTHING
                RETURNING id
                """, binds: binds),
            ]
            if secondLook {
                // The second look finds rows by id: index scans only (Ledger.keyedPlans).
                statements.insert((sql: keyedPlans, binds: []), at: 0)
                statements.append((sql: dropShadowedLiveSQL(table), binds: [.textArray(e.map { $0.id.description })]))
            }
            let rows = try await c.pipeline(statements)[secondLook ? 1 : 0]
            var inserted = Set<UUID>()
            for row in rows { inserted.insert(try row.decode(0, as: UUID.self)) }
            // A row with the job's own id is there already: the worker that received its message
            // (published beside this insert) made it, or the caller enqueued this id before. Either
            // way the job is recorded: count it inserted.
            let missing = e.filter { !inserted.contains($0.id.uuid) }
            if !missing.isEmpty {
                let existing = try await c.keyed("SELECT id FROM \(table) WHERE id = ANY($1::uuid[])",
                                                 [.textArray(missing.map(\.id.description))])
                for row in existing { inserted.insert(try row.decode(0, as: UUID.self)) }
            }
            let missingKeys = missing.filter { !inserted.contains($0.id.uuid) }.compactMap(\.uniqueKey)
            var holders: [String: JobID] = [:]
            if !missingKeys.isEmpty {
                let found = try await c.keyed(
                    "SELECT unique_key, id FROM \(table) WHERE unique_key = ANY($1::text[]) AND state IN \(JobState.liveSQL)",
                    [.textArray(missingKeys)])
                for row in found { holders[try row.decode(0, as: String.self)] = JobID(uuid: try row.decode(1, as: UUID.self)) }
            }
            return e.map { env -> Result<InsertOutcome, any Error> in
                if inserted.contains(env.id.uuid) { return .success(.inserted) }
                if let key = env.uniqueKey, let holder = holders[key] { return .success(.duplicate(of: holder)) }
                if env.uniqueKey == nil {
                    return .failure(LedgerError(.malformedRow, "insert of job \(env.id) returned no row"))
                }
                return .failure(LedgerError(.uniqueKeyRace, "the job holding the unique key finished meanwhile"))
            }
        }
    }

    /// Deletes the live rows of `ids` that have a final row in another leaf (a worker recorded
    /// the job while a second row for it was being inserted), in a statement of its own so its
    /// snapshot sees every move committed before the caller's insert. Returns each deleted id
    /// with the state of its final row.
    static func dropShadowedLive(_ ids: [UUID], table: String, connection c: PostgresConnection) async throws -> [UUID: JobState] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await c.keyed(dropShadowedLiveSQL(table), [.textArray(ids.map(\.uuidString))])
        var dropped: [UUID: JobState] = [:]
        for row in rows {
            dropped[try row.decode(0, as: UUID.self)] = JobState(rawValue: try row.decode(1, as: String.self)) ?? .completed
        }
        return dropped
    }

    /// `dropShadowedLive`'s statement: $1 the ids; returns each deleted id and its final state.
    /// It deletes from the live leaf by its primary key, and looks for each id's final row with
    /// one primary-key probe per final leaf (`OFFSET 0` keeps the `EXISTS` a per-row subplan).
    /// Written as a plain `EXISTS` through the parent, the planner made it a hash semi-join over
    /// every final row (the final leaves' statistics lag far behind a busy ledger), so each call
    /// read every job finished so far: 13.8–17 ms a call on average in a `bench throughput
    /// --batch 1` run (`pg_stat_statements`), the largest Postgres cost per job there, growing
    /// with the history.
    static func dropShadowedLiveSQL(_ table: String) -> String {
        """
        DELETE FROM \(liveLeaf(table)) l WHERE l.id = ANY($1::uuid[])
            AND EXISTS (SELECT 1 FROM \(table) f WHERE f.id = l.id AND f.state IN \(JobState.finalSQL) OFFSET 0)
        RETURNING l.id, (SELECT f.state FROM \(table) f WHERE f.id = l.id AND f.state IN \(JobState.finalSQL) LIMIT 1)
        """
    }

    /// The live leaf of the quoted ledger table `"schema"."jobs"`: `"schema"."jobs_live"`
    /// (every row in a live state is there, by the partition bounds of migration 7).
    static func liveLeaf(_ table: String) -> String {
        precondition(table.hasSuffix("\"jobs\""), "not a ledger table: \(table)")
        return String(table.dropLast()) + "_live\""
    }

    /// Marks jobs whose publish failed after their insert: `discarded` with error `publish_failed`,
    /// which also frees their unique key.
    public func markPublishFailed(_ ids: [JobID]) async throws {
        guard !ids.isEmpty else { return }
        _ = try await pool.withConnection { c in
            try await c.execute("""
                UPDATE \(table) SET state = \(JobState.discarded.sql), error = 'publish_failed', finished_at = now()
                WHERE id = ANY($1::uuid[]) AND state IN \(JobState.unpublishedSQL)
                """, [.textArray(ids.map(\.description))])
        }
    }
}
