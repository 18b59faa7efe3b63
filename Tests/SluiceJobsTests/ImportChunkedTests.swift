// The chunked import (on_conflict: update, each chunk committed, two connections overlapped):
// its counts equal the one-transaction dry run's on a file whose keys repeat within a chunk and
// across chunks (last line wins, a key counted once), a dry run writes nothing, a cancel midway
// leaves committed chunks that a re-run finishes, and so does a worker process killed with
// SIGKILL in the middle of an import. A chunk of keys new to the table is COPYed straight in;
// one that holds a stored key, or an empty cell an insert fills, takes the upsert, with the same
// rows and counts; a table without a unique index on the key still gets the upsert's error.

import Foundation
import Glibc
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import SluiceRuntime
import Synchronization
import Testing
import TestSupport

@Suite(.serialized) struct ImportChunkedTests {
    /// 360 data rows in chunks of 100: rows 0..<50 as stored, 200..<500 changed or new, then
    /// keys repeated from earlier chunks (changed, unchanged, new ones, one in other case) and one
    /// repeated within the last chunk.
    static func mixedFile(_ ws: String) -> String {
        var lines = [LeadsFile.header, LeadsFile.row(ws, 100)]
        lines += (0..<50).map { LeadsFile.row(ws, $0) }
        lines += (200..<500).map { LeadsFile.row(ws, $0, variant: 1) }
        lines += [LeadsFile.row(ws, 100, variant: 2), LeadsFile.row(ws, 400, variant: 3), LeadsFile.row(ws, 250, variant: 4),
                  LeadsFile.row(ws, 210, variant: 1), LeadsFile.row(ws, 450, variant: 5), LeadsFile.row(ws, 450, variant: 6),
                  LeadsFile.row(ws, 460, variant: 7).replacingOccurrences(of: "new460@", with: "NEW460@"),
                  LeadsFile.row(ws, 10), LeadsFile.row(ws, 20, variant: 9)]
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func countsMatchOneTransactionAndLastLineWinsAcrossChunks() async throws {
        try await ImportWorld.with("imp_chunked") { w in
            let ws = w.workspaces[0]
            _ = try await w.importText(LeadsFile.file(ws, 0..<300))
            let names = "SELECT string_agg(first_name, ',' ORDER BY email) FROM demo.leads WHERE email LIKE 'new%@import.test'"
            let before = try await w.db.value(names, as: String.self)
            let text = Self.mixedFile(ws)
            var chunked = w.importer
            chunked.chunkRows = 100
            // The dry run is the one-transaction load: the reference counts, nothing written.
            let dry = try await w.importText(text, options: .init(dryRun: true), importer: chunked)
            #expect(dry.dryRun && dry.inserted == 200 && dry.updated == 102 && dry.unchanged == 49 && dry.duplicates == 9, "\(dry)")
            #expect(try await w.db.value(names, as: String.self) == before, "the dry run wrote")

            let r = try await w.importText(text, importer: chunked)
            #expect((r.inserted, r.updated, r.unchanged, r.duplicates, r.rowsRead) == (dry.inserted, dry.updated, dry.unchanged, dry.duplicates, 360),
                    "\(r)")
            // Last line wins, across chunks and within one.
            for (i, first) in [(100, 102), (400, 403), (250, 254), (210, 211), (450, 456), (460, 467), (10, 10), (20, 29), (300, 301)] {
                #expect(try await w.db.value("SELECT first_name FROM demo.leads WHERE email = 'new\(i)@import.test'", as: String.self)
                        == "First\(first)", "key \(i)")
            }
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 500)

