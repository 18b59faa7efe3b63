// Transactional kinds (issue 19, item 6): the job's effect runs in the home database's
// transaction that records it completed, fenced by the worker's claim. The effect table counts
// each applied effect: it must be exactly one whatever happens to the worker or the message.

import Foundation
import Postgres
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

/// Transactional: inserts one row (job id, attempt) into `table` in the job's transaction,
/// then holds the transaction open for `hold_ms` (a test's window to act in).
struct EffectJob: JobWorker {
    struct Arguments: Decodable, Sendable { var table: String; var hold_ms: Int? }
    static let kind: JobKind = "test.effect"
    static let defaultClass = WorkloadClass.analytics
    static let transactional = true
    static let defaults = JobDefaults(
        timeoutSeconds: 60, maxAttempts: 5, retry: RetryPolicy(backoff: .init(base: .milliseconds(50), cap: .milliseconds(50), jitter: 0)))
    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        guard let c = context.transaction else { throw JobError("no transaction for a transactional kind", retryable: false) }
        try await c.execute("INSERT INTO \(arguments.table) (job_id, attempt) VALUES ($1, $2)",
                            [.uuid(context.id.uuid), .int(context.attempt)])
        if let hold = arguments.hold_ms { try await Task.sleep(for: .milliseconds(hold)) }
        return ["attempt": .int(Int64(context.attempt))]
    }
}

@Suite("Transactional kinds", .timeLimit(.minutes(3)))
struct TransactionalJobTests {
    static func withEffects(_ body: @Sendable (Harness, String) async throws -> Void) async throws {
        var registry = JobRegistry.forTests
        registry.register(EffectJob())
        try await withHarness(registry: registry) { h in
            let table = PostgresIdentifier.quote(schema: h.schema, "effects")
            _ = try await h.pool.withConnection { c in
                try await c.execute("CREATE TABLE \(table) (job_id uuid NOT NULL, attempt int NOT NULL)")
            }
            try await body(h, table)
        }
    }

    static func effects(_ h: Harness, _ table: String, _ id: JobID) async throws -> [Int] {
        try await h.pool.withConnection { c in
            try await c.query("SELECT attempt FROM \(table) WHERE job_id = $1 ORDER BY attempt", [.uuid(id.uuid)])
                .map { try $0.decode(0, as: Int.self) }
        }
    }

    @Test("the effect commits with the job's completion, once; a redelivery of the committed job runs nothing")
    func commitsOnce() async throws {
        try await Self.withEffects { h, table in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let request = JobRequest(kind: EffectJob.kind, args: ["table": .string(table)])
                let id = try await h.producer.enqueue(request).id
                let job = try #require(try await h.waitFinal([id])[id])
                #expect(job.state == .completed && job.attempt == 1 && job.result == ["attempt": 1])
                #expect(try await Self.effects(h, table, id) == [1])
                // The same message again (a publish repeated after a lost confirm, a replay).
                let envelope = Envelope(id: id, kind: EffectJob.kind, args: ["table": .string(table)])
                try await h.publisher.publish(h.publisher.message(for: envelope, workloadClass: "analytics", tier: nil))
                try await waitUntil { worker.statistics.skipped >= 1 }
                #expect(try await Self.effects(h, table, id) == [1])
            }
            #expect(worker.statistics.completed == 1)
        }
    }

    @Test("the worker's connection dies after the effect's statement, before the commit: the effect is rolled back, the retry applies it once")
    func connectionDiesBeforeCommit() async throws {
        try await Self.withEffects { h, table in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let id = try await h.producer.enqueue(JobRequest(kind: EffectJob.kind, args: ["table": .string(table), "hold_ms": 1500])).id
                // The run's backend: idle in its transaction, the effect written but not committed.
                var killed = false
                try await waitUntil(seconds: 20) {
                    killed = try await h.pool.withConnection { c in
                        try await c.query("""
                            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                            WHERE state = 'idle in transaction' AND query LIKE 'INSERT INTO \(table)%'
                            """).count == 1
                    }
                    return killed
                }
                #expect(try await Self.effects(h, table, id) == [])
                let job = try #require(try await h.waitFinal([id], seconds: 30)[id])
                #expect(job.state == .completed)
                #expect(job.attempt == 2)
                #expect(try await Self.effects(h, table, id) == [2])
            }
            #expect(worker.statistics.retried == 1)
            #expect(worker.statistics.completed == 1)
        }
    }

    @Test("a stale worker, whose claim another worker took over while it ran, commits neither the effect nor the job")
    func staleWorkerIsFenced() async throws {
        try await Self.withEffects { h, table in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let id = try await h.producer.enqueue(JobRequest(kind: EffectJob.kind, args: ["table": .string(table), "hold_ms": 1500])).id
                try await waitUntil { try await h.ledger.job(id)?.state == .running }
                // What a lease rescue and another worker's claim leave: the row running under
                // someone else.
                _ = try await h.pool.withConnection { c in
                    try await c.execute("UPDATE \(PostgresIdentifier.quote(schema: h.schema, "jobs")) SET worker = 'other' WHERE id = $1",
                                        [.uuid(id.uuid)])
                }
                try await waitUntil(seconds: 20) { worker.statistics.skipped >= 1 }
                let job = try #require(try await h.ledger.job(id))
                #expect(job.state == .running && job.worker == "other")
                #expect(try await Self.effects(h, table, id) == [])
            }
            #expect(worker.statistics.completed == 0)
        }
    }
}
