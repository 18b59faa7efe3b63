// Pipelines against the real server: the statements commit together or not at all, a later
// statement sees what committed while an earlier one ran (its own snapshot), prepared
// statements take part, a changed table is re-planned, and the connection is usable after a
// failed pipeline.

import Foundation
import Testing
@testable import Postgres

@Suite struct PipelineTests {
    /// Runs `body` with a connection and a fresh table (id int primary key, note text), dropped after.
    static func withTable(_ body: (PostgresConnection, String) async throws -> Void) async throws {
        try await PG.withConnection { conn in
            let t = "pipeline_\(getpid())_\(Int.random(in: 0..<1_000_000))"
            _ = try await conn.simpleQuery("CREATE TABLE \(t) (id int PRIMARY KEY, note text)")
            do {
                try await body(conn, t)
            } catch {
                _ = try? await conn.simpleQuery("DROP TABLE \(t)")
                throw error
            }
            _ = try await conn.simpleQuery("DROP TABLE \(t)")
        }
    }

    @Test func theStatementsCommitTogetherAndReturnTheirRowsInOrder() async throws {
        try await Self.withTable { conn, t in
            for round in 0..<3 {  // the second and later rounds run prepared statements
                let base = round * 10
                let out = try await conn.pipeline([
                    (sql: "INSERT INTO \(t) VALUES ($1, $2), ($3, $2) RETURNING id", binds: [.int(base + 1), .text("a"), .int(base + 2)]),
                    (sql: "SELECT count(*) FROM \(t) WHERE id > $1", binds: [.int(base)]),
                    (sql: "UPDATE \(t) SET note = $1 WHERE id = $2", binds: [.text("b"), .int(base + 2)]),
                ])
                #expect(out.count == 3)
                #expect(try out[0].map { try $0.decode(0, as: Int.self) }.sorted() == [base + 1, base + 2])
                #expect(try out[1].first?.decode(0, as: Int.self) == 2)  // the insert's rows, in the same transaction
                #expect(out[2].affectedRows == 1)
                #expect(!conn.isInTransaction)
            }
            let other = try await PG.connect()
            #expect(try await other.query("SELECT count(*) FROM \(t) WHERE note = 'b'").first?.decode(0, as: Int.self) == 3)
            await other.close()
        }
    }

    @Test func aFailedStatementRollsBackTheOnesBeforeItAndSkipsTheOnesAfter() async throws {
        try await Self.withTable { conn, t in
            _ = try await conn.query("INSERT INTO \(t) VALUES (1, 'kept')")
            for _ in 0..<3 {
                let error = await #expect(throws: PostgresError.self) {
                    try await conn.pipeline([
                        (sql: "INSERT INTO \(t) VALUES ($1, 'rolled back')", binds: [.int(2)]),
                        (sql: "INSERT INTO \(t) VALUES ($1, 'duplicate')", binds: [.int(1)]),
                        (sql: "INSERT INTO \(t) VALUES ($1, 'skipped')", binds: [.int(3)]),
                    ])
                }
                #expect(error?.sqlState == "23505")
                #expect(!conn.isInTransaction)
                // The connection is usable, out of pipeline mode, and nothing of it was kept.
                #expect(try await conn.query("SELECT array_agg(id ORDER BY id)::text FROM \(t)").first?.decode(0, as: String.self) == "{1}")
            }
        }
    }

    @Test func aLaterStatementSeesWhatCommittedWhileAnEarlierOneRan() async throws {
        try await Self.withTable { conn, t in
            // Another session commits a row 300 ms into the first statement (a sleep); the
            // second statement's snapshot is taken after it, so it counts that row.
            let other = try await PG.connect()
            let writer = Task {
                try await Task.sleep(for: .milliseconds(300))
                _ = try await other.query("INSERT INTO \(t) VALUES (7, 'other')")
            }
            let out = try await conn.pipeline([
                (sql: "SELECT pg_sleep($1::float8)", binds: [.text("1.0")]),
                (sql: "SELECT count(*) FROM \(t)", binds: []),
            ])
            try await writer.value
            await other.close()
            #expect(try out[1].first?.decode(0, as: Int.self) == 1)
        }
    }

    @Test func aTableThatChangesShapeUnderAPreparedStatementInAPipelineIsReadAgain() async throws {
        try await Self.withTable { conn, t in
            _ = try await conn.query("INSERT INTO \(t) VALUES (1, 'x')")
            let sql = "SELECT * FROM \(t) WHERE id = $1"
            for _ in 0..<3 { #expect(try await conn.pipeline([(sql: sql, binds: [.int(1)])])[0].count == 1) }
            #expect(try await StatementCacheTests.prepared(conn).contains(sql))
            _ = try await conn.simpleQuery("ALTER TABLE \(t) ADD COLUMN extra int DEFAULT 5")
            let row = try #require(try await conn.pipeline([(sql: sql, binds: [.int(1)])])[0].first)
            #expect(try row.decode(2, as: Int.self) == 5)
        }
    }
}
