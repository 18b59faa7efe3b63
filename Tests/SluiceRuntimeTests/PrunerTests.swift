// The pruner against a real ledger: retention per final state (live jobs never touched), the
// side tables with their job (import rejects, uploads) or by their own rule (schedule fires,
// idempotency keys, replaced segments), `forever`, leadership, and a pruner killed in the middle
// of a batch (its backend terminated while it waits on a row lock) that loses nothing and is
// taken up by another process.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite("Pruner", .timeLimit(.minutes(2)))
struct PrunerTests {
    static let day = 86_400

    /// Inserts a ledger row directly: `finishedAgo` seconds ago for final states (and for a
    /// live row when given, to show that an old timestamp never makes a live job removable).
    @discardableResult
    static func job(_ h: Harness, _ state: JobState, finishedAgo: Int?, workloadClass: WorkloadClass = .analytics,
                    uniqueKey: String? = nil) async throws -> JobID {
        let id = JobID.make()
        _ = try await h.pool.withConnection { c in
            try await c.execute("""
                INSERT INTO \(PostgresIdentifier.quote(schema: h.schema, "jobs"))
                    (id, kind, class, target, state, enqueued_at, finished_at, unique_key)
                VALUES ($1, 'sys.noop', $2, 'main', $3, now() - interval '30 days',
                        now() - $4 * interval '1 second', $5)
                """, [.uuid(id.uuid), .text(workloadClass.rawValue), .text(state.rawValue),
                      finishedAgo.map { .int($0) } ?? .null, uniqueKey.map { .text($0) } ?? .null])
        }
        return id
    }

    /// Two import rejects and one upload (with a chunk) belonging to `id`.
    static func sideRows(_ h: Harness, for id: JobID) async throws {
        let s = PostgresIdentifier.quote(h.schema)
        _ = try await h.pool.withConnection { c in
            try await c.execute("INSERT INTO \(s).import_rejects (job_id, line, reason) VALUES ($1, 2, 'bad'), ($1, 3, 'bad')", [.uuid(id.uuid)])
            let upload = UUID()
            try await c.execute("INSERT INTO \(s).uploads (id, spec, file_name, job_id, complete) VALUES ($1, 'leads', 'f.csv', $2, true)",
                                [.uuid(upload), .uuid(id.uuid)])
            return try await c.execute("INSERT INTO \(s).upload_chunks (upload_id, seq, data) VALUES ($1, 0, '\\x00')", [.uuid(upload)])
        }
    }

    static func count(_ h: Harness, _ table: String, _ condition: String = "true", _ binds: [PostgresValue] = []) async throws -> Int {
        let rows = try await h.pool.withConnection { c in
            try await c.query("SELECT count(*) FROM \(PostgresIdentifier.quote(schema: h.schema, table)) WHERE \(condition)", binds)
        }
        return try rows[0].decode(0, as: Int.self)
    }

    static func ids(_ h: Harness) async throws -> Set<JobID> {
        let rows = try await h.pool.withConnection { c in
            try await c.query("SELECT id FROM \(PostgresIdentifier.quote(schema: h.schema, "jobs"))")
        }
        return Set(try rows.map { JobID(uuid: try $0.decode(0, as: UUID.self)) })
    }

    static func pruner(_ h: Harness, _ retention: RetentionSettings = RetentionSettings(batchSize: 2),
                       name: String = TestEnvironment.uniqueName("pruner"), leaseTTL: Duration = .seconds(30),
                       lockTimeout: Duration = .seconds(2)) -> Pruner {
        Pruner(configuration: PrunerConfiguration(retention: retention, name: name, leaseTTL: leaseTTL, lockTimeout: lockTimeout,
                                                  batchPause: .zero),
               ledger: h.ledger, logger: testLogger)
    }

