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
    /// per row, in order.
    public func insert(batch items: [LedgerInsert]) async -> [Result<InsertOutcome, any Error>] {
        var out: [Result<InsertOutcome, any Error>] = []
        var start = 0
        while start < items.count {
            let chunk = Array(items[start..<min(start + 1000, items.count)])
            out += await Ledger.runBatch(chunk.count) { [table, pool] in try await Ledger.insert(chunk, table: table, pool: pool) }
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

    static func insert(_ items: [LedgerInsert], table: String, pool: PostgresPool) async throws -> [Result<InsertOutcome, any Error>] {
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
        // The primary key is each partition's own, so an id is unique across the ledger only because
        // every writer of a new row writes it live: this insert, and a worker that makes a missing
        // row (`insertRow`, always live, moved to final by an UPDATE). The NOT EXISTS skips an id a
        // worker already recorded and moved to a final partition (this insert runs beside the
        // publish); a worker's row still live and uncommitted is met by the conflict and waited for.
        return try await pool.withConnection { c in
            let rows = try await c.query("""
                INSERT INTO \(table) (id, kind, class, target, args, state, attempt, max_attempts, timeout_s, priority,
                    unique_key, enqueued_at, not_before, producer, trace_id, enqueued_by)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]::jsonb[], $6::text[],
                    $7::int[], $8::int[], $9::int[], $10::smallint[], $11::text[], $12::text[]::timestamptz[],
                    $13::text[]::timestamptz[], $14::text[], $15::text[], $16::text[])
                    AS u(id, kind, class, target, args, state, attempt, max_attempts, timeout_s, priority,
                         unique_key, enqueued_at, not_before, producer, trace_id, enqueued_by)
                WHERE NOT EXISTS (SELECT 1 FROM \(table) j WHERE j.id = u.id)
                ON CONFLICT DO NOTHING
                RETURNING id
                """, binds)
            var inserted = Set<UUID>()
            for row in rows { inserted.insert(try row.decode(0, as: UUID.self)) }
            // The NOT EXISTS above reads the statement's snapshot: a worker that made the row,
            // ran the job and moved it to a final partition after that snapshot was taken but
            // before the insert reached `jobs_live` leaves it unseen, and the insert makes a
            // second, live row of the same id (seen in PipelineTests under load: one row
            // completed, one available forever). This statement's snapshot is newer: it removes
            // such a live twin. The job counts as inserted (its worker recorded it).
            if !inserted.isEmpty {
                _ = try await c.query("""
                    DELETE FROM \(table) l WHERE l.id = ANY($1::uuid[]) AND l.state IN \(JobState.unpublishedSQL)
                        AND EXISTS (SELECT 1 FROM \(table) f WHERE f.id = l.id AND f.state IN \(JobState.finalSQL))
                    """, [.textArray(inserted.map { $0.uuidString.lowercased() })])
            }
            // A row with the job's own id is there already: the worker that received its message
            // (published beside this insert) made it, or the caller enqueued this id before. Either
            // way the job is recorded: count it inserted.
            let missing = e.filter { !inserted.contains($0.id.uuid) }
            if !missing.isEmpty {
                let existing = try await c.query("SELECT id FROM \(table) WHERE id = ANY($1::uuid[])",
                                                 [.textArray(missing.map(\.id.description))])
                for row in existing { inserted.insert(try row.decode(0, as: UUID.self)) }
            }
            let missingKeys = missing.filter { !inserted.contains($0.id.uuid) }.compactMap(\.uniqueKey)
            var holders: [String: JobID] = [:]
            if !missingKeys.isEmpty {
                let found = try await c.query(
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
