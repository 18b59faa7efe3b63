// Ledger: the job table in Postgres, the truth about every job (DESIGN.md "Reliability").
//
// Hot writes (enqueue inserts, claims, finishes) go through `Batcher`s: concurrent calls are
// coalesced into one `unnest`-based statement, so thousands of jobs a second cost tens of
// statements. Claims are conditional UPDATEs, so duplicate and redelivered messages are
// harmless: a completed job is never claimed again, a live lease is never stolen. Every
// statement is schema-qualified with the configured schema (default `sluice`).

import Foundation
import Logging
import Postgres
import SluiceCore

public final class Ledger: Sendable {
    public let pool: PostgresPool
    public let schema: String
    let table: String
    let leases: String
    private let logger: Logger

    private let inserter: Batcher<LedgerInsert, InsertOutcome>
    private let claimer: Batcher<ClaimRequest, ClaimOutcome>
    private let finisher: Batcher<FinishRequest, Bool>

    static let liveStates = "('available','scheduled','running','retryable')"

    public init(pool: PostgresPool, schema: String = "sluice", logger: Logger) {
        self.pool = pool
        self.schema = schema
        self.logger = logger
        let table = PostgresIdentifier.quote(schema: schema, "jobs")
        self.table = table
        self.leases = PostgresIdentifier.quote(schema: schema, "leases")
        inserter = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.insert(items, table: table, pool: pool) }
        }
        claimer = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.claim(items, table: table, pool: pool) }
        }
        finisher = Batcher(maxBatch: 1000, maxFlushers: 2) { items in
            await Ledger.runBatch(items.count) { try await Ledger.finish(items, table: table, pool: pool) }
        }
    }

    private static func runBatch<T>(_ count: Int, _ body: () async throws -> [Result<T, any Error>]) async -> [Result<T, any Error>] {
        do {
            return try await body()
        } catch {
            return Array(repeating: .failure(error), count: count)
        }
    }

    // MARK: Migrations

    /// Creates the schema and applies pending migrations, each in a transaction under an
    /// advisory lock. Returns the versions applied now.
    @discardableResult
    public func migrate() async throws -> [Int] {
        let quoted = PostgresIdentifier.quote(schema)
        var applied: [Int] = []
        for migration in Migrations.all(schema: schema) {
            let done = try await pool.withConnection { c in
                try await c.withTransaction { c in
                    try await c.execute("SELECT pg_advisory_xact_lock($1::int, hashtext($2))", [.int(Int(Migrations.lockKey & 0x7fff_ffff)), .text(schema)])
                    try await c.simpleQuery("""
                        CREATE SCHEMA IF NOT EXISTS \(quoted);
                        CREATE TABLE IF NOT EXISTS \(quoted).schema_migrations (
                            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                        """)
                    let rows = try await c.query("SELECT 1 FROM \(quoted).schema_migrations WHERE version = $1", [.int(migration.version)])
                    if !rows.isEmpty { return false }
                    try await c.simpleQuery(migration.sql)
                    try await c.execute("INSERT INTO \(quoted).schema_migrations (version, name) VALUES ($1, $2)",
                                        [.int(migration.version), .text(migration.name)])
                    return true
                }
            }
            if done {
                logger.info("ledger migration applied", metadata: ["migration.version": "\(migration.version)"])
                applied.append(migration.version)
            }
        }
        return applied
    }

    /// Drops the schema with everything in it (tests).
    public func dropSchema() async throws {
        _ = try await pool.withConnection { c in
            try await c.simpleQuery("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quote(schema)) CASCADE")
        }
    }

    // MARK: Enqueue

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

    private static func insert(_ items: [LedgerInsert], table: String, pool: PostgresPool) async throws -> [Result<InsertOutcome, any Error>] {
        let e = items.map(\.envelope)
        func ts(_ d: Date?) -> String? { d.map(Timestamp.format) }
        let binds: [PostgresValue] = [
            .textArray(e.map { $0.id.description }), .textArray(e.map { $0.kind.rawValue }),
            .textArray(items.map(\.workloadClass)), .textArray(e.map(\.target)),
            .textArray(e.map { JSONValue.object($0.args).jsonString }), .textArray(items.map { $0.state.rawValue }),
            .intArray(e.map(\.attempt)), .intArray(e.map(\.maxAttempts)), .intArray(e.map(\.timeoutSeconds)),
            .intArray(e.map(\.priority)), .textArray(e.map(\.uniqueKey)), .textArray(e.map { ts($0.enqueuedAt) }),
            .textArray(e.map { ts($0.notBefore) }), .textArray(e.map(\.producer)), .textArray(e.map(\.traceID)),
        ]
        return try await pool.withConnection { c in
            let rows = try await c.query("""
                INSERT INTO \(table) (id, kind, class, target, args, state, attempt, max_attempts, timeout_s, priority,
                    unique_key, enqueued_at, not_before, producer, trace_id)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]::jsonb[], $6::text[],
                    $7::int[], $8::int[], $9::int[], $10::smallint[], $11::text[], $12::text[]::timestamptz[],
                    $13::text[]::timestamptz[], $14::text[], $15::text[])
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN \(liveStates) DO NOTHING
                RETURNING id
                """, binds)
            var inserted = Set<UUID>()
            for row in rows { inserted.insert(try row.decode(0, as: UUID.self)) }
            let missingKeys = e.filter { !inserted.contains($0.id.uuid) }.compactMap(\.uniqueKey)
            var holders: [String: JobID] = [:]
            if !missingKeys.isEmpty {
                let found = try await c.query(
                    "SELECT unique_key, id FROM \(table) WHERE unique_key = ANY($1::text[]) AND state IN \(liveStates)",
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
                UPDATE \(table) SET state = 'discarded', error = 'publish_failed', finished_at = now()
                WHERE id = ANY($1::uuid[]) AND state IN ('available','scheduled')
                """, [.textArray(ids.map(\.description))])
        }
    }

    // MARK: Claim and finish

    /// Claims a job for `worker` (batched with concurrent claims).
    public func claim(_ request: ClaimRequest) async throws -> ClaimOutcome {
        try await claimer.submit(request)
    }

    private static func claim(_ items: [ClaimRequest], table: String, pool: PostgresPool) async throws -> [Result<ClaimOutcome, any Error>] {
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
                let rows = try await c.query("""
                    WITH input AS (SELECT * FROM unnest($1::uuid[], $2::int[]) AS t(id, attempt)),
                    claimed AS (
                        UPDATE \(table) j SET state = 'running', worker = $3, lease_until = now() + $4 * interval '1 millisecond',
                            started_at = now(), attempt = GREATEST(j.attempt, i.attempt), error = NULL
                        FROM input i
                        WHERE j.id = i.id AND (j.state IN ('available','scheduled','retryable')
                            OR (j.state = 'running' AND j.lease_until < now()))
                        RETURNING j.id, j.attempt)
                    SELECT i.id, c.attempt AS claimed_attempt, j.state, j.worker
                    FROM input i LEFT JOIN claimed c ON c.id = i.id LEFT JOIN \(table) j ON j.id = i.id
                    """, [.textArray(group.map { $0.envelope.id.description }), .intArray(group.map { $0.envelope.attempt }),
                          .text(worker), .int(leaseMS)])
                var missing: [ClaimRequest] = []
                let byID = Dictionary(uniqueKeysWithValues: group.map { ($0.envelope.id, $0) })
                for row in rows {
                    let id = JobID(uuid: try row.decode("id", as: UUID.self))
                    if let attempt = try row.decode("claimed_attempt", as: Int?.self) {
                        outcomes[id] = .claimed(attempt: attempt)
                    } else if let stateText = try row.decode("state", as: String?.self) {
                        let state = JobState(rawValue: stateText) ?? .discarded
                        outcomes[id] = state.isFinal ? .final(state) : .busy(worker: try row.decode("worker", as: String?.self))
                    } else if let request = byID[id] {
                        missing.append(request)
                    }
                }
                // A message with no row (a replayed dead letter, a hand-published envelope): insert it claimed.
                for request in missing {
                    let e = request.envelope
                    let inserted = try await c.query("""
                        INSERT INTO \(table) (id, kind, class, target, args, state, attempt, max_attempts, timeout_s,
                            priority, unique_key, enqueued_at, not_before, producer, trace_id, worker, lease_until, started_at)
                        VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                            now() + $16 * interval '1 millisecond', now())
                        ON CONFLICT DO NOTHING RETURNING attempt
                        """, [.uuid(e.id.uuid), .text(e.kind.rawValue), .text(request.workloadClass), .text(e.target),
                              .json(JSONValue.object(e.args).jsonString), .int(e.attempt), .int(e.maxAttempts),
                              .int(e.timeoutSeconds), e.priority.map { .int($0) } ?? .null, e.uniqueKey.map { .text($0) } ?? .null,
                              .timestamp(e.enqueuedAt), e.notBefore.map { .timestamp($0) } ?? .null,
                              e.producer.map { .text($0) } ?? .null, e.traceID.map { .text($0) } ?? .null,
                              .text(worker), .int(leaseMS)])
                    if let row = inserted.first {
                        outcomes[e.id] = .claimed(attempt: try row.decode(0, as: Int.self))
                    } else {
                        // Another live job holds its unique key, or the id appeared meanwhile.
                        outcomes[e.id] = .busy(worker: nil)
                    }
                }
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

    /// Records how an attempt ended (batched). Returns false when the row was already final
    /// (cancelled meanwhile) and was left alone.
    @discardableResult
    public func finish(_ request: FinishRequest) async throws -> Bool {
        try await finisher.submit(request)
    }

    private static func finish(_ items: [FinishRequest], table: String, pool: PostgresPool) async throws -> [Result<Bool, any Error>] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                UPDATE \(table) j SET state = i.state, result = i.result, error = i.error, finished_at =
                    CASE WHEN i.state IN ('completed','cancelled','discarded') THEN now() ELSE NULL END,
                    lease_until = NULL, attempt = GREATEST(j.attempt, i.attempt)
                FROM unnest($1::uuid[], $2::text[], $3::text[]::jsonb[], $4::text[], $5::int[]) AS i(id, state, result, error, attempt)
                WHERE j.id = i.id AND j.state NOT IN ('completed','cancelled','discarded')
                RETURNING j.id
                """, [.textArray(items.map { $0.id.description }), .textArray(items.map { $0.state.rawValue }),
                      .textArray(items.map { $0.result?.jsonString }), .textArray(items.map { $0.error.map { String($0.prefix(4096)) } }),
                      .intArray(items.map(\.attempt))])
        }
        var updated = Set<UUID>()
        for row in rows { updated.insert(try row.decode(0, as: UUID.self)) }
        return items.map { .success(updated.contains($0.id.uuid)) }
    }

    /// Extends the leases of `ids` held by `worker`; returns the ids whose cancel was requested.
    /// Ids whose lease is no longer this worker's are left out of the update.
    public func heartbeat(_ ids: [JobID], worker: String, lease: Duration) async throws -> Set<JobID> {
        guard !ids.isEmpty else { return [] }
        let rows = try await pool.withConnection { c in
            try await c.query("""
                UPDATE \(table) SET lease_until = now() + $3 * interval '1 millisecond'
                WHERE id = ANY($1::uuid[]) AND state = 'running' AND worker = $2
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
                UPDATE \(table) SET state = 'running', lease_until = now() - interval '1 millisecond'
                WHERE id = ANY($1::uuid[]) AND (state = 'running' AND worker = $2 OR state = 'retryable')
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
                UPDATE \(table) SET state = 'available', attempt = 1, error = NULL, finished_at = NULL, result = NULL,
                    lease_until = NULL, worker = NULL, cancel_requested = false
                WHERE id = $1 AND state = 'discarded'
                """, [.uuid(id.uuid)])
        }
    }

    // MARK: Rescue

    /// Locks up to `limit` running jobs whose lease expired (skipping rows another leader
    /// holds), hands them to `decide`, and applies its verdicts in the same transaction:
    /// `available` (republished) or `discarded`. Returns the number of jobs handled.
    public func rescueExpired(limit: Int = 500, _ decide: ([LedgerJob]) async -> [(JobID, JobState, String?)]) async throws -> Int {
        try await pool.withConnection { c in
            try await c.withTransaction { c in
                let rows = try await c.query("""
                    SELECT \(LedgerJob.columns) FROM \(table)
                    WHERE state = 'running' AND lease_until < now()
                    ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED
                    """, [.int(limit)])
                let jobs = try rows.map { try LedgerJob(row: $0) }
                guard !jobs.isEmpty else { return 0 }
                let verdicts = await decide(jobs)
                for (id, state, error) in verdicts {
                    try await c.execute("""
                        UPDATE \(table) SET state = $2, lease_until = NULL, worker = NULL, error = COALESCE($3, error),
                            finished_at = CASE WHEN $2 = 'discarded' THEN now() ELSE finished_at END
                        WHERE id = $1 AND state = 'running' AND lease_until < now()
                        """, [.uuid(id.uuid), .text(state.rawValue), error.map { .text($0) } ?? .null])
                }
                return verdicts.count
            }
        }
    }

    // MARK: Operators

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
                    state = CASE WHEN state IN ('available','scheduled','retryable') THEN 'cancelled' ELSE state END,
                    finished_at = CASE WHEN state IN ('available','scheduled','retryable') THEN now() ELSE finished_at END,
                    error = CASE WHEN state IN ('available','scheduled','retryable') THEN 'cancelled by operator' ELSE error END,
                    cancel_requested = cancel_requested OR state = 'running'
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

    /// Per class: jobs waiting and running now, completed and failed in the last hour.
    public func statusCounts() async throws -> [String: ClassCounts] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT class,
                    count(*) FILTER (WHERE state IN ('available','scheduled','retryable')) AS waiting,
                    count(*) FILTER (WHERE state = 'running') AS running,
                    count(*) FILTER (WHERE state = 'completed' AND finished_at > now() - interval '1 hour') AS completed,
                    count(*) FILTER (WHERE state = 'discarded' AND finished_at > now() - interval '1 hour') AS failed
                FROM \(table)
                WHERE state IN \(Ledger.liveStates) OR finished_at > now() - interval '1 hour'
                GROUP BY class
                """)
        }
        var out: [String: ClassCounts] = [:]
        for row in rows {
            out[try row.decode(0, as: String.self)] = ClassCounts(
                waiting: try row.decode(1, as: Int.self), running: try row.decode(2, as: Int.self),
                completedLastHour: try row.decode(3, as: Int.self), failedLastHour: try row.decode(4, as: Int.self))
        }
        return out
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

/// A row to insert at enqueue.
public struct LedgerInsert: Sendable {
    public var envelope: Envelope
    public var workloadClass: String
    /// `available`, or `scheduled` for a job with a future `not_before`.
    public var state: JobState

    public init(envelope: Envelope, workloadClass: String, state: JobState) {
        self.envelope = envelope
        self.workloadClass = workloadClass
        self.state = state
    }
}

public enum InsertOutcome: Sendable, Equatable {
    case inserted
    /// A live job already holds the unique key.
    case duplicate(of: JobID)
}

public struct ClaimRequest: Sendable {
    public var envelope: Envelope
    public var workloadClass: String
    public var worker: String
    public var lease: Duration

    public init(envelope: Envelope, workloadClass: String, worker: String, lease: Duration) {
        self.envelope = envelope
        self.workloadClass = workloadClass
        self.worker = worker
        self.lease = lease
    }
}

public enum ClaimOutcome: Sendable, Equatable {
    /// This worker holds the job now; run attempt `attempt`.
    case claimed(attempt: Int)
    /// The job is final (completed, cancelled, discarded): ack and skip.
    case final(JobState)
    /// Another live lease holds it (or a duplicate message in the same batch): ack and skip.
    case busy(worker: String?)
}

public struct FinishRequest: Sendable {
    public var id: JobID
    /// completed, retryable, discarded or cancelled.
    public var state: JobState
    public var result: JSONValue?
    public var error: String?
    public var attempt: Int

    public init(id: JobID, state: JobState, result: JSONValue?, error: String?, attempt: Int) {
        self.id = id
        self.state = state
        self.result = result
        self.error = error
        self.attempt = attempt
    }
}

/// `sluice status` figures for one class.
public struct ClassCounts: Sendable, Equatable {
    public var waiting: Int
    public var running: Int
    public var completedLastHour: Int
    public var failedLastHour: Int
}
