// The ledger's time partitions (migration 7) against a real Postgres: partitions made ahead and
// dropped whole once past retention (with their jobs' rejects and uploads, never a live job);
// migration 7 moving a ledger of a million rows in every state without losing one; a unique key
// and a keyset page of `GET /v1/jobs` across partitions; the worker's claim and finish through
// the partitioned table. The clock of make/drop is passed in where a test needs time to pass.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

private func q(_ h: Harness, _ name: String) -> String { PostgresIdentifier.quote(schema: h.schema, name) }

private func scalar(_ h: Harness, _ sql: String, _ binds: [PostgresValue] = []) async throws -> Int {
    try await h.pool.withConnection { c in try await c.query(sql, binds)[0].decode(0, as: Int.self) }
}

@Suite("Ledger partitions", .timeLimit(.minutes(10)))
struct LedgerPartitionTests {
    /// The leaf a job's row is in, e.g. `jobs_live`.
    static func leaf(_ h: Harness, _ id: JobID) async throws -> String? {
        let rows = try await h.pool.withConnection { c in
            try await c.query("SELECT tableoid::regclass::text FROM \(q(h, "jobs")) WHERE id = $1", [.uuid(id.uuid)])
        }
        return try rows.first.map { try $0.decode(0, as: String.self).split(separator: ".").last.map(String.init) ?? "" }
    }

    static func insertFinished(_ h: Harness, _ state: JobState, finishedAt: Date, uniqueKey: String? = nil) async throws -> JobID {
        let id = JobID.make()
        _ = try await h.pool.withConnection { c in
            try await c.execute("""
                INSERT INTO \(q(h, "jobs")) (id, kind, class, target, state, enqueued_at, finished_at, unique_key)
                VALUES ($1, 'sys.noop', 'analytics', 'main', $2, now() - interval '1 hour', $3, $4)
                """, [.uuid(id.uuid), .text(state.rawValue), .timestamp(finishedAt), uniqueKey.map { .text($0) } ?? .null])
        }
        return id
    }

    /// Makes every insert into the ledger whose row matches `condition` (a trigger's WHEN, over
    /// NEW) wait 2 s before it is written, so a race with it is certain.
    func holdInserts(_ h: Harness, named name: String, when condition: String) async throws {
        let fn = q(h, name)
        _ = try await h.pool.withConnection { c in
            try await c.simpleQuery("""
                CREATE FUNCTION \(fn)() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$;
                CREATE TRIGGER \(name) BEFORE INSERT ON \(q(h, "jobs")) FOR EACH ROW WHEN (\(condition)) EXECUTE FUNCTION \(fn)();
                """)
        }
    }

