// The import's pure parts: RFC 4180 records (quotes, embedded newlines, BOM, CRLF, delimiter,
// bad quoting with the line it starts on), value checks per type, gzip, and the `imports:` /
// `statements:` catalog sections (the demo's, and broken ones).

import Foundation
import Postgres
import SluiceCatalog
import SluiceCatalogLoader
@testable import SluiceJobs
import Testing
import SluiceRuntime

@Suite struct ImportReaderTests {
    func records(_ text: String, chunk: Int = 3, delimiter: UInt8 = UInt8(ascii: ",")) async throws -> [CSVRecordResult] {
        var reader = CSVRecordReader(source: MemoryByteSource(Array(text.utf8), chunkSize: chunk), delimiter: delimiter)
        var out: [CSVRecordResult] = []
        while let r = try await reader.next() { out.append(r) }
        return out
    }

    func fields(_ r: CSVRecordResult) -> [String]? {
        guard case .record(let rec) = r else { return nil }
        return rec.fields.map { String(decoding: $0, as: UTF8.self) }
    }

    func line(_ r: CSVRecordResult) -> Int {
        switch r {
        case .record(let rec): rec.line
        case .malformed(let line, _, _): line
        }
    }

    @Test(arguments: [1, 2, 3, 7, 1 << 20])
    func rfc4180(chunk: Int) async throws {
        let text = "\u{FEFF}a,b,c\r\n1,\"two, quoted\",3\n\n\"multi\nline\",\"say \"\"hi\"\"\",\r\nlast,,end"
        let r = try await records(text, chunk: chunk)
        #expect(r.count == 4)
        #expect(fields(r[0]) == ["a", "b", "c"])
        #expect(fields(r[1]) == ["1", "two, quoted", "3"])
        #expect(fields(r[2]) == ["multi\nline", "say \"hi\"", ""])
        #expect(fields(r[3]) == ["last", "", "end"])
        #expect(r.map(line) == [1, 2, 4, 6])
    }

    @Test func badQuotingIsReportedByLineAndReadingGoesOn() async throws {
        let text = "h1,h2\nok,1\nbad\"quote,2\n\"closed\"junk,3\nfine,4\n\"never closed,5\nmore\n"
        let r = try await records(text, chunk: 4)
        #expect(r.count == 6)
        #expect(fields(r[1]) == ["ok", "1"])
        guard case .malformed(2 + 1, let reason1, _) = r[2] else { Issue.record("\(r[2])"); return }
        #expect(reason1.contains("quote inside an unquoted field"))
        guard case .malformed(4, let reason2, _) = r[3] else { Issue.record("\(r[3])"); return }
        #expect(reason2.contains("after a closing quote"))
        #expect(fields(r[4]) == ["fine", "4"])
        guard case .malformed(6, let reason3, _) = r[5] else { Issue.record("\(r[5])"); return }
        #expect(reason3.contains("never closed"))
    }

    @Test func chosenDelimiter() async throws {
        let r = try await records("a;b\n\"x;y\";z\n", delimiter: UInt8(ascii: ";"))
        #expect(fields(r[1]) == ["x;y", "z"])
    }

