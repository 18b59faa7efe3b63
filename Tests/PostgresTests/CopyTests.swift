// COPY IN / COPY OUT with tricky values, NUL rejection naming the row, server-side failures,
// misuse, and a streamed bulk load (whose rate is printed, not asserted).

import Foundation
import Testing
@testable import Postgres

@Suite struct CopyTests {
    static let tricky: [String?] = [
        "plain", "tab\there", "new\nline", "cr\rreturn", "back\\slash", "\\N", "", nil, "NULL", "unicode é 🦊",
        "comma,semi;pipe|", "quote ' and \"", "\u{1}\u{7F}",
    ]

    @Test func copyInRoundTripsThroughCopyOutAndSelect() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE c (id int PRIMARY KEY, name text, data bytea, tags text[], at timestamptz, ok boolean, score float8, u uuid)")
            let at = Date(timeIntervalSince1970: 1_700_000_000.5)
            let u = UUID()
            var rows: [[PostgresValue]] = []
            for (i, s) in Self.tricky.enumerated() {
                rows.append([
                    .int(i), PostgresValue(s), .bytes([UInt8(i), 0, 92, 10]), .textArray([s, "x,y", nil]),
                    .timestamp(at), .bool(i % 2 == 0), .double(Double(i) / 4), .uuid(u),
                ])
            }
            let copied = try await conn.copyIn(into: "COPY c (id, name, data, tags, at, ok, score, u) FROM STDIN", rows: rows)
            #expect(copied == Self.tricky.count)

            let selected = try await conn.query("SELECT id, name, data, tags, at, ok, score, u FROM c ORDER BY id")
            for (i, row) in selected.enumerated() {
                #expect(try row.decode(1, as: String?.self) == Self.tricky[i])
                #expect(try row.decode(2, as: [UInt8].self) == [UInt8(i), 0, 92, 10])
                #expect(try row.decode(3, as: [String?].self) == [Self.tricky[i], "x,y", nil])
                #expect(try row.decode(4, as: Date.self) == at)
                #expect(try row.decode(5, as: Bool.self) == (i % 2 == 0))
                #expect(try row.decode(6, as: Double.self) == Double(i) / 4)
                #expect(try row.decode(7, as: UUID.self) == u)
            }

            let out = try await conn.copyOut("COPY (SELECT id, name FROM c ORDER BY id) TO STDOUT")
            let decoded = PostgresCopyText.decodeRows(out)
            #expect(decoded.count == Self.tricky.count)
            #expect(decoded.map { $0[1] } == Self.tricky)
            #expect(decoded.map { $0[0] } == (0..<Self.tricky.count).map { String($0) })

