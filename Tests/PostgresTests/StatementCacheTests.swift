// The statement cache against the real server: SQL run a second time is prepared once and then
// executed by name; a changed table is re-planned or re-prepared; the cache is bounded; size 0
// prepares nothing; a rolled-back transaction leaves prepared statements usable.

import Foundation
import Testing
@testable import Postgres

@Suite struct StatementCacheTests {
    /// The connection's own prepared statements (the server's view).
    static func prepared(_ conn: PostgresConnection) async throws -> [String] {
        try await conn.simpleQuery("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time").map {
            try $0.decode(0, as: String.self)
        }
    }

    @Test func aStatementRunTwiceIsPreparedOnceAndGivesTheSameRows() async throws {
        try await PG.withConnection { conn in
            let sql = "SELECT $1::int + 1, $2::text"
            #expect(try await conn.query(sql, [.int(1), .text("a")]).first?.decode(0, as: Int.self) == 2)
            #expect(try await Self.prepared(conn).isEmpty)  // a one-off costs nothing extra
            for i in 2...5 {
                let row = try #require(try await conn.query(sql, [.int(i), .text("b\(i)")]).first)
                #expect(try row.decode(0, as: Int.self) == i + 1)
                #expect(try row.decode(1, as: String.self) == "b\(i)")
            }
            #expect(try await Self.prepared(conn) == [sql])
            // NULL for a parameter keeps the key (types are the binds', not the values').
            #expect(try await conn.query(sql, [.int(9), .null]).first?.decode(1, as: String?.self) == nil)
            // Utility statements are never prepared.
            for _ in 0..<3 { _ = try await conn.query("SET application_name = 'cache-test'") }
            #expect(try await Self.prepared(conn) == [sql])
        }
    }

    @Test func aTableThatChangesShapeUnderAPreparedStatementIsReadAgain() async throws {
        try await PG.withConnection { conn in
            let table = "cache_shape_\(getpid())_\(Int.random(in: 0..<1_000_000))"
            _ = try await conn.simpleQuery("CREATE TEMP TABLE \(table) (a int); INSERT INTO \(table) VALUES (1)")
            let sql = "SELECT * FROM \(table) WHERE a = $1"
            for _ in 0..<3 { #expect(try await conn.query(sql, [.int(1)]).count == 1) }
            #expect(try await Self.prepared(conn) == [sql])
            _ = try await conn.simpleQuery("ALTER TABLE \(table) ADD COLUMN b text DEFAULT 'x'")
            let row = try #require(try await conn.query(sql, [.int(1)]).first)
            #expect(try row.decode(1, as: String.self) == "x")
            // Inside a transaction the refusal aborts it: the error reaches the caller, and the
            // statement is prepared afresh afterwards.
            for _ in 0..<2 { _ = try await conn.query(sql, [.int(1)]) }
            _ = try await conn.simpleQuery("ALTER TABLE \(table) ADD COLUMN c int DEFAULT 7")
            await #expect(throws: PostgresError.self) {
                try await conn.withTransaction { c in _ = try await c.query(sql, [.int(1)]) }
            }
            for _ in 0..<2 { #expect(try await conn.query(sql, [.int(1)]).first?.decode(2, as: Int.self) == 7) }
        }
    }

    @Test func theCacheIsBoundedAndSizeZeroPreparesNothing() async throws {
        let small = try await PG.connect { $0.statementCacheSize = 2 }
        for n in 1...4 {
            for _ in 0..<2 { #expect(try await small.query("SELECT \(n) + $1::int", [.int(0)]).first?.decode(0, as: Int.self) == n) }
        }
        let kept = try await Self.prepared(small)
        #expect(kept == ["SELECT 3 + $1::int", "SELECT 4 + $1::int"])
        await small.close()

        let off = try await PG.connect { $0.statementCacheSize = 0 }
        for _ in 0..<3 { _ = try await off.query("SELECT $1::int", [.int(1)]) }
        #expect(try await Self.prepared(off).isEmpty)
        await off.close()
        #expect(try PostgresConfiguration(url: "postgresql://u@h/d?statement_cache=0").statementCacheSize == 0)
        #expect(throws: (any Error).self) { try PostgresConfiguration(url: "postgresql://u@h/d?statement_cache=many") }
    }

    @Test func aRolledBackTransactionLeavesPreparedStatementsUsable() async throws {
        let conn = try await PG.connect()
        let sql = "SELECT $1::int * 2"
        let failed: Bool = await {
            do {
                try await conn.withTransaction { c in
                    for _ in 0..<2 { _ = try await c.query(sql, [.int(2)]) }
                    _ = try await c.query("SELECT 1/0", [])
                }
                return false
            } catch {
                return true
            }
        }()
        #expect(failed)
        #expect(try await conn.query(sql, [.int(21)]).first?.decode(0, as: Int.self) == 42)
        #expect(try await Self.prepared(conn) == [sql])
        await conn.close()
    }
}