    @Test("each final state goes after its retention with its rejects and upload; live and recent jobs stay")
    func retentionPerState() async throws {
        try await withHarness { h in
            var expired: Set<JobID> = []
            var kept: Set<JobID> = []
            // Past retention (defaults: completed and cancelled 1 day, discarded 7 days), in two
            // classes, more than one batch (batch size 2) of each.
            for c in [WorkloadClass.analytics, .maintenance] {
                for _ in 0..<3 {
                    let a = try await Self.job(h, .completed, finishedAgo: 2 * Self.day, workloadClass: c)
                    try await Self.sideRows(h, for: a)
                    expired.insert(a)
                    expired.insert(try await Self.job(h, .cancelled, finishedAgo: 2 * Self.day, workloadClass: c))
                    expired.insert(try await Self.job(h, .discarded, finishedAgo: 8 * Self.day, workloadClass: c))
                }
            }
            // Within retention.
            let recent = try await Self.job(h, .completed, finishedAgo: 60)
            try await Self.sideRows(h, for: recent)
            kept.insert(recent)
            kept.insert(try await Self.job(h, .cancelled, finishedAgo: 3600))
            kept.insert(try await Self.job(h, .discarded, finishedAgo: 2 * Self.day))
            // Live jobs, even with old timestamps and a unique key: never touched.
            for state in [JobState.available, .scheduled, .running, .retryable] {
                let live = try await Self.job(h, state, finishedAgo: 30 * Self.day, uniqueKey: "live:\(state)")
                try await Self.sideRows(h, for: live)
                kept.insert(live)
                kept.insert(try await Self.job(h, state, finishedAgo: nil))
            }

            let pruner = Self.pruner(h)
            let pass = try #require(try await pruner.runPass())
            #expect(pass.complete)
            #expect(pass.removed["jobs"] == expired.count)
            #expect(pass.removed["import_rejects"] == 2 * 6)
            #expect(pass.removed["uploads"] == 6)
            #expect(try await Self.ids(h) == kept)
            // The kept jobs' side rows are all there; the removed jobs' are gone (chunks cascade).
            #expect(try await Self.count(h, "import_rejects") == 2 * 5)
            #expect(try await Self.count(h, "uploads") == 5)
            #expect(try await Self.count(h, "upload_chunks") == 5)
            #expect(try await Self.count(h, "import_rejects", "job_id = ANY($1::uuid[])", [.textArray(expired.map(\.description))]) == 0)
            // The pass is recorded for `sluice status`.
            let status = try #require(try await h.ledger.prunerStatus())
            #expect(status.removedTotal == pass.total)
            #expect(status.removed["jobs"] == expired.count)
            // A second pass finds nothing.
            #expect(try await pruner.runPass()?.total == 0)
        }
    }

    @Test("forever keeps a state; a shortened retention removes what it says")
    func foreverAndShort() async throws {
        try await withHarness { h in
            let completed = try await Self.job(h, .completed, finishedAgo: 400 * Self.day)
            let discarded = try await Self.job(h, .discarded, finishedAgo: 90)
            var r = RetentionSettings(completed: nil, discarded: .seconds(60), batchSize: 10)
            r.cancelled = nil
            let pass = try #require(try await Self.pruner(h, r).runPass())
            #expect(pass.removed["jobs"] == 1)
            #expect(try await Self.ids(h) == [completed])
            _ = discarded
        }
    }

    @Test("schedule fires: each schedule's latest fire and unconfirmed fires stay; older confirmed ones go")
    func scheduleFires() async throws {
        try await withHarness { h in
            let s = PostgresIdentifier.quote(h.schema)
            let job = JobID.make().uuid
            _ = try await h.pool.withConnection { c in
                try await c.simpleQuery("""
                    INSERT INTO \(s).schedules (name, last_fire) VALUES ('nightly', '2026-01-10 00:00+00');
                    INSERT INTO \(s).schedule_fires (schedule, fire_time, job_id, fired_at, manual) VALUES
                      ('nightly', '2026-01-10 00:00+00', '\(job)', now() - interval '30 days', false),  -- latest: kept
                      ('nightly', '2026-01-09 00:00+00', '\(job)', now() - interval '30 days', false),  -- older: removed
                      ('nightly', '2026-01-08 00:00+00', '\(job)', now() - interval '30 days', false),  -- older: removed
                      ('nightly', '2026-01-08 00:00+00', '\(job)', now() - interval '30 days', true),   -- manual, old: removed
                      ('nightly', '2026-01-07 00:00+00', NULL,      now() - interval '30 days', false), -- unconfirmed: kept
                      ('nightly', '2026-01-06 00:00+00', '\(job)', now() - interval '1 day', false)     -- recent: kept
                    """)
            }
            let pass = try #require(try await Self.pruner(h).runPass())
            #expect(pass.removed["schedule_fires"] == 3)
            let left = try await h.pool.withConnection { c in
                try await c.query("SELECT to_char(fire_time AT TIME ZONE 'UTC', 'DD') FROM \(s).schedule_fires ORDER BY fire_time")
            }
            #expect(try left.map { try $0.decode(0, as: String.self) } == ["06", "07", "10"])
        }
    }