    @Test func valueChecks() {
        func ok(_ s: String, _ c: ImportColumn) -> PostgresValue? {
            if case .success(let v) = ImportValueCheck.check(Array(s.utf8), c) { return v }
            return nil
        }
        func reason(_ s: String, _ c: ImportColumn) -> String? {
            if case .failure(let r) = ImportValueCheck.check(Array(s.utf8), c) { return r.text }
            return nil
        }
        let id = SQLIdentifier("c")!
        let email = ImportColumn(column: id, type: .email, required: true, lowercase: true)
        #expect(ok(" Ann.Lee+x@Example.COM ", email) == .text("ann.lee+x@example.com"))
        for bad in ["ann", "@x.com", "ann@", "ann@x", "a b@x.com", "ann@-x.com", "ann@x..com", "ann@@x.com"] {
            #expect(reason(bad, email) == "is not a valid email address", "\(bad)")
        }
        #expect(reason("", email) == "is required but empty")
        #expect(reason("a\u{0}b@x.com", email) == "contains a NUL byte")
        #expect(ImportValueCheck.check([0x61, 0xFF, 0x40], email) == .failure(.init("is not valid UTF-8")))
        let uuid = ImportColumn(column: id, type: .uuid)
        #expect(ok("0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", uuid) == .text("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"))
        #expect(reason("0193a1b2c3d47e5f8a9b0c1d2e3f4a5b", uuid) == "is not a UUID")
        #expect(ok("", uuid) == .null)
        let n = ImportColumn(column: id, type: .integer, min: 0, max: 10)
        #expect(ok("7", n) == .text("7"))
        #expect(reason("11", n)?.contains("above the maximum 10") == true)
        #expect(reason("1.5", n) == "is not a whole number")
        let d = ImportColumn(column: id, type: .decimal, min: -1.5)
        #expect(ok("-1.25e0", d) != nil)
        #expect(reason("nan", d) == "is not a decimal number")
        #expect(reason("-2", d)?.contains("below the minimum") == true)
        let text = ImportColumn(column: id, type: .text, maxLength: 3, oneOf: ["a", "bb"])
        #expect(ok("bb", text) == .text("bb"))
        #expect(reason("abcd", text) == "is longer than 3 characters")
        #expect(reason("c", text)?.hasPrefix("is not one of the allowed values") == true)
        let ts = ImportColumn(column: id, type: .timestamp, formats: [.iso8601, .date, .unix])
        for good in ["2026-11-22T10:00:00Z", "2026-11-22 10:00", "2026-11-22T10:00:00.123456+01:00", "2024-02-29", "1795000000"] {
            #expect(ok(good, ts) != nil, "\(good)")
        }
        for bad in ["2026-13-01", "2025-02-29", "2026-11-22T25:00", "22/11/2026", "2026-11-22T10:00:00+0100x"] {
            #expect(reason(bad, ts)?.hasPrefix("is not a timestamp") == true, "\(bad)")
        }
        let json = ImportColumn(column: id, type: .json_object)
        #expect(ok("{\"a\": [1, 2]}", json) == .json("{\"a\": [1, 2]}"))
        #expect(reason("{\"a\": ", json) == "is not valid JSON")
        #expect(reason("[1]", json) == "is JSON but not an object")
        // jsonb cannot store \u0000: refused here, not by the server for the whole COPY.
        #expect(reason("{\"a\": \"x\\u0000\"}", json) == "holds the escape \\u0000, which a jsonb value cannot store")
        #expect(ok("{\"a\": \"x\\\\u0000\"}", json) != nil)
        let tags = ImportColumn(column: id, type: .text_array)
        #expect(ok("{vip, trial,\"a,b\",\"q\\\"x\"}", tags) == .textArray(["vip", "trial", "a,b", "q\"x"]))
        #expect(ok("{}", tags) == .textArray([]))
        for bad in ["vip,trial", "{a,,b}", "{\"a}", "{a{b}"] { #expect(reason(bad, tags) != nil, "\(bad)") }
        let b = ImportColumn(column: id, type: .boolean)
        #expect(ok("Yes", b) == .bool(true))
        #expect(reason("maybe", b) != nil)
    }

    /// The chunked load's byte path (`nextEncoded`) against the value path (`next()` and the
    /// writer): the same COPY bytes and the same rejects, row for row, over cells of every type
    /// that take either path (ASCII or not, blanks to trim, case to fold, lengths, `one_of`,
    /// escapes COPY must carry, broken values, broken records).
    @Test(arguments: [5, 1 << 20])
    func theBytePathWritesWhatTheValuePathWrites(chunk: Int) async throws {
        let id = { (s: String) in SQLIdentifier(s)! }
        let spec = ImportSpec(
            name: id("mixed"), table: try QualifiedName(parsing: "public.t"),
            columns: [
                ImportColumn(column: id("ws"), type: .uuid, required: true),
                ImportColumn(column: id("email"), type: .email, required: true, lowercase: true),
                ImportColumn(column: id("name"), maxLength: 5),
                ImportColumn(column: id("plan"), oneOf: ["free", "pro"]),
                ImportColumn(column: id("note")),
                ImportColumn(column: id("code"), lowercase: true),
                ImportColumn(column: id("tags"), type: .text_array),
                ImportColumn(column: id("attrs"), type: .json_object),
                ImportColumn(column: id("at"), type: .timestamp),
                ImportColumn(column: id("day"), type: .timestamp, formats: [.date, .iso8601]),
                ImportColumn(column: id("n"), type: .integer, min: 0),
                ImportColumn(column: id("ok"), type: .boolean),
            ],
            key: [id("ws"), id("email")], maxFileBytes: 1 << 30, maxRejects: 1000, location: SourceLocation(file: "test", line: 0))
        let header = "ws,email,name,plan,note,code,tags,attrs,at,day,n,ok"
        let ws = "0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"
        let rows = [
            "\(ws),Ann@Example.COM,Ann,free,plain,ABC,\"{a,b}\",\"{\"\"k\"\": 1}\",2026-11-22T10:00:00Z,2026-11-22,7,yes",
            "\(ws), bob@x.io ,Bö,pro,\"tab\there\",Ünï,{},{},2026-11-22 10:00,2026-11-22T10:00:00+01:00,0,f",
            "\(ws),c@x.io,,free,\"back\\slash\r\nline\",x,\"{NULL, \"\"q r\"\"}\",\"{\"\"a\"\": [1.5e3, true, null]}\",,,,",
            "\(ws),d@x.io,,gold,,,,,,,,",
            "\(ws),e@x.io,,,,,,\"{\"\"a\"\": \"\"\\u0000\"\"}\",,,,",
            "\(ws),f@x.io,,,,,,[1],,,,",
            "\(ws),g@x.io,,,,,,,2026-13-01T00:00Z,,,",
            "not-a-uuid,h@x.io,,,,,,,,,,",
            ",i@x.io,,,,,,,,,,",
            "\(ws),not an email,,,,,,,,,,",
            "\(ws),j@x.io,,,,,,,,,-1,",
            "\(ws),k@x.io,,,,,,,,,,maybe",
            "\(ws),l@x.io,toolong,few",
            "\(ws),l@x.io,toolong,,,,,,,,,",
            "\(ws),m@x.io,bad\"quote,,,,,,,,,",
            "\(ws)\t,N@X.IO, pad,free,  kept  , Up ,{x},\"  {\"\"b\"\": 2}  \", 2026-11-22T10:00:00Z ,2026-01-02,  3  ,TRUE",
            "\(ws),o@x.io,,,,,\"{ a b , \"\"x\\\"\"y\\\\z\"\" ,q\tr}\",,,,,",
            "\(ws),p@x.io,,,,,\"{a,,b}\",,,,,",
        ]
        let file = Array((([header] + rows).joined(separator: "\n") + "\n").utf8)

        var byValue = ImportRowReader(spec: spec, format: .csv, source: MemoryByteSource(file, chunkSize: chunk))
        try await byValue.start()
        var expected = PostgresCopyTextWriter(capacity: 1024)
        var expectedRejects: [ImportReject] = []
        while let item = try await byValue.next() {
            switch item {
            case .row(let values): try expected.append(row: values, rowNumber: 1)
            case .reject(let r): expectedRejects.append(r)
            }
        }

        var byBytes = ImportRowReader(spec: spec, format: .csv, source: MemoryByteSource(file, chunkSize: chunk))
        try await byBytes.start()
        var written = PostgresCopyTextWriter(capacity: 1024)
        var rejects: [ImportReject] = []
        var lines: [Int] = []
        var scratch: [UInt8] = []
        while let item = try await byBytes.nextEncoded(into: &written, scratch: &scratch) {
            switch item {
            case .row(let line): lines.append(line)
            case .reject(let r): rejects.append(r)
            }
        }
        #expect(String(decoding: written.buffer, as: UTF8.self) == String(decoding: expected.buffer, as: UTF8.self))
        #expect(rejects == expectedRejects)
        // Line 4's record runs over two lines (a quoted CRLF).
        #expect(lines == [2, 3, 4, 18, 19])
        #expect(rejects.map(\.line) == Array(6...17) + [20])
        #expect(byBytes.rowsRead == rows.count)
    }

    @Test func gzipIsInflatedWhileStreaming() async throws {
        let text = LeadsFile.file("00000000-0000-0000-0000-000000000001", 0..<2000)
        let gz = try gzip(Array(text.utf8))
        #expect(gz.count < text.utf8.count / 3)
        var source = try await GzipDetectingSource.wrap(AnyImportByteSource(MemoryByteSource(gz, chunkSize: 1000)))
        var out: [UInt8] = []
        while let c = try await source.next() { out += c }
        #expect(out == Array(text.utf8))
        // Truncated: a clear error, not a short file.
        var cut = try await GzipDetectingSource.wrap(AnyImportByteSource(MemoryByteSource(Array(gz.prefix(gz.count / 2)))))
        await #expect(throws: JobError.self) { while try await cut.next() != nil {} }
    }

    @Test func demoCatalogDeclaresLeadsImportAndCampaignSends() throws {
        let catalog = try TestCatalog.demo()
        let spec = try #require(catalog.importSpec(named: "leads"))
        #expect(spec.table.description == "demo.leads")
        #expect(spec.key.map(\.rawValue) == ["workspace_id", "email"])
        #expect(spec.column(forHeader: " EMAIL ")?.type == .email)
        #expect(spec.maxFileBytes == 512 << 20)
        let s = try #require(catalog.statement(named: "schedule_campaign_sends"))
        #expect(s.parameters.map(\.name.rawValue) == ["campaign_id"])
        let (sql, order, unknown) = s.positionalSQL()
        #expect(unknown == nil && order == ["campaign_id", "batch_after", "batch_size"])
        // Keys are lead ids since issue 18 (batches in id order).
        #expect(sql.contains("WHERE c.id = $1") && sql.contains("$2::uuid") && sql.contains("LIMIT $3"))
    }

    @Test func brokenImportSpecsAreReported() {
        let yaml = """
            imports:
              - name: a
                table: demo.leads
                key: [email]
                on_conflict: merge
                max_file_size: 10 parsecs
                columns:
                  - {column: email, type: emial}
                  - {column: n, type: text, min: 3}
                  - {column: e2, header: EMAIL}
              - name: b
                table: demo.leads
                key: [nope]
                columns:
                  - {column: email, required: true}
            statements:
              - name: s
                file: ../outside.sql
                params: {batch_size: integer}
            """
        let check = CatalogLoader.check(sources: [CatalogSource(path: "x.yaml", text: yaml)])
        let text = check.problems.map(\.description).joined(separator: "\n")
        #expect(check.catalog.imports.isEmpty && check.catalog.statements.isEmpty)
        for expected in ["type must be one of", "on_conflict must be one of", "is not a size", "min applies to integer and decimal",
                         "key column nope is not one of its columns", "outside", "batch_size"] {
            #expect(text.contains(expected), "missing: \(expected)\n\(text)")
        }
    }

    @Test func onEmptyIsReadPerColumn() {
        let yaml = """
            imports:
              - name: a
                table: demo.leads
                key: [email]
                columns:
                  - {column: email, required: true}
                  - {column: company}
                  - {column: created_at, type: timestamp, on_empty: default}
                  - {column: title, on_empty: null}
              - name: b
                table: demo.leads
                key: [email]
                columns:
                  - {column: email, required: true, on_empty: keep}
                  - {column: company, on_empty: blank}
            """
        let check = CatalogLoader.check(sources: [CatalogSource(path: "x.yaml", text: yaml)])
        let text = check.problems.map(\.description).joined(separator: "\n")
        let a = check.catalog.imports.first { $0.name.rawValue == "a" }
        #expect(a?.columns.map(\.onEmpty) == [.keep, .keep, .default, .null], "\(text)")
        #expect(check.catalog.imports.count == 1)
        #expect(text.contains("on_empty must be one of keep, default, null"), "\(text)")
        #expect(text.contains("is required, so its cells are never empty"), "\(text)")
    }
}

func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-c"]
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    let writer = Thread { input.fileHandleForWriting.write(Data(bytes)); try? input.fileHandleForWriting.close() }
    writer.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return [UInt8](data)
}