            // A re-run leaves every value as it is; keys repeated across chunks are the only rows
            // it may rewrite (an earlier chunk's line, then the last one), never insert.
            let after = try await w.db.value(names, as: String.self)
            let again = try await w.importText(text, importer: chunked)
            #expect(again.inserted == 0 && again.updated + again.unchanged == 351 && again.duplicates == 9, "\(again)")
            #expect(try await w.db.value(names, as: String.self) == after)
            // Without repeats across chunks, a re-run is a no-op: every row unchanged.
            let plain = try await w.importText(LeadsFile.file(ws, 0..<500, variant: 1), importer: chunked)
            #expect(plain.inserted == 0 && plain.duplicates == 0 && plain.updated + plain.unchanged == 500, "\(plain)")
            let same = try await w.importText(LeadsFile.file(ws, 0..<500, variant: 1), importer: chunked)
            #expect(same.inserted == 0 && same.updated == 0 && same.unchanged == 500, "\(same)")
        }
    }

    @Test func newKeysCopyStraightInAndTheRestTakeTheUpsert() async throws {
        try await ImportWorld.with("imp_straight") { w in
            let ws = w.workspaces[0]
            // Which statements inserted: "COPY" (straight in) or "WITH" (the upsert), sorted
            // (the two connections' chunks commit in either order).
            try await w.db.run("""
                CREATE TABLE public.import_paths (n serial, path text);
                CREATE FUNCTION public.note_import_path() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN INSERT INTO public.import_paths (path) VALUES (left(current_query(), 4)); RETURN NULL; END $$;
                CREATE TRIGGER note_import_path AFTER INSERT ON demo.leads FOR EACH STATEMENT EXECUTE FUNCTION public.note_import_path();
                ALTER TABLE demo.leads ALTER COLUMN company SET DEFAULT 'n/a';
                """)
            func paths() async throws -> String {
                let p = try await w.db.value("SELECT coalesce(string_agg(path, ',' ORDER BY path), '') FROM public.import_paths", as: String.self)
                try await w.db.run("TRUNCATE public.import_paths")
                return p
            }
            var chunked = w.importer
            chunked.chunkRows = 100
            let fresh = try await w.importText(LeadsFile.file(ws, 0..<300), importer: chunked)
            #expect((fresh.inserted, fresh.updated, fresh.unchanged) == (300, 0, 0), "\(fresh)")
            #expect(try await paths() == "COPY,COPY,COPY")

            // New keys, then stored ones (changed): the second chunk's COPY is refused, it and
            // the third take the upsert (the third may have been copied before the refusal).
            let mixed = [LeadsFile.header] + (300..<400).map { LeadsFile.row(ws, $0) } + (0..<100).map { LeadsFile.row(ws, $0, variant: 1) }
                + (400..<500).map { LeadsFile.row(ws, $0) }
            let r = try await w.importText(mixed.joined(separator: "\n") + "\n", importer: chunked)
            #expect((r.inserted, r.updated, r.unchanged, r.duplicates) == (200, 100, 0, 0), "\(r)")
            let p = try await paths()
            #expect(p == "COPY,WITH,WITH" || p == "COPY,COPY,WITH", "\(p)")
            #expect(try await w.db.value("SELECT string_agg(DISTINCT first_name, ',') FROM demo.leads WHERE email IN ('new0@import.test', 'new99@import.test')",
                                         as: String.self) == "First1,First100")
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 500)

            // An empty company, whose column has a default: the insert must write the default,
            // which a COPY would not (it writes NULL), so that chunk takes the upsert.
            let blank = [LeadsFile.header] + (500..<600).map { LeadsFile.row(ws, $0) }
                + (600..<700).map { LeadsFile.row(ws, $0).replacingOccurrences(of: "\"Acme, Inc. 0\"", with: "") }
            let b = try await w.importText(blank.joined(separator: "\n") + "\n", importer: chunked)
            #expect((b.inserted, b.updated, b.unchanged) == (200, 0, 0), "\(b)")
            #expect(try await paths() == "COPY,WITH")
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new6__@import.test' AND company = 'n/a'") == 100)
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new5__@import.test' AND company = 'Acme, Inc. 0'") == 100)
        }
    }

    @Test func aKeyWithoutUniqueIndexIsRefusedEvenWhenEveryKeyIsNew() async throws {
        var catalog = try TestCatalog.demo()
        catalog.imports[0].key = [SQLIdentifier("email")!]
        try await ImportWorld.with("imp_no_arbiter", catalog: catalog) { w in
            var chunked = w.importer
            chunked.chunkRows = 100
            let e = await expectJobError { _ = try await w.importText(LeadsFile.file(w.workspaces[0], 0..<150), importer: chunked) }
            #expect(e?.description.contains("has no unique index or constraint on (email)") == true, "\(String(describing: e))")
            let written = try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'")
            #expect(written == 0)
        }
    }

    @Test func straightRowsAreInKeyOrderWithoutTheirLineNumbers() {
        let data = Array("3\tb\tx\t1\n1\ta\tz\t2\n2\ta\ty\t3\n4\ta\tyy\t4\n".utf8)
        #expect(String(decoding: ImportLoader.sortedRows(data, keyFields: [1, 2], keepLineNumbers: false), as: UTF8.self) == "a\ty\t3\na\tyy\t4\na\tz\t2\nb\tx\t1\n")
        #expect(String(decoding: ImportLoader.sortedRows(data, keyFields: [2, 1], keepLineNumbers: false), as: UTF8.self) == "b\tx\t1\na\ty\t3\na\tyy\t4\na\tz\t2\n")
        let row = Array("5\t\\N\tq\t\\N".utf8)
        row.withUnsafeBufferPointer { r in
            #expect(ChunkReader<MemoryByteSource>.hasNull(row: r, fields: [1]))
            #expect(!ChunkReader<MemoryByteSource>.hasNull(row: r, fields: [2]))
            #expect(ChunkReader<MemoryByteSource>.hasNull(row: r, fields: [2, 3]))
            #expect(!ChunkReader<MemoryByteSource>.hasNull(row: r, fields: [0, 2]))
        }
    }

    @Test func cancelAfterCommittedChunksThenRerunFinishes() async throws {
        try await ImportWorld.with("imp_chunk_cancel") { w in
            let ws = w.workspaces[1]
            let upload = try await w.store.store(MemoryByteSource(Array(LeadsFile.file(ws, 0..<120_000).utf8)), spec: "leads",
                                                 fileName: "c.csv", maxBytes: 1 << 30)
            var importer = w.importer
            importer.chunkRows = 5_000
            let args = FileImporter.Arguments(spec: "leads", source: .init(upload: upload.id.uuidString))
            let task = Task { try await importer.run(args, jobID: UUID(), pool: w.db.pool, progress: { _ in }, logger: w.db.logger) }
            let landed = "SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'"
            while try await w.count(landed) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            task.cancel()
            guard case .failure(let error) = await task.result else { Issue.record("the import finished before the cancel"); return }
            #expect((error as? JobError)?.code == .cancelled, "\(error)")
            let committed = try await w.count(landed)
            #expect(committed > 0 && committed < 120_000 && committed % 5_000 == 0, "\(committed)")
            let r = try await importer.run(args, jobID: UUID(), pool: w.db.pool, progress: { _ in }, logger: w.db.logger)
            #expect(r.inserted == 120_000 - committed && r.unchanged == committed && r.updated == 0, "\(r)")
            #expect(try await w.count(landed) == 120_000)
        }
    }

    @Test func rejectLimitAfterCommittedChunksSaysWhatWasWritten() async throws {
        var catalog = try TestCatalog.demo()
        catalog.imports[0].maxRejects = 5
        try await ImportWorld.with("imp_chunk_limit", catalog: catalog) { w in
            let ws = w.workspaces[0]
            var lines = [LeadsFile.header]
            for i in 0..<1_000 { lines.append(i >= 900 && i % 10 == 0 ? "\(ws),broken\(i),A,B,C,{},{},2026-11-01" : LeadsFile.row(ws, i)) }
            var importer = w.importer
            importer.chunkRows = 100
            let e = await expectJobError { _ = try await w.importText(lines.joined(separator: "\n"), importer: importer) }
            let landed = try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'")
            #expect(landed > 0 && landed % 100 == 0 && landed <= 900, "\(landed)")
            #expect(e?.description.contains("more than 5 rows were rejected") == true)
            #expect(e?.description.contains("the \(landed) rows of the chunks before it were written") == true, "\(String(describing: e))")
        }
    }

    @Test func workerKilledMidImportThenRerunFinishes() async throws {
        try await ScratchDatabase.with("cli_import_kill") { db in
            let names = TestEnvironment.uniqueName("impkill")
            var env = cliEnvironment(database: db, names: names)
            let dir = NSTemporaryDirectory() + names
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            env["SLUICE_IMPORT_DIR"] = dir
            let ws = try await db.value("SELECT id::text FROM demo.workspaces ORDER BY slug LIMIT 1", as: String.self)
            let rows = 200_000
            try LeadsFile.file(ws, 0..<rows).write(toFile: dir + "/kill.csv", atomically: true, encoding: .utf8)
            #expect(try await runSluice(["migrate"], environment: env).status == 0)

            let logPath = dir + "/worker.log"
            func startWorker() throws -> Process {
                let worker = Process()
                worker.executableURL = URL(fileURLWithPath: sluiceExecutable)
                worker.arguments = ["worker", "--grace", "5s"]
                worker.environment = env
                FileManager.default.createFile(atPath: logPath, contents: nil)
                worker.standardOutput = FileHandle(forWritingAtPath: logPath)
                worker.standardError = FileHandle(forWritingAtPath: logPath)
                try worker.run()
                return worker
            }
            let args = #"{"spec":"leads","source":{"path":"kill.csv"},"options":{"chunk_rows":5000}}"#
            let first = try startWorker()
            defer { if first.isRunning { Glibc.kill(first.processIdentifier, SIGKILL) } }
            let enqueued = try await runSluice(["enqueue", "import.file", "--args", args], environment: env)
            #expect(enqueued.status == 0, "\(enqueued.output)")
            let landed = "SELECT count(*)::int FROM demo.leads WHERE email LIKE 'new%@import.test'"
            let deadline = ContinuousClock.now + .seconds(120)
            while try await db.value(landed, as: Int.self) == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            // SIGKILL: no drain, no rollback from the worker; the server drops its sessions.
            Glibc.kill(first.processIdentifier, SIGKILL)
            _ = try await offPool { first.waitUntilExit() }
            try await Task.sleep(for: .milliseconds(500))
            let committed = try await db.value(landed, as: Int.self)
            #expect(committed > 0 && committed < rows && committed % 5_000 == 0, "\(committed)")

            let second = try startWorker()
            defer { if second.isRunning { Glibc.kill(second.processIdentifier, SIGKILL) } }
            let rerun = try await runSluice(["enqueue", "import.file", "--args", args, "--wait", "--wait-timeout", "180s", "--json"],
                                            environment: env)
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            #expect(rerun.status == 0 && rerun.output.contains("completed"), "\(rerun.output)\nworker log:\n\(log)")
            // The re-run job's report: the killed job's chunks came back unchanged, the rest inserted.
            let report = try await db.value("""
                SELECT (result->>'inserted') || ',' || (result->>'updated') || ',' || (result->>'unchanged') FROM \(names).jobs
                WHERE kind = 'import.file' AND state = 'completed' ORDER BY finished_at DESC LIMIT 1
                """, as: String.self)
            let counts = report.split(separator: ",").compactMap { Int($0) }
            #expect(counts.count == 3 && counts[1] == 0 && counts[0] + counts[2] == rows && counts[0] <= rows - committed, "\(report)")
            #expect(try await db.value(landed, as: Int.self) == rows)
            Glibc.kill(second.processIdentifier, SIGKILL)
        }
    }

    /// Chunks commit out of order (one with no repeated key does not wait): `.before(k)` waits
    /// for the whole prefix, `.chunk(k)` for that chunk alone, and a failure reaches every waiter.
    @Test func gateKeepsThePrefixWhenChunksCommitOutOfOrder() async throws {
        let gate = ChunkGate()
        let prefix = Task { try await gate.wait(for: .before(3)) }
        let second = Task { try await gate.wait(for: .chunk(2)) }
        gate.committed(2, xid: 12, rows: 10)
        #expect(try await second.value == [12])
        gate.committed(0, xid: 10, rows: 10)
        try await Task.sleep(for: .milliseconds(50))
        gate.committed(1, xid: 11, rows: 10)
        // Chunks 0, 1 and 2 committed: the prefix reaches 3, with every id so far.
        #expect(try await prefix.value.sorted() == [10, 11, 12])
        #expect(gate.committedRows == 30)
        #expect(try await gate.wait(for: .before(2)).count == 3)

        let later = Task { try await gate.wait(for: .before(5)) }
        gate.committed(4, xid: 14, rows: 1)
        try await Task.sleep(for: .milliseconds(50))
        gate.fail(CancellationError())
        await #expect(throws: CancellationError.self) { try await later.value }
        await #expect(throws: CancellationError.self) { try await gate.wait(for: .chunk(9)) }
    }
}
