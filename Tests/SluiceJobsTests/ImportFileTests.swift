// import.file against the demo schema: broken rows reported by line/column/reason while the
// good rows land, the three conflict policies, dry run, re-run idempotence, header and file
// refusals, the reject limit, paths outside the import directory, gzip and NDJSON, 100k rows
// with known broken rows, a cancel midway then a re-run, and ten imports at once.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import Synchronization
import Testing
import SluiceRuntime

@Suite(.serialized) struct ImportFileTests {
    @Test func brokenRowsAreReportedAndGoodRowsLand() async throws {
        try await ImportWorld.with("imp_broken") { w in
            let ws = w.workspaces[0]
            let lines = [
                LeadsFile.header,                                           // 1
                LeadsFile.row(ws, 1),                                       // 2
                "\(ws),bad-email,A,B,C,{},{},2026-11-01",                   // 3 bad email
                "not-a-uuid,x@y.test,A,B,C,{},{},2026-11-01",               // 4 bad uuid
                "\(ws),j@y.test,A,B,C,{},{},2026-11-01,extra",              // 5 wrong field count
                "\(ws),k@y.test,A,B,C,{},\"{\"\"a\"\":}\",2026-11-01",       // 6 malformed JSON
                "\(ws),l@y.test,\(String(repeating: "x", count: 201)),B,C,{},{},2026-11-01", // 7 too long
                "\(ws),,A,B,C,{},{},2026-11-01",                            // 8 missing required
                "\(ws),m@y.test,A\u{0},B,C,{},{},2026-11-01",               // 9 NUL
                "\(ws),n@y.test,A,B",                                       // 10 wrong count
                "\(ws),o@y.test,A\"B,B,C,{},{},2026-11-01",                 // 11 bad quoting
                LeadsFile.row(ws, 2),                                       // 12
                "\(ws),p@y.test,A,B,C,{},{},2026-02-30",                    // 13 bad timestamp
                "\(ws),q@y.test,A,B,C,notarray,{},2026-11-01",              // 14 bad array
            ]
            var bytes = Array((lines.joined(separator: "\n") + "\n").utf8)
            // Line 15: invalid UTF-8 in first_name.
            bytes += Array("\(ws),r@y.test,".utf8) + [0xC3, 0x28] + Array(",B,C,{},{},2026-11-01\n".utf8)
            bytes += Array((LeadsFile.row(ws, 3) + "\n").utf8)  // 16
            let report = try await w.importBytes(bytes)
            #expect(report.rowsRead == 15)
            #expect(report.inserted == 3)
            #expect(report.rejected == 12)
            expectReject(report, line: 3, column: "email", reason: "not a valid email")
            expectReject(report, line: 4, column: "workspace_id", reason: "not a UUID")
            expectReject(report, line: 5, column: nil, reason: "field(s); the header has 8")
            expectReject(report, line: 6, column: "custom_fields", reason: "not valid JSON")
            expectReject(report, line: 7, column: "first_name", reason: "longer than 200")
            expectReject(report, line: 8, column: "email", reason: "required")
            expectReject(report, line: 9, column: "first_name", reason: "NUL")
            expectReject(report, line: 10, column: nil, reason: "has 4 field(s)")
            expectReject(report, line: 11, column: nil, reason: "quote inside an unquoted field")
            expectReject(report, line: 13, column: "created_at", reason: "not a timestamp")
            expectReject(report, line: 14, column: "tags", reason: "array literal")
            expectReject(report, line: 15, column: "first_name", reason: "UTF-8")
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 3)
            #expect(try await w.db.value("SELECT tags::text || custom_fields::text FROM demo.leads WHERE email = 'new1@import.test'",
                                         as: String.self) == "{vip,trial}{\"score\": 1}")
        }
    }

    @Test func rejectFileHoldsEveryRejectByLine() async throws {
        try await ImportWorld.with("imp_rejectfile") { w in
            let ws = w.workspaces[0]
            var lines = [LeadsFile.header]
            for i in 0..<300 { lines.append(i % 2 == 0 ? LeadsFile.row(ws, i) : "\(ws),broken\(i),A,B,C,{},{},2026-11-01") }
            let job = UUID()
            let report = try await w.importText(lines.joined(separator: "\n"), jobID: job)
            #expect(report.rejected == 150 && report.rejects.count == 100 && report.inserted == 150)
            let collected = Mutex<[UInt8]>([])
            let n = try await w.store.rejectsCSV(jobID: job) { bytes in collected.withLock { $0 += bytes } }
            #expect(n == 150)
            let csv = String(decoding: collected.withLock { $0 }, as: UTF8.self).split(separator: "\n")
            #expect(csv.first == "line,column,reason")
            #expect(csv[1] == "3,email,is not a valid email address")
            #expect(csv.count == 151 && csv.last?.hasPrefix("301,email,") == true)
        }
    }

    @Test func updateIsIdempotentAndRewritesOnlyChangedRows() async throws {
        try await ImportWorld.with("imp_update") { w in
            let ws = w.workspaces[1]
            let first = try await w.importText(LeadsFile.file(ws, 0..<500))
            #expect(first.inserted == 500 && first.updated == 0 && first.unchanged == 0)
            let xmins = "SELECT string_agg(xmin::text, ',' ORDER BY email) FROM demo.leads WHERE email LIKE 'new%@import.test'"
            let before = try await w.db.value(xmins, as: String.self)
            let again = try await w.importText(LeadsFile.file(ws, 0..<500))
            #expect(again.inserted == 0 && again.updated == 0 && again.unchanged == 500)
            #expect(try await w.db.value(xmins, as: String.self) == before, "unchanged rows must not be rewritten")
            // 100 rows change, 100 new ones arrive.
            let mixed = LeadsFile.file(ws, 0..<100, variant: 1) + LeadsFile.file(ws, 100..<600).split(separator: "\n").dropFirst()
                .joined(separator: "\n")
            let third = try await w.importText(mixed)
            #expect(third.inserted == 100 && third.updated == 100 && third.unchanged == 400)
            #expect(try await w.db.value("SELECT first_name FROM demo.leads WHERE email = 'new5@import.test'", as: String.self) == "First6")
        }
    }

    /// Issue 18: a cell left empty must not overwrite a stored value (on_empty: keep, the default),
    /// so re-importing a file with empty defaulted cells (created_at, tags) reports every row
    /// unchanged and rewrites nothing; defaults apply to inserted rows only.
    @Test func reimportWithEmptyDefaultedCellsChangesNothing() async throws {
        var catalog = try TestCatalog.demo()
        try await ImportWorld.with("imp_empty", catalog: catalog) { w in
            let ws = w.workspaces[0]
            // Rows 0..<20 arrive complete; the file then gives them (and 10 new ones) with
            // company, tags, custom_fields and created_at empty.
            _ = try await w.importText(LeadsFile.file(ws, 0..<20))
            let sparse = ([LeadsFile.header] + (0..<30).map { "\(ws),new\($0)@import.test,First\($0),Last\($0),,,," })
                .joined(separator: "\n") + "\n"
            let rows = "SELECT string_agg(l::text || l.xmin::text, '|' ORDER BY email) FROM demo.leads l "
                + "WHERE email LIKE 'new%@import.test' AND email NOT LIKE 'new2_@import.test'"
            let stored = try await w.db.value(rows, as: String.self)
            let first = try await w.importText(sparse)
            #expect(first.inserted == 10 && first.updated == 0 && first.unchanged == 20, "\(first)")
            #expect(try await w.db.value(rows, as: String.self) == stored, "an empty cell rewrote a stored row")
            // New rows got the defaults: created_at now(), tags '{}', company NULL.
            #expect(try await w.count("""
                SELECT count(*) FROM demo.leads WHERE email LIKE 'new2_@import.test'
                  AND created_at > now() - interval '1 hour' AND tags = '{}' AND custom_fields = '{}' AND company IS NULL
                """) == 10)
            let all = "SELECT string_agg(l::text || l.xmin::text, '|' ORDER BY email) FROM demo.leads l WHERE email LIKE 'new%@import.test'"
            let before = try await w.db.value(all, as: String.self)
            for _ in 0..<2 {
                let again = try await w.importText(sparse)
                #expect(again.inserted == 0 && again.updated == 0 && again.unchanged == 30, "\(again)")
                #expect(try await w.db.value(all, as: String.self) == before, "a re-import changed a stored value")
            }
            // on_empty: default writes the default on existing rows too; null writes NULL.
            let columns = catalog.imports[0].columns
            catalog.imports[0].columns[columns.firstIndex { $0.column.rawValue == "created_at" }!].onEmpty = .default
            catalog.imports[0].columns[columns.firstIndex { $0.column.rawValue == "company" }!].onEmpty = .null
            let overwriting = FileImporter(catalog: catalog, store: w.store, importDirectory: nil)
            let r = try await w.importText(sparse, importer: overwriting)
            #expect(r.updated == 30 && r.unchanged == 0, "\(r)")
            #expect(try await w.count("""
                SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'
                  AND created_at > now() - interval '1 hour' AND company IS NULL AND tags = '{vip,trial}'
                """) == 20, "default/null overwrite; keep (tags) still keeps")
            // null on a NOT NULL column is refused before anything is written, naming the column.
            catalog.imports[0].columns[columns.firstIndex { $0.column.rawValue == "tags" }!].onEmpty = .null
            let refused = FileImporter(catalog: catalog, store: w.store, importDirectory: nil)
            let e = await expectJobError { _ = try await w.importText(sparse, importer: refused) }
            #expect(e?.description.contains("on_empty: null") == true && e?.description.contains("tags") == true)
        }
    }

    @Test func duplicatesInTheFileLastLineWins() async throws {
        try await ImportWorld.with("imp_dupes") { w in
            let ws = w.workspaces[0]
            let text = [LeadsFile.header, LeadsFile.row(ws, 1), LeadsFile.row(ws, 2), LeadsFile.row(ws, 1, variant: 7),
                        LeadsFile.row(ws, 1, variant: 8).replacingOccurrences(of: "new1@", with: "NEW1@")].joined(separator: "\n")
            let r = try await w.importText(text)
            #expect(r.inserted == 2 && r.duplicates == 2)
            #expect(try await w.db.value("SELECT first_name FROM demo.leads WHERE email = 'new1@import.test'", as: String.self) == "First9")
        }
    }

    @Test func skipAndErrorPolicies() async throws {
        var catalog = try TestCatalog.demo()
        try await ImportWorld.with("imp_policies", catalog: catalog) { w in
            let ws = w.workspaces[0]
            _ = try await w.importText(LeadsFile.file(ws, 0..<10))
            catalog.imports[0].onConflict = .skip
            let skipping = FileImporter(catalog: catalog, store: w.store, importDirectory: nil)
            let skipped = try await w.importText(LeadsFile.file(ws, 5..<15, variant: 3), importer: skipping)
            #expect(skipped.inserted == 5 && skipped.skipped == 5 && skipped.updated == 0)
            #expect(try await w.db.value("SELECT first_name FROM demo.leads WHERE email = 'new5@import.test'", as: String.self) == "First5")

            catalog.imports[0].onConflict = .error
            let strict = FileImporter(catalog: catalog, store: w.store, importDirectory: nil)
            let e = await expectJobError { _ = try await w.importText(LeadsFile.file(ws, 14..<20), importer: strict) }
            #expect(e?.description.contains("on_conflict: error") == true)
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 15)
            let fresh = try await w.importText(LeadsFile.file(ws, 20..<25), importer: strict)
            #expect(fresh.inserted == 5)
        }
    }

    @Test func dryRunCountsWithoutWriting() async throws {
        try await ImportWorld.with("imp_dry") { w in
            let ws = w.workspaces[0]
            _ = try await w.importText(LeadsFile.file(ws, 0..<10))
            let text = LeadsFile.file(ws, 5..<20, variant: 1) + "\(ws),broken,A,B,C,{},{},2026-11-01\n"
            let dry = try await w.importText(text, options: .init(dryRun: true))
            #expect(dry.dryRun && dry.inserted == 10 && dry.updated == 5 && dry.rejected == 1)
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 10)
            #expect(try await w.db.value("SELECT first_name FROM demo.leads WHERE email = 'new5@import.test'", as: String.self) == "First5")
        }
    }

    @Test func headerMismatchAndBadFilesAreRefusedBeforeWriting() async throws {
        try await ImportWorld.with("imp_refuse") { w in
            let ws = w.workspaces[0]
            let unknown = await expectJobError { _ = try await w.importText("Workspace_ID,EMAIL,shoe_size\n\(ws),a@b.test,42\n") }
            #expect(unknown?.description.contains("unknown column(s) \"shoe_size\"") == true)
            let missing = await expectJobError { _ = try await w.importText("workspace_id,first_name\n\(ws),Ann\n") }
            #expect(missing?.description.contains("missing required column(s) email") == true)
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE first_name = 'Ann'") == 0)

            let empty = await expectJobError {
                _ = try await w.store.store(MemoryByteSource([]), spec: "leads", fileName: "e.csv", maxBytes: 100)
            }
            #expect(empty?.description.contains("empty") == true)
            let big = await expectJobError {
                _ = try await w.store.store(MemoryByteSource(Array(repeating: 0x41, count: 2000)), spec: "leads", fileName: "b.csv", maxBytes: 1000)
            }
            #expect(big?.description.contains("larger than") == true)
            // Refused uploads leave nothing (the failed imports above keep theirs for a while).
            let refused = try await w.count("SELECT count(*) FROM sluice_home.uploads WHERE file_name IN ('e.csv', 'b.csv')")
            #expect(refused == 0)

            var small = w.catalog
            small.imports[0].maxFileBytes = 100
            let limited = FileImporter(catalog: small, store: w.store, importDirectory: nil)
            let tooBig = await expectJobError { _ = try await w.importText(LeadsFile.file(ws, 0..<5), importer: limited) }
            #expect(tooBig?.description.contains("larger than import leads's limit of 100 bytes") == true)

            let undeclared = await expectJobError {
                _ = try await w.importer.run(.init(spec: "contacts", source: .init(path: "x.csv")), jobID: UUID(), pool: w.db.pool,
                                             progress: { _ in }, logger: w.db.logger)
            }
            #expect(undeclared?.code == .undeclared)
            let headerOnly = try await w.importText(LeadsFile.header + "\n")
            #expect(headerOnly.rowsRead == 0 && headerOnly.inserted == 0)
        }
    }

    @Test func pathsOutsideTheImportDirectoryAreRefused() async throws {
        try await ImportWorld.with("imp_paths") { w in
            let ws = w.workspaces[2]
            try LeadsFile.file(ws, 0..<5).write(toFile: w.directory + "/good.csv", atomically: true, encoding: .utf8)
            let outside = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-outside-\(UUID()).csv").path
            try LeadsFile.file(ws, 0..<5).write(toFile: outside, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: outside) }
            try FileManager.default.createSymbolicLink(atPath: w.directory + "/link.csv", withDestinationPath: outside)
            func run(_ path: String, dir: String? = nil) async throws -> FileImporter.Report {
                try await FileImporter(catalog: w.catalog, store: w.store, importDirectory: dir ?? w.directory)
                    .run(.init(spec: "leads", source: .init(path: path)), jobID: UUID(), pool: w.db.pool, progress: { _ in }, logger: w.db.logger)
            }
            #expect(try await run("good.csv").inserted == 5)
            for bad in ["../" + (outside as NSString).lastPathComponent, outside, "link.csv"] {
                let e = await expectJobError { _ = try await run(bad) }
                #expect(e?.description.contains("outside the import directory") == true, "\(bad): \(String(describing: e))")
            }
            let none = await expectJobError { _ = try await run("missing.csv") }
            #expect(none?.description.contains("no file") == true)
            let noDir = await expectJobError {
                _ = try await FileImporter(catalog: w.catalog, store: w.store, importDirectory: nil)
                    .run(.init(spec: "leads", source: .init(path: "good.csv")), jobID: UUID(), pool: w.db.pool, progress: { _ in }, logger: w.db.logger)
            }
            #expect(noDir?.description.contains("SLUICE_IMPORT_DIR") == true)
        }
    }

    @Test func rejectLimitAbortsAndWritesNothing() async throws {
        var catalog = try TestCatalog.demo()
        catalog.imports[0].maxRejects = 5
        try await ImportWorld.with("imp_limit", catalog: catalog) { w in
            let ws = w.workspaces[0]
            var lines = [LeadsFile.header]
            for i in 0..<100 { lines.append(i % 10 == 0 ? "\(ws),broken\(i),A,B,C,{},{},2026-11-01" : LeadsFile.row(ws, i)) }
            let job = UUID()
            let e = await expectJobError { _ = try await w.importText(lines.joined(separator: "\n"), jobID: job) }
            #expect(e?.description.contains("more than 5 rows were rejected") == true)
            let landed = try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'")
            #expect(landed == 0)
            let stored = try await w.store.rejectCount(jobID: job)
            #expect(stored == 6)
        }
    }

    @Test func gzipAndNDJSON() async throws {
        try await ImportWorld.with("imp_formats") { w in
            let ws = w.workspaces[0]
            let gz = try gzip(Array(LeadsFile.file(ws, 0..<1000).utf8))
            let r = try await w.importBytes(gz, fileName: "leads.csv.gz")
            #expect(r.inserted == 1000 && r.rejected == 0)
            let nd = """
                {"workspace_id": "\(ws)", "email": "nd1@import.test", "tags": ["a", "b c"], "custom_fields": {"k": 1}, "created_at": "2026-11-02"}
                {"workspace_id": "\(ws)", "email": "nd2@import.test", "tags": "{x}", "first_name": "Nd"}

                {"workspace_id": "\(ws)", "email": "nd3@import.test", "shoe_size": 42}
                [1, 2]
                {"workspace_id": "\(ws)", "email": "nd4@import.test", "custom_fields": "{"}
                """
            let n = try await w.importText(nd, fileName: "leads.ndjson")
            #expect(n.inserted == 2 && n.rejected == 3)
            expectReject(n, line: 4, column: "shoe_size", reason: "is not a column")
            expectReject(n, line: 5, column: nil, reason: "not a JSON object")
            expectReject(n, line: 6, column: "custom_fields", reason: "not valid JSON")
            #expect(try await w.db.value("SELECT tags::text FROM demo.leads WHERE email = 'nd1@import.test'", as: String.self) == "{a,\"b c\"}")
            // NOT NULL columns with a default get it when the file leaves them empty.
            #expect(try await w.db.value("SELECT custom_fields::text FROM demo.leads WHERE email = 'nd2@import.test'", as: String.self) == "{}")
        }
    }

    @Test func uploadIsDeletedAfterTheImport() async throws {
        try await ImportWorld.with("imp_upload") { w in
            let ws = w.workspaces[0]
            let upload = try await w.store.store(MemoryByteSource(Array(LeadsFile.file(ws, 0..<30000).utf8), chunkSize: 70_000),
                                                 spec: "leads", fileName: "big.csv", maxBytes: 1 << 30)
            #expect(upload.chunks > 2)
            #expect(try await w.count("SELECT count(*) FROM sluice_home.upload_chunks") == upload.chunks)
            let progress = ProgressLog()
            var importer = w.importer
            importer.progressInterval = .milliseconds(1)
            let r = try await importer.run(.init(spec: "leads", source: .init(upload: upload.id.uuidString)), jobID: UUID(),
                                           pool: w.db.pool, progress: progress.reporter, logger: w.db.logger)
            #expect(r.inserted == 30000 && r.bytesRead == upload.bytes)
            // Refused uploads leave nothing (the failed imports above keep theirs for a while).
            let refused = try await w.count("SELECT count(*) FROM sluice_home.uploads WHERE file_name IN ('e.csv', 'b.csv')")
            #expect(refused == 0)
            #expect(progress.all.contains { $0["phase"] == "reading" && $0["percent"] != nil })
            #expect(progress.all.last?["phase"] == "upserting")
            let gone = await expectJobError {
                _ = try await w.importer.run(.init(spec: "leads", source: .init(upload: upload.id.uuidString)), jobID: UUID(),
                                             pool: w.db.pool, progress: { _ in }, logger: w.db.logger)
            }
            #expect(gone?.description.contains("does not exist") == true)
        }
    }

    @Test func hundredThousandRowsWithKnownBrokenRows() async throws {
        try await ImportWorld.with("imp_100k") { w in
            let ws = w.workspaces[0]
            var lines = [LeadsFile.header]
            var brokenLines: [Int] = []
            for i in 0..<100_000 {
                if i % 997 == 0 {
                    lines.append("\(ws),broken\(i)@,A,B,C,{},{},2026-11-01")
                    brokenLines.append(lines.count)
                } else {
                    lines.append(LeadsFile.row(ws, i))
                }
            }
            let job = UUID()
            let r = try await w.importText(lines.joined(separator: "\n") + "\n", jobID: job)
            #expect(r.rowsRead == 100_000 && r.rejected == brokenLines.count && r.inserted == 100_000 - brokenLines.count)
            #expect(r.rejects.map(\.line) == Array(brokenLines.prefix(100)))
            let c = try await w.db.connect()
            let stored = try await w.home.withConnection { c in
                try await c.query("SELECT line FROM sluice_home.import_rejects WHERE job_id = $1 ORDER BY line", [.uuid(job)])
                    .map { try $0.decode(0, as: Int.self) }
            }
            await c.close()
            #expect(stored == brokenLines)
        }
    }

    @Test func cancelMidwayThenRerunFinishes() async throws {
        try await ImportWorld.with("imp_cancel") { w in
            let ws = w.workspaces[1]
            let text = LeadsFile.file(ws, 0..<120_000)
            let upload = try await w.store.store(MemoryByteSource(Array(text.utf8)), spec: "leads", fileName: "c.csv", maxBytes: 1 << 30)
            let started = Mutex(false)
            var importer = w.importer
            importer.progressInterval = .milliseconds(1)
            let task = Task {
                try await importer.run(.init(spec: "leads", source: .init(upload: upload.id.uuidString)), jobID: UUID(), pool: w.db.pool,
                                       progress: { f in if f["phase"] == "reading", Int(f["rows"] ?? "0")! > 20_000 { started.withLock { $0 = true } } },
                                       logger: w.db.logger)
            }
            while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            task.cancel()
            let result = await task.result
            guard case .failure(let error) = result else { Issue.record("the import finished before the cancel"); return }
            #expect((error as? JobError)?.code == .cancelled, "\(error)")
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 0)
            // The upload is still there; the re-run finishes the whole file.
            let r = try await w.importer.run(.init(spec: "leads", source: .init(upload: upload.id.uuidString)), jobID: UUID(),
                                             pool: w.db.pool, progress: { _ in }, logger: w.db.logger)
            #expect(r.inserted == 120_000)
        }
    }

    @Test func tenConcurrentImportsOverlappingKeys() async throws {
        try await ImportWorld.with("imp_ten") { w in
            let ws = w.workspaces[0]
            let pool = PostgresPool(configuration: .init(connection: w.db.configuration, maxConnections: 10), logger: w.db.logger)
            // Each file shares half its keys with the next: row locks meet in every pair.
            let reports = try await withThrowingTaskGroup(of: FileImporter.Report.self) { group in
                for k in 0..<10 {
                    group.addTask {
                        try await w.importText(LeadsFile.file(ws, (k * 1000)..<(k * 1000 + 2000), variant: k), pool: pool)
                    }
                }
                var out: [FileImporter.Report] = []
                for try await r in group { out.append(r) }
                return out
            }
            await pool.close()
            #expect(reports.count == 10)
            #expect(reports.map { $0.inserted + $0.updated + $0.unchanged }.allSatisfy { $0 == 2000 })
            #expect(reports.map(\.inserted).reduce(0, +) == 11_000)
            #expect(try await w.count("SELECT count(*) FROM demo.leads WHERE email LIKE 'new%@import.test'") == 11_000)
        }
    }

    @Test func catalogCheckFindsMissingColumnsAndKeysWithoutUniqueIndex() async throws {
        var catalog = try TestCatalog.demo()
        try await ImportWorld.with("imp_live", catalog: catalog) { w in
            let c = try await w.db.connect()
            let clean = try await CatalogLiveCheck(catalog: catalog).run(on: c)
            #expect(!clean.problems.contains { $0.message.contains("import leads") }, "\(clean.problems)")
            catalog.imports[0].key = [SQLIdentifier("email")!]
            catalog.imports[0].columns.append(ImportColumn(column: SQLIdentifier("shoe_size")!, type: .integer))
            let broken = try await CatalogLiveCheck(catalog: catalog).run(on: c)
            await c.close()
            let text = broken.problems.map(\.description).joined(separator: "\n")
            #expect(text.contains("import leads: column shoe_size does not exist in demo.leads"), "\(text)")
            #expect(text.contains("import leads: no unique index of demo.leads is on exactly (email)"), "\(text)")
        }
    }
}