            // Streaming handler form, CSV.
            let lines = LineCounter()
            let n = try await conn.copyOut("COPY c TO STDOUT (FORMAT csv)") { _ in lines.add() }
            #expect(n == Self.tricky.count)
            #expect(lines.count == Self.tricky.count)
        }
    }

    @Test func nulByteAbortsTheCopyNamingTheRow() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE c (id int PRIMARY KEY, name text)")
            let rows: [[PostgresValue]] = (1...10).map { i in [.int(i), .text(i == 7 ? "bad\u{0}value" : "ok \(i)")] }
            let e = try #require(await expectPostgresError { _ = try await conn.copyIn(into: "COPY c FROM STDIN", rows: rows) })
            #expect(e.code == .copyRejected)
            #expect(e.row == 7)
            #expect(e.description.contains("row 7"))
            #expect(!e.description.contains("bad"))
            #expect(!conn.isBroken)
            #expect(!conn.isInTransaction)
            #expect(try await conn.query("SELECT count(*) FROM c").first?.decode(0, as: Int.self) == 0)
            // Usable afterwards, including for another COPY.
            #expect(try await conn.copyIn(into: "COPY c FROM STDIN", rows: [[1, "fine"]]) == 1)
        }
    }

    @Test func serverSideFailuresAndMisuse() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE c (id int PRIMARY KEY, name text)")
            let dup = try #require(await expectPostgresError {
                _ = try await conn.copyIn(into: "COPY c FROM STDIN", rows: [[1, "a"], [1, "b"]])
            })
            #expect(dup.sqlState == PostgresError.uniqueViolation)
            #expect(dup.table == "c")
            let bad = try #require(await expectPostgresError {
                _ = try await conn.copyIn(into: "COPY c FROM STDIN", rows: [["not a number", "a"]])
            })
            #expect(bad.sqlState == "22P02")
            let width = try #require(await expectPostgresError {
                _ = try await conn.copyIn(into: "COPY c FROM STDIN", rows: [[1, "a", "extra"]])
            })
            #expect(width.code == .server)
            let notCopy = try #require(await expectPostgresError { _ = try await conn.copyIn(into: "SELECT 1", rows: [[1]]) })
            #expect(notCopy.code == .invalidUsage)
            let missing = try #require(await expectPostgresError { _ = try await conn.copyIn(into: "COPY nope FROM STDIN", rows: [[1]]) })
            #expect(missing.sqlState == PostgresError.undefinedTable)
            let viaQuery = try #require(await expectPostgresError { _ = try await conn.query("COPY c FROM STDIN") })
            #expect(viaQuery.code == .invalidUsage)
            let outViaQuery = try #require(await expectPostgresError { _ = try await conn.query("COPY c TO STDOUT") })
            #expect(outViaQuery.code == .invalidUsage)
            #expect(!conn.isBroken)
            #expect(try await conn.query("SELECT count(*) FROM c").first?.decode(0, as: Int.self) == 0)
        }
    }

    @Test func streamsALargeCopyFromALazySequence() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE bulk (id bigint PRIMARY KEY, name text NOT NULL, score float8)")
            let count = 100_000
            let rows = (1...count).lazy.map { i -> [PostgresValue] in [.int(i), .text("name \(i)\twith tab"), .double(Double(i) * 0.5)] }
            let start = ContinuousClock.now
            let copied = try await conn.copyIn(into: "COPY bulk (id, name, score) FROM STDIN", rows: rows)
            let took = ContinuousClock.now - start
            #expect(copied == count)
            print("COPY \(count) rows x 3 columns: \(took), \(Int(Double(count) / took.seconds)) rows/s (debug build)")
            let check = try #require(try await conn.query("SELECT count(*), sum(id), max(name) FILTER (WHERE id = 99999) FROM bulk").first)
            #expect(try check.decode(0, as: Int.self) == count)
            #expect(try check.decode(1, as: Int.self) == count * (count + 1) / 2)
            #expect(try check.decode(2, as: String.self) == "name 99999\twith tab")

            // A row source closure, through AnyIterator.
            var i = 0
            let source = AnyIterator { () -> [PostgresValue]? in
                i += 1
                return i <= 1000 ? [.int(i), .text("r\(i)")] : nil
            }
            try await conn.simpleQuery("TRUNCATE bulk")
            #expect(try await conn.copyIn(into: "COPY bulk (id, name) FROM STDIN", rows: source) == 1000)
        }
    }

    /// Rows built by closures isolated to the main actor are read there, not on the I/O thread.
    @MainActor @Test func copiesFromAMainActorSequence() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE m (id int PRIMARY KEY, name text)")
            var names: [String] = []  // main-actor state touched by the row closure
            let rows = (1...5000).lazy.map { i -> [PostgresValue] in
                names.append("n\(i)")
                return [.int(i), .text(names.last!)]
            }
            #expect(try await conn.copyIn(into: "COPY m FROM STDIN", rows: rows) == 5000)
            #expect(names.count == 5000)
        }
    }

    @Test func copiesFromAnAsyncSequence() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE a (id int PRIMARY KEY, name text)")
            let (stream, continuation) = AsyncStream<[PostgresValue]>.makeStream()
            for i in 1...3000 { continuation.yield([.int(i), .text("s\(i)")]) }
            continuation.finish()
            #expect(try await conn.copyIn(into: "COPY a FROM STDIN", rows: stream) == 3000)

            // The sequence's own error aborts the COPY and comes back unchanged.
            struct SourceFailed: Error {}
            let (failing, fc) = AsyncThrowingStream<[PostgresValue], Error>.makeStream()
            for i in 5001...5100 { fc.yield([.int(i), .text("x")]) }
            fc.finish(throwing: SourceFailed())
            await #expect(throws: SourceFailed.self) { _ = try await conn.copyIn(into: "COPY a FROM STDIN", rows: failing) }
            #expect(!conn.isBroken)
            #expect(try await conn.query("SELECT count(*) FROM a").first?.decode(0, as: Int.self) == 3000)
        }
    }

    @Test func taskCancellationAbortsACopy() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE a (id int PRIMARY KEY)")
            let (stream, continuation) = AsyncStream<[PostgresValue]>.makeStream()
            for i in 1...10 { continuation.yield([.int(i)]) }  // then never finishes
            let task = Task { try await conn.copyIn(into: "COPY a FROM STDIN", rows: stream) }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            let result = await task.result
            if case .failure(let e as PostgresError) = result { #expect(e.code == .cancelled) } else { Issue.record("expected cancellation, got \(result)") }
            continuation.finish()
            #expect(!conn.isBroken)
            #expect(try await conn.query("SELECT count(*) FROM a").first?.decode(0, as: Int.self) == 0)
        }
    }
}

final class LineCounter: @unchecked Sendable {
    // @unchecked Sendable: incremented only on the connection's I/O thread during one COPY,
    // read after it completes.
    private(set) var count = 0
    func add() { count += 1 }
}
