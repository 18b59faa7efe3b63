// The paths of issue 19 with real servers: a short job recorded once (no claim), a worker
// killed between running a short job and recording it, a short job that crosses its threshold,
// and an enqueue whose publish was confirmed but whose ledger insert failed.

import Foundation
import Glibc
import Postgres
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite("Short jobs", .timeLimit(.minutes(3)))
struct ShortJobTests {
    @Test("a worker killed between running a short job and recording it: the job runs again, is recorded once")
    func killedBeforeRecord() async throws {
        try await withHarness { h in
            // The short path is opt-in: a 3 s threshold, so this 2 s job is never claimed.
            let id = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": 2000])).id
            let a = try WorkerProcess(h, arguments: ["--classes", "analytics", "--lease", "30s", "--short-job-threshold", "3s"])
            try await waitUntil(seconds: 20) { (try await h.results.read(id))?["state"] == "running" }
            // It runs, unclaimed and unrecorded.
            let during = try #require(try await h.ledger.job(id))
            #expect(during.state == .available, "log: \(a.log)")
            #expect(during.startedAt == nil)
            a.kill9()
            let b = try WorkerProcess(h, arguments: ["--classes", "analytics", "--lease", "30s", "--short-job-threshold", "3s"])
            let job = try #require(try await h.waitFinal([id], seconds: 30)[id])
            #expect(b.terminate(waiting: 10) == 0, "log: \(b.log)")
            #expect(job.state == .completed)
            #expect(job.attempt == 1)
            let events = try await stateEvents(h, id)
            #expect(events.filter { $0 == "running" }.count == 2, "\(events)")  // ran twice
            #expect(events.filter { $0 == "completed" }.count == 1, "\(events)")  // recorded once
        }
    }

    @Test("a short job that crosses the threshold while the worker is slow is claimed then, keeps its start, completes once")
    func crossesThreshold() async throws {
        try await withHarness { h in
            let configuration = {
                var c = h.workerConfiguration(lease: .seconds(30))
                c.classes[0].shortJobThreshold = .milliseconds(300)
                return c
            }()
            let worker = try h.makeWorker(configuration)
            try await h.withWorker(worker) {
                let quick = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["n": 1])).id
                let slow = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": 1500])).id
                // Past the threshold the slow one is claimed: running under this worker's lease.
                try await waitUntil { try await h.ledger.job(slow)?.state == .running }
                let claimed = try #require(try await h.ledger.job(slow))
                #expect(claimed.worker == configuration.name)
                #expect(claimed.leaseUntil != nil)
                let jobs = try await h.waitFinal([quick, slow])
                let s = try #require(jobs[slow])
                #expect(s.state == .completed && s.attempt == 1)
                // started_at is when it started, not when it was claimed.
                #expect(s.finishedAt!.timeIntervalSince(s.startedAt!) >= 1.4)
                let q = try #require(jobs[quick])
                #expect(q.state == .completed && q.result == ["n": 1] && q.worker == configuration.name && q.startedAt != nil)
                #expect(try await stateEvents(h, slow).filter { $0 == "completed" }.count == 1)
            }
            #expect(worker.statistics.completed == 2)
            #expect(worker.statistics.skipped == 0)
        }
    }

    @Test("a publish confirmed whose insert fails: the enqueue throws, the job runs recorded by its worker, a retry by id runs nothing twice")
    func insertFailsAfterPublish() async throws {
        try await withHarness { h in
            // The producer's insert (first try and its two retries) fails; later inserts pass.
            let table = PostgresIdentifier.quote(schema: h.schema, "jobs")
            let seq = PostgresIdentifier.quote(schema: h.schema, "insert_failures")
            let fn = PostgresIdentifier.quote(schema: h.schema, "fail_insert")
            _ = try await h.pool.withConnection { c in
                try await c.simpleQuery("""
                    CREATE SEQUENCE \(seq);
                    CREATE FUNCTION \(fn)() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                        IF nextval('\(seq)') <= 3 THEN RAISE EXCEPTION 'planned insert failure'; END IF;
                        RETURN NEW;
                    END $$;
                    CREATE TRIGGER fail_insert BEFORE INSERT ON \(table) FOR EACH ROW
                        WHEN (NEW.producer = 'insert-fails') EXECUTE FUNCTION \(fn)();
                    """)
            }
            let id = JobID.make()
            let request = {
                var r = JobRequest(kind: .noop, args: ["n": 7], producer: "insert-fails")
                r.id = id
                return r
            }()
            do {
                _ = try await h.producer.enqueue(request)
                Issue.record("expected the enqueue to throw")
            } catch let error as EnqueueError {
                #expect(error.id == id)
                #expect(error.published)
            }
            #expect(try await h.ledger.job(id) == nil)
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let job = try #require(try await h.waitFinal([id])[id])
                #expect(job.state == .completed)
                #expect(job.attempt == 1)
                #expect(job.result == ["n": 7])
                // Enqueueing the same id again succeeds and runs nothing twice.
                let again = try await h.producer.enqueue(request)
                #expect(again.id == id && !again.duplicate)
                try await waitUntil { worker.statistics.skipped >= 1 }
            }
            #expect(worker.statistics.completed == 1)
            #expect(worker.statistics.skipped == 1)
            #expect(try await stateEvents(h, id).filter { $0 == "completed" }.count == 1)
        }
    }
}


extension ShortJobTests {
    @Test("a short job recorded twice (a redelivery racing its first record): the second is refused, one row, no error")
    func recordedTwice() async throws {
        try await withHarness { h in
            func rows(_ id: JobID) async throws -> [String] {
                try await h.pool.withConnection { c in
                    try await c.query("SELECT state FROM \(PostgresIdentifier.quote(schema: h.schema, "jobs")) WHERE id = $1",
                                      [.uuid(id.uuid)]).map { try $0.decode(0, as: String.self) }
                }
            }
            // A job whose producer's row waits (no worker runs), and one with no row at all (a
            // hand-published envelope). Each is recorded by two deliveries, one after the other:
            // the second finds the first's row final, in its completed leaf, and must not make
            // a second row beside it (the primary key is each leaf's own).
            let queued = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["n": 1])).id
            for envelope in [Envelope(id: queued, kind: .noop, args: ["n": 1]), Envelope(kind: .noop, args: ["n": 2])] {
                let completion = ShortCompletion(envelope: envelope, workloadClass: WorkloadClass.analytics.rawValue,
                                                 worker: "w", startedAt: Date(), result: .object(envelope.args))
                #expect(try await h.ledger.recordCompleted(completion))
                #expect(try await h.ledger.recordCompleted(completion) == false)
                #expect(try await rows(envelope.id) == ["completed"])
                #expect(try await h.ledger.peek(envelope.id) == .final(.completed))
            }
        }
    }
}

/// The states of one job's events in the Redis stream, oldest first.
func stateEvents(_ h: Harness, _ id: JobID) async throws -> [String] {
    let entries = try await h.redis.send(["XRANGE", .init(h.results.eventsKey), "-", "+"])
    var states: [String] = []
    for entry in entries.array ?? [] {
        guard let fields = entry.array?.last?.array else { continue }
        var f: [String: String] = [:]
        var i = 0
        while i + 1 < fields.count { f[fields[i].string ?? ""] = fields[i + 1].string; i += 2 }
        if f["id"] == id.description, let s = f["state"] { states.append(s) }
    }
    return states
}
