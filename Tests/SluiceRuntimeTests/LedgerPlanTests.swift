// The hot ledger statements' plans against a real Postgres: a statement prepared while the live
// leaf was empty keeps its generic plan while the backlog grows, and the claim, the finish and
// the short path's read and record must still find their rows by id (Ledger.keyedPlans), never
// by reading every waiting row: that was the `--batch 1` slow mode (Postgres at 780-1,945 µs a
// job, a claim of 138 jobs reading 13,748 waiting rows).

import Foundation
import Postgres
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite("Ledger plans", .timeLimit(.minutes(3)))
struct LedgerPlanTests {
    @Test("plans made on an empty ledger: a claim, read, record and finish of 10 jobs read about 10 rows of a 20,000-job backlog")
    func keyedPlansUnderAGrowingBacklog() async throws {
        try await withHarness { h in
            // One connection whose plans are all generic, as a worker's become after five runs.
            var postgres = try PostgresConfiguration(url: TestEnvironment.postgresURL)
            postgres.settings["plan_cache_mode"] = "force_generic_plan"
            let pool = PostgresPool(configuration: .init(connection: postgres, maxConnections: 1), logger: testLogger)
            let ledger = Ledger(pool: pool, schema: h.schema, logger: testLogger)
            let live = PostgresIdentifier.quote(schema: h.schema, "jobs_live")
            let table = PostgresIdentifier.quote(schema: h.schema, "jobs")
            func job() -> Envelope { Envelope(kind: .noop, args: [:]) }
            func insert(_ envelopes: [Envelope]) async throws {
                for r in await ledger.insert(batch: envelopes.map { LedgerInsert(envelope: $0, workloadClass: "analytics", state: .available) }) {
                    _ = try r.get()
                }
            }
            func claim(_ envelopes: [Envelope]) async throws {
                try await withThrowingTaskGroup(of: ClaimOutcome.self) { group in
                    for e in envelopes {
                        group.addTask {
                            try await ledger.claim(ClaimRequest(envelope: e, workloadClass: "analytics", worker: "w1", lease: .seconds(30)))
                        }
                    }
                    for try await outcome in group { #expect(outcome == .claimed(attempt: 1)) }
                }
            }
            func finish(_ envelopes: [Envelope]) async throws {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for e in envelopes {
                        group.addTask { try await ledger.finish(FinishRequest(id: e.id, state: .completed, result: ["ok": true], error: nil, attempt: 1)) }
                    }
                    for try await finished in group { #expect(finished) }
                }
            }
            func peekAndRecord(_ envelopes: [Envelope]) async throws {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for e in envelopes {
                        group.addTask {
                            #expect(try await ledger.peek(e.id) == .run(attempt: 1))
                            let recorded = try await ledger.recordCompleted(ShortCompletion(
                                envelope: e, workloadClass: "analytics", worker: "w1", startedAt: Date(), result: ["ok": true]))
                            #expect(recorded)
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // The rows of the live leaf read so far (sequential and index scans), with the test
            // connection's counts flushed first.
            func liveReads() async throws -> Int {
                _ = try await pool.withConnection { c in try await c.query("SELECT pg_stat_force_next_flush()") }
                try await Task.sleep(for: .milliseconds(50))
                return try await h.pool.withConnection { c in
                    try await c.query("""
                        SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int FROM pg_stat_user_tables
                        WHERE relid = $1::regclass
                        """, [.text(live)])[0].decode(0, as: Int.self)
                }
            }

            // Plans made now, with the live leaf empty but for the jobs at hand.
            let first = (0..<3).map { _ in job() }
            try await insert(first)
            try await claim(first)
            try await finish(first)
            let short = (0..<3).map { _ in job() }
            try await insert(short)
            try await peekAndRecord(short)

            // A backlog of 20,000 waiting jobs arrives.
            _ = try await h.pool.withConnection { c in
                try await c.execute("""
                    INSERT INTO \(table) (id, kind, class, target, state, enqueued_at)
                    SELECT gen_random_uuid(), 'sys.noop', 'analytics', 'main', 'available', now() FROM generate_series(1, 20000)
                    """)
            }
            let claimed = (0..<10).map { _ in job() }
            let recorded = (0..<10).map { _ in job() }
            try await insert(claimed + recorded)

            let before = try await liveReads()
            try await claim(claimed)
            try await finish(claimed)
            try await peekAndRecord(recorded)
            let read = try await liveReads() - before
            // Each job's row once or twice per statement; a plan that filters the backlog reads
            // all 20,000 waiting rows per statement.
            #expect(read < 1_000, "the claim, finish, read and record of 20 jobs read \(read) rows of the live leaf")
            await pool.close()
        }
    }
}