    @Test("a producer's insert that lands after a worker ran and recorded its job leaves one row, the final one")
    func insertAfterTheRun() async throws {
        try await withHarness { h in
            // The producer's row (no worker yet) waits 2 s before it is written: the insert runs
            // beside the publish, so the worker gets the message, makes its own row, runs the job
            // and moves the row to a final leaf first. The conflict check of the late insert no
            // longer meets it there (each leaf has its own primary key).
            try await holdInserts(h, named: "slow_insert", when: "NEW.producer = 'slow-insert' AND NEW.worker IS NULL")
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let id = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["n": 3], producer: "slow-insert")).id
                let states = try await h.pool.withConnection { c in
                    try await c.query("SELECT state FROM \(q(h, "jobs")) WHERE id = $1", [.uuid(id.uuid)])
                        .map { try $0.decode(0, as: String.self) }
                }
                #expect(states == ["completed"])
                let job = try #require(try await h.ledger.job(id))
                #expect(job.state == .completed && job.result == ["n": 3])
            }
            #expect(worker.statistics.completed == 1)
        }
    }

    @Test("a claim that makes a row-less job's row while another delivery of it is recorded final leaves one row, and says final")
    func claimMeetsAFinalRow() async throws {
        try await withHarness { h in
            // The claim's insert of a row-less message waits 2 s before it is written; meanwhile
            // another delivery's worker records the job completed (its row in a final leaf, as
            // a worker's move leaves it). The late insert meets no conflict there.
            try await holdInserts(h, named: "slow_claim", when: "NEW.worker = 'slow'")
            let envelope = Envelope(kind: .noop, args: ["n": 4])
            async let claim = h.ledger.claim(ClaimRequest(envelope: envelope, workloadClass: "analytics", worker: "slow",
                                                          lease: .seconds(30)))
            try await Task.sleep(for: .milliseconds(500))
            _ = try await h.pool.withConnection { c in
                try await c.execute("""
                    INSERT INTO \(q(h, "jobs")) (id, kind, class, target, state, enqueued_at, finished_at)
                    VALUES ($1, 'sys.noop', 'analytics', 'main', 'completed', now(), now())
                    """, [.uuid(envelope.id.uuid)])
            }
            #expect(try await claim == .final(.completed))
            #expect(try await scalar(h, "SELECT count(*) FROM \(q(h, "jobs")) WHERE id = $1", [.uuid(envelope.id.uuid)]) == 1)
        }
    }

    @Test("partitions are made ahead of the clock and dropped whole, with their jobs' rejects and uploads, once past retention")
    func makeAndDrop() async throws {
        try await withHarness { h in
            let ledger = h.ledger
            // A fresh ledger: the history migration 7 attached covers up to the next hour; the
            // first partitions follow it, `ahead` past now.
            let before = try await ledger.historyPartitions(.completed)
            #expect(before.count == 2 && before.filter(\.isDefault).count == 1)
            let history = try #require(before.first { !$0.isDefault })
            #expect(history.lower == nil && history.prunedByRows)
            let made = try await ledger.makeHistoryPartitions(.completed, width: .seconds(600), ahead: .seconds(7200))
            #expect(!made.isEmpty)
            let ranges = try await ledger.historyPartitions(.completed).filter { !$0.isDefault && $0.lower != nil }
            #expect(ranges.count == made.count)
            #expect(ranges.first!.lower! >= history.upper!)
            // Contiguous, 10 minutes each, up to at least two hours ahead.
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upper == b.lower) }
            for r in ranges { #expect(r.upper!.timeIntervalSince(r.lower!) == 600) }
            let now = Date()
            #expect(ranges.last!.upper! >= now.addingTimeInterval(7200 - 5))
            // A second call makes nothing: already far enough ahead.
            #expect(try await ledger.makeHistoryPartitions(.completed, width: .seconds(600), ahead: .seconds(7200)).isEmpty)

            // Rows land in the partition of their finish time; a live job stays in jobs_live.
            let first = ranges[0], second = ranges[1]
            var doomed: [JobID] = []
            for i in 0..<5 {
                let id = try await Self.insertFinished(h, .completed, finishedAt: first.lower!.addingTimeInterval(Double(i)))
                try await PrunerTests.sideRows(h, for: id)
                doomed.append(id)
            }
            let kept = try await Self.insertFinished(h, .completed, finishedAt: second.lower!.addingTimeInterval(1))
            try await PrunerTests.sideRows(h, for: kept)
            let live = try await PrunerTests.job(h, .running, finishedAgo: nil)
            try await PrunerTests.sideRows(h, for: live)
            #expect(try await Self.leaf(h, doomed[0]) == first.name)
            #expect(try await Self.leaf(h, kept) == second.name)
            #expect(try await Self.leaf(h, live) == "jobs_live")

            // Not yet: the first partition's upper bound is not a day in the past.
            let keep = Duration.seconds(86_400)
            #expect(try await ledger.dropHistoryPartitions(.completed, keep: keep, limit: 2).isEmpty)
            // A day and a second after the first partition ends: it goes, with its side rows
            // (in batches of 2), and so does the (empty) history before it; nothing else does.
            let later = first.upper!.addingTimeInterval(86_401)
            let counts = try await ledger.dropHistoryPartitions(.completed, keep: keep, limit: 2, now: later)
            #expect(counts["jobs_partitions"] == 2)
            #expect(counts["jobs"] == 5)
            #expect(counts["import_rejects"] == 10)
            #expect(counts["uploads"] == 5)
            #expect(try await ledger.historyPartitions(.completed).contains { $0.name == first.name } == false)
            for id in doomed { #expect(try await ledger.job(id) == nil) }
            #expect(try await ledger.job(kept)?.state == .completed)
            #expect(try await ledger.job(live)?.state == .running)
            #expect(try await PrunerTests.count(h, "import_rejects") == 4)
            #expect(try await PrunerTests.count(h, "uploads") == 2)
            #expect(try await PrunerTests.count(h, "upload_chunks") == 2)
        }
    }

    @Test("a partition drop killed while it removes its jobs' rejects (backend terminated on a row lock) loses nothing; the next one finishes")
    func dropKilledMidway() async throws {
        try await withHarness { h in
            let ledger = h.ledger
            try await ledger.makeHistoryPartitions(.completed, width: .seconds(600), ahead: .seconds(7200))
            let first = try #require(try await ledger.historyPartitions(.completed).first { !$0.prunedByRows })
            var jobs: [JobID] = []
            for i in 0..<4 {
                let id = try await Self.insertFinished(h, .completed, finishedAt: first.lower!.addingTimeInterval(Double(i)))
                try await PrunerTests.sideRows(h, for: id)
                jobs.append(id)
            }
            // Another session holds a row lock on one of the partition's rejects.
            let holder = try await PostgresConnection.connect(h.postgres, logger: testLogger)
            _ = try await holder.simpleQuery("BEGIN")
            _ = try await holder.query("SELECT 1 FROM \(q(h, "import_rejects")) WHERE job_id = $1 FOR UPDATE", [.uuid(jobs[0].uuid)])
            let keep = Duration.seconds(86_400), later = first.upper!.addingTimeInterval(86_401)
            let outcome = Task { () -> String in
                do {
                    _ = try await ledger.dropHistoryPartitions(.completed, keep: keep, limit: 100, now: later)
                    return "finished"
                } catch {
                    return "failed"
                }
            }
            var killed = false
            try await waitUntil(seconds: 20) {
                let rows = try await h.pool.withConnection { c in try await c.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                      AND query LIKE '%' || $1 || '%import_rejects%'
                    """, [.text(h.schema)]) }
                killed = !rows.isEmpty
                return killed
            }
            #expect(killed)
            #expect(await outcome.value == "failed")
            // Nothing of the partition left: its jobs, rejects and uploads are all there.
            for id in jobs { #expect(try await ledger.job(id)?.state == .completed) }
            #expect(try await PrunerTests.count(h, "import_rejects") == 8)
            #expect(try await PrunerTests.count(h, "uploads") == 4)
            _ = try await holder.simpleQuery("ROLLBACK")
            await holder.close()
            // The next drop (any process's pruner) takes it up from the start.
            let counts = try await ledger.dropHistoryPartitions(.completed, keep: keep, limit: 100, now: later)
            #expect(counts["jobs_partitions"] == 1)
            #expect(counts["jobs"] == 4)
            #expect(counts["import_rejects"] == 8)
            for id in jobs { #expect(try await ledger.job(id) == nil) }
            #expect(try await PrunerTests.count(h, "import_rejects") == 0)
            #expect(try await PrunerTests.count(h, "uploads") == 0)
        }
    }

    @Test("a pass makes each final state's partitions; the default partition and the old history are pruned by rows")
    func pruneByPass() async throws {
        try await withHarness { h in
            // Finished before any partition existed (the history) and with no finish time (the
            // default partition): both leave by rows at exactly their retention.
            let old = try await PrunerTests.job(h, .completed, finishedAgo: 2 * PrunerTests.day)
            let oldDiscarded = try await PrunerTests.job(h, .discarded, finishedAgo: 8 * PrunerTests.day)
            let recent = try await PrunerTests.job(h, .completed, finishedAgo: 60)
            #expect(try await Self.leaf(h, old) == "jobs_history")
            #expect(try await Self.leaf(h, oldDiscarded) == "jobs_discarded_default")
            let pass = try #require(try await PrunerTests.pruner(h).runPass())
            #expect(pass.removed["jobs"] == 2)
            #expect((pass.removed["jobs_partitions_made"] ?? 0) >= 9)
            #expect(try await PrunerTests.ids(h) == [recent])
            for state in [JobState.completed, .cancelled, .discarded] {
                #expect(try await h.ledger.historyPartitions(state).count { !$0.prunedByRows } >= 3)
            }
        }
    }

    @Test("a live unique key admits one job whichever partitions hold its finished namesakes")
    func uniqueKeyAcrossPartitions() async throws {
        try await withHarness { h in
            let ledger = h.ledger
            let made = try await ledger.makeHistoryPartitions(.completed, width: .seconds(600), ahead: .seconds(7200))
            #expect(!made.isEmpty)
            let ranges = try await ledger.historyPartitions(.completed).filter { !$0.prunedByRows }
            // Finished namesakes in the history, in a range partition and in the default one.
            _ = try await PrunerTests.job(h, .completed, finishedAgo: 300, uniqueKey: "report:1")
            _ = try await Self.insertFinished(h, .completed, finishedAt: ranges[0].lower!.addingTimeInterval(5), uniqueKey: "report:1")
            _ = try await PrunerTests.job(h, .discarded, finishedAgo: 30, uniqueKey: "report:1")

            func enqueue() async throws -> (JobID, InsertOutcome) {
                let e = Envelope(kind: .noop, uniqueKey: "report:1")
                return (e.id, try await ledger.insert(LedgerInsert(envelope: e, workloadClass: "analytics", state: .available)))
            }
            let (a, first) = try await enqueue()
            #expect(first == .inserted)
            let (_, second) = try await enqueue()
            #expect(second == .duplicate(of: a))
            // Claimed (still live): still one. Finished: its row moves to a final partition and
            // the key is free again.
            let claim = try await ledger.claim(ClaimRequest(envelope: Envelope(id: a, kind: .noop, uniqueKey: "report:1"),
                                                            workloadClass: "analytics", worker: "w1", lease: .seconds(30)))
            #expect(claim == .claimed(attempt: 1))
            let (_, third) = try await enqueue()
            #expect(third == .duplicate(of: a))
            #expect(try await ledger.finish(FinishRequest(id: a, state: .completed, result: nil, error: nil, attempt: 1)))
            #expect(try await Self.leaf(h, a) != "jobs_live")
            #expect(try await ledger.job(a)?.state == .completed)
            let (b, fourth) = try await enqueue()
            #expect(fourth == .inserted)
            #expect(try await scalar(h, "SELECT count(*) FROM \(q(h, "jobs")) WHERE unique_key = 'report:1'") == 5)
            #expect(try await scalar(h, """
                SELECT count(*) FROM \(q(h, "jobs")) WHERE unique_key = 'report:1'
                AND state IN ('available','scheduled','running','retryable')
                """) == 1)
            // A replay of a finished namesake while b is live is refused by the same index.
            _ = b
            // The claimed job cannot be claimed again once final (the row moved partitions).
            let again = try await ledger.claim(ClaimRequest(envelope: Envelope(id: a, kind: .noop), workloadClass: "analytics",
                                                            worker: "w2", lease: .seconds(30)))
            #expect(again == .final(.completed))
        }
    }

    @Test("keyset pages by id cross partitions without a job missed or repeated")
    func keysetAcrossPartitions() async throws {
        try await withHarness { h in
            let ledger = h.ledger
            try await ledger.makeHistoryPartitions(.completed, width: .seconds(600), ahead: .seconds(7200))
            try await ledger.makeHistoryPartitions(.discarded, width: .seconds(600), ahead: .seconds(7200))
            let completedRanges = try await ledger.historyPartitions(.completed).filter { !$0.prunedByRows }
            let discardedRanges = try await ledger.historyPartitions(.discarded).filter { !$0.prunedByRows }
            // Interleaved ids spread over six leaves: jobs_live, the history, two completed
            // ranges, a discarded range, the cancelled default.
            var all: [JobID] = []
            for i in 0..<42 {
                let id: JobID
                switch i % 7 {
                case 0: id = try await PrunerTests.job(h, .available, finishedAgo: nil)
                case 1: id = try await PrunerTests.job(h, .running, finishedAgo: nil)
                case 2: id = try await PrunerTests.job(h, .completed, finishedAgo: 100)
                case 3: id = try await Self.insertFinished(h, .completed, finishedAt: completedRanges[0].lower!.addingTimeInterval(1))
                case 4: id = try await Self.insertFinished(h, .completed, finishedAt: completedRanges[1].lower!.addingTimeInterval(1))
                case 5: id = try await Self.insertFinished(h, .discarded, finishedAt: discardedRanges[0].lower!.addingTimeInterval(1))
                default: id = try await PrunerTests.job(h, .cancelled, finishedAgo: 10)
                }
                all.append(id)
            }
            let leaves = try await scalar(h, "SELECT count(DISTINCT tableoid) FROM \(q(h, "jobs"))")
            #expect(leaves == 6)
            var seen: [JobID] = []
            var after: JobID?
            repeat {
                let page = try await ledger.search(JobFilter(), after: after, limit: 5)
                seen += page.jobs.map(\.id)
                after = page.next
            } while after != nil
            #expect(seen == all.sorted { $0.uuid.uuidString.lowercased() > $1.uuid.uuidString.lowercased() })
            #expect(seen.count == 42)
            // A filtered page (state) too.
            var completed: [JobID] = []
            after = nil
            repeat {
                let page = try await ledger.search(JobFilter(state: .completed), after: after, limit: 4)
                completed += page.jobs.map(\.id)
                after = page.next
            } while after != nil
            #expect(completed.count == 18)
            #expect(Set(completed).count == 18)
        }
    }

    @Test("migration 7 moves a ledger of a million rows in every state without losing one")
    func migrateMillion() async throws {
        try await withHarness { h in
            let schema = TestEnvironment.uniqueName("ledger_v6")
            let old = Ledger(pool: h.pool, schema: schema, logger: testLogger)
            do {
                try await Self.migrateMillion(h, old)
                try await old.dropSchema()
            } catch {
                try? await old.dropSchema()
                throw error
            }
        }
    }

    static func migrateMillion(_ h: Harness, _ old: Ledger) async throws {
        let schema = old.schema
        try await old.migrate(through: 6)
        let jobs = PostgresIdentifier.quote(schema: schema, "jobs")
        let snapshot = PostgresIdentifier.quote(schema: schema, "snapshot")
        // A million rows: the seven states in turn, unique keys on a tenth of them (live
        // ones distinct), finish times from 10 days ago to now, some completed rows with
        // none, ids time-ordered like UUIDv7 (a timestamp prefix).
        _ = try await h.pool.withConnection { c in
            try await c.simpleQuery("""
                INSERT INTO \(jobs) (id, kind, class, target, state, unique_key, enqueued_at, finished_at, lease_until)
                SELECT (lpad(to_hex(1700000000000 + i), 12, '0') || '7000' || '8000' || lpad(to_hex(i), 12, '0'))::uuid,
                       'sys.noop', (ARRAY['analytics','maintenance','import'])[1 + i % 3], 'main', s.state,
                       CASE WHEN i % 10 = 0 THEN 'key:' || i END,
                       now() - interval '11 days',
                       CASE WHEN s.state IN ('completed','cancelled','discarded') AND i % 1000 <> 7
                            THEN now() - (i % 864000) * interval '1 second' END,
                       CASE WHEN s.state = 'running' THEN now() + interval '1 minute' END
                FROM generate_series(1, 1000000) i
                CROSS JOIN LATERAL (SELECT (ARRAY['available','scheduled','running','retryable','completed','cancelled','discarded'])[1 + i % 7] AS state) s;
                INSERT INTO \(PostgresIdentifier.quote(schema: schema, "import_rejects")) (job_id, line, reason)
                SELECT id, 1, 'bad' FROM \(jobs) WHERE class = 'import' AND state = 'completed' LIMIT 1000;
                CREATE TABLE \(snapshot) AS SELECT id, state, unique_key, finished_at FROM \(jobs);
                """)
        }
        #expect(try await old.migrate().first == 7)
        let missing = try await scalar(h, """
            SELECT count(*) FROM \(snapshot) s FULL JOIN \(jobs) j ON j.id = s.id
            WHERE j.id IS NULL OR s.id IS NULL OR j.state <> s.state
               OR j.unique_key IS DISTINCT FROM s.unique_key OR j.finished_at IS DISTINCT FROM s.finished_at
            """)
        #expect(missing == 0)
        #expect(try await scalar(h, "SELECT count(*) FROM \(jobs)") == 1_000_000)
        // Every row in the leaf of its state; completed ones mostly kept in place.
        let placed = try await h.pool.withConnection { c in
            try await c.query("SELECT tableoid::regclass::text, state, count(*) FROM \(jobs) GROUP BY 1, 2 ORDER BY 1, 2")
        }
        var byLeaf: [String: Int] = [:]
        for row in placed {
            let leaf = try row.decode(0, as: String.self).split(separator: ".").last.map(String.init) ?? ""
            let state = try row.decode(1, as: String.self)
            let n = try row.decode(2, as: Int.self)
            byLeaf[leaf, default: 0] += n
            switch leaf {
            case "jobs_live": #expect(!JobState(rawValue: state)!.isFinal)
            case "jobs_history": #expect(state == "completed")
            default: #expect(leaf == "jobs_\(state)_default")
            }
        }
        #expect(byLeaf["jobs_history"]! > 140_000)
        #expect(byLeaf["jobs_live"] == 571_429)
        // A job id finds its row through the ledger, from the history and from jobs_live.
        let ledger = old
        let anyCompleted = try await h.pool.withConnection { c in
            try await c.query("SELECT id FROM \(PostgresIdentifier.quote(schema: schema, "jobs_history")) LIMIT 1")[0].decode(0, as: UUID.self)
        }
        #expect(try await ledger.job(JobID(uuid: anyCompleted))?.state == .completed)
        // The live unique index came along: a live key admits no second job; a finished key does.
        let liveKey = try await h.pool.withConnection { c in
            try await c.query("SELECT unique_key FROM \(jobs) WHERE state = 'available' AND unique_key IS NOT NULL LIMIT 1")[0]
                .decode(0, as: String.self)
        }
        let dup = try await ledger.insert(LedgerInsert(envelope: Envelope(kind: .noop, uniqueKey: liveKey), workloadClass: "analytics",
                                                       state: .available))
        guard case .duplicate = dup else {
            Issue.record("a live unique key admitted a second job: \(dup)")
            return
        }
        let doneKey = try await h.pool.withConnection { c in
            try await c.query("SELECT unique_key FROM \(jobs) WHERE state = 'completed' AND unique_key IS NOT NULL LIMIT 1")[0]
                .decode(0, as: String.self)
        }
        #expect(try await ledger.insert(LedgerInsert(envelope: Envelope(kind: .noop, uniqueKey: doneKey), workloadClass: "analytics",
                                                     state: .available)) == .inserted)
        // The pruner then works on the migrated ledger: rows past retention leave by batches.
        let pruner = Pruner(configuration: PrunerConfiguration(retention: RetentionSettings(cancelled: nil, discarded: nil,
                                                                                            batchSize: 50_000),
                                                               name: "p", batchPause: .zero),
                            ledger: ledger, logger: testLogger)
        let pass = try #require(try await pruner.runPass())
        #expect((pass.removed["jobs"] ?? 0) > 0)
        #expect(try await scalar(h, """
            SELECT count(*) FROM \(jobs) WHERE state IN ('available','scheduled','running','retryable')
            """) == 571_430)
    }
}