    @Test("idempotency keys older than their retention go, newer ones stay")
    func idempotencyKeys() async throws {
        try await withHarness { h in
            let s = PostgresIdentifier.quote(h.schema)
            _ = try await h.pool.withConnection { c in
                try await c.simpleQuery("""
                    INSERT INTO \(s).api_idempotency (key, request_sha256, created_at)
                    SELECT 'old' || i, 'x', now() - interval '2 days' FROM generate_series(1, 5) i;
                    INSERT INTO \(s).api_idempotency (key, request_sha256) VALUES ('new', 'x');
                    """)
            }
            let pass = try #require(try await Self.pruner(h).runPass())
            #expect(pass.removed["api_idempotency"] == 5)
            #expect(try await Self.count(h, "api_idempotency") == 1)
        }
    }

    @Test("a segment replaced long enough ago leaves with its members, in batches; others stay")
    func replacedSegments() async throws {
        try await withHarness { h in
            let s = PostgresIdentifier.quote(h.schema)
            let ws = UUID()
            func segment(_ rules: String, ageHours: Int, members: Int) async throws -> UUID {
                let id = UUID()
                _ = try await h.pool.withConnection { c in
                    try await c.execute("""
                        INSERT INTO \(s).segments (id, target, workspace_id, rules, member_count, created_at)
                        VALUES ($1, 'main', $2, $3, $4, now() - $5 * interval '1 hour')
                        """, [.uuid(id), .uuid(ws), .json(rules), .int(members), .int(ageHours)])
                    return try await c.execute("""
                        INSERT INTO \(s).segment_members (segment_id, member_id) SELECT $1, gen_random_uuid() FROM generate_series(1, $2)
                        """, [.uuid(id), .int(members)])
                }
                return id
            }
            let replaced = try await segment(#"{"field":"score","op":"gt","value":1}"#, ageHours: 72, members: 5)
            let replacer = try await segment(#"{"field":"score","op":"gt","value":1}"#, ageHours: 48, members: 3)
            let other = try await segment(#"{"field":"score","op":"gt","value":2}"#, ageHours: 72, members: 4)
            // Replaced only an hour ago (retention 1 day): stays for now.
            let young = try await segment(#"{"field":"score","op":"gt","value":3}"#, ageHours: 72, members: 2)
            _ = try await segment(#"{"field":"score","op":"gt","value":3}"#, ageHours: 1, members: 2)

            let pass = try #require(try await Self.pruner(h).runPass())
            #expect(pass.removed["segment_members"] == 5)
            #expect(pass.removed["segments"] == 1)
            #expect(try await Self.count(h, "segments", "id = $1", [.uuid(replaced)]) == 0)
            for kept in [replacer, other, young] { #expect(try await Self.count(h, "segments", "id = $1", [.uuid(kept)]) == 1) }
            #expect(try await Self.count(h, "segment_members") == 3 + 4 + 2 + 2)
        }
    }

    @Test("one leader: a second pruner does nothing while the first holds the lease")
    func leadership() async throws {
        try await withHarness { h in
            try await Self.job(h, .completed, finishedAgo: 2 * Self.day)
            let a = Self.pruner(h), b = Self.pruner(h)
            #expect(try await a.runPass()?.removed["jobs"] == 1)
            #expect(try await b.runPass() == nil)
        }
    }

    @Test("killed mid-batch (backend terminated while it waits on a reject's row lock): nothing half-removed; another pruner finishes")
    func killedMidBatch() async throws {
        try await withHarness { h in
            var jobs: [JobID] = []
            // Oldest first: jobs[0] finished longest ago and is in the first batch.
            for i in 0..<10 {
                let id = try await Self.job(h, .completed, finishedAgo: 2 * Self.day + 100 - i)
                try await Self.sideRows(h, for: id)
                jobs.append(id)
            }
            // Another session holds a row lock on one reject of the first batch.
            let holder = try await PostgresConnection.connect(h.postgres, logger: testLogger)
            _ = try await holder.simpleQuery("BEGIN")
            _ = try await holder.query(
                "SELECT 1 FROM \(PostgresIdentifier.quote(schema: h.schema, "import_rejects")) WHERE job_id = $1 FOR UPDATE",
                [.uuid(jobs[0].uuid)])

            let first = Self.pruner(h, RetentionSettings(batchSize: 4), leaseTTL: .seconds(1), lockTimeout: .seconds(60))
            let outcome = Task { () -> String in
                do {
                    _ = try await first.runPass()
                    return "finished"
                } catch {
                    return "failed"
                }
            }
            // The batch has deleted its jobs and now waits for the lock: kill its backend. (Watched
            // from outside the holder's transaction: a transaction sees pg_stat_activity as of
            // its first read.)
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
            // The whole batch rolled back: every job and every side row is still there.
            #expect(try await Self.ids(h) == Set(jobs))
            #expect(try await Self.count(h, "import_rejects") == 20)
            #expect(try await Self.count(h, "uploads") == 10)
            _ = try await holder.simpleQuery("ROLLBACK")
            await holder.close()

            // Another process takes the lease once the first one's expired, and finishes.
            let second = Self.pruner(h, RetentionSettings(batchSize: 4))
            var pass: Pruner.Pass?
            try await waitUntil(seconds: 10) {
                pass = try await second.runPass()
                return pass != nil
            }
            #expect(pass?.removed["jobs"] == 10)
            #expect(pass?.removed["import_rejects"] == 20)
            #expect(try await Self.ids(h).isEmpty)
            #expect(try await Self.count(h, "uploads") == 0)
        }
    }

    @Test("a sluice worker prunes by its catalog's retention; sluice status --json shows the pass")
    func workerProcessAndStatus() async throws {
        try await withHarness { h in
            let catalog = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("catalog"))
            try FileManager.default.createDirectory(at: catalog, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: catalog) }
            try Data("retention:\n  completed: 2s\n  interval: 200ms\n".utf8).write(to: catalog.appendingPathComponent("r.yaml"))
            let old = try await Self.job(h, .completed, finishedAgo: 60)
            let live = try await Self.job(h, .available, finishedAgo: nil)
            let worker = try WorkerProcess(h, arguments: ["--name", "pruning-worker"], environment: ["SLUICE_CATALOG": catalog.path])
            defer { _ = worker.terminate(waiting: 10) }
            // Until the pass that removed it is recorded too (a pass records after its last step:
            // the partitions of every final state, since migration 7).
            try await waitUntil(seconds: 30) {
                let recorded = try await h.ledger.prunerStatus() != nil
                return try await Self.ids(h) == [live] && recorded
            }
            #expect(try await Self.ids(h) == [live], "worker log: \(worker.log)")
            _ = old

            let p = Process()
            p.executableURL = URL(fileURLWithPath: sluiceExecutable)
            p.arguments = ["status", "--schema", h.schema, "--queue-prefix", h.topology.prefix, "--json"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let status = try JSONValue.parse(Array(data))
            #expect(status["pruner"]?["leader"] == "pruning-worker")
            #expect(status["pruner"]?["holder"] == "pruning-worker")
            #expect(status["pruner"]?["ledger_rows"] != nil)
            #expect(status["pruner"]?["error"] == .null)
        }
    }

    @Test("migration 6 on an existing ledger (migrations 1-5, rows in every state and side table) keeps every row")
    func migrationKeepsRows() async throws {
        try await withHarness { h in
            // Rebuild the schema at version 5, as a ledger of the previous release.
            let s = PostgresIdentifier.quote(h.schema)
            try await h.ledger.dropSchema()
            _ = try await h.pool.withConnection { c in
                try await c.simpleQuery("""
                    CREATE SCHEMA \(s);
                    CREATE TABLE \(s).schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                    """)
                for m in Migrations.all(schema: h.schema) where m.version <= 5 {
                    try await c.simpleQuery(m.sql)
                    try await c.execute("INSERT INTO \(s).schema_migrations (version, name) VALUES ($1, $2)", [.int(m.version), .text(m.name)])
                }
                return 0
            }
            var ids: Set<JobID> = []
            for state in JobState.allCases {
                let id = try await Self.job(h, state, finishedAgo: state.isFinal ? 3600 : nil, uniqueKey: "k:\(state)")
                try await Self.sideRows(h, for: id)
                ids.insert(id)
            }
            #expect(try await h.ledger.migrate() == Migrations.all.map(\.version).filter { $0 > 5 })
            #expect(try await Self.ids(h) == ids)
            #expect(try await Self.count(h, "import_rejects") == 2 * ids.count)
            #expect(try await Self.count(h, "uploads") == ids.count)
            // The live unique index still admits one live job per key.
            await #expect(throws: PostgresError.self) { try await Self.job(h, .available, finishedAgo: nil, uniqueKey: "k:running") }
            try await Self.job(h, .available, finishedAgo: nil, uniqueKey: "k:completed")
        }
    }
}
