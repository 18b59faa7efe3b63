// Statements against the real server: binding and decoding round trips of every type,
// NULL handling, server error fields, transactions, notices, simple-protocol scripts.

import Foundation
import Logging
import Testing
@testable import Postgres

@Suite struct QueryTests {
    static let trickyStrings = [
        "", "plain", "it's \"quoted\"", "back\\slash \\\\ two", "tab\tnew\nline\r", "unicode é 中文 🦊",
        "NULL", "null", "{braces},commas", " leading and trailing ", "\\N", "$1 not a param", "\u{7F}\u{1}",
    ]

    @Test func scalarRoundTrips() async throws {
        try await PG.withConnection { conn in
            for s in Self.trickyStrings {
                let row = try #require(try await conn.query("SELECT $1::text, $1 IS NULL, length($1)", [.text(s)]).first)
                #expect(try row.decode(0, as: String.self) == s)
                #expect(try row.decode(1, as: Bool.self) == false)
                #expect(try row.decode(2, as: Int.self) == s.count)
            }
            // Empty string and NULL stay distinct.
            let empty = try #require(try await conn.query("SELECT $1::text, $2::text", [.text(""), .null]).first)
            #expect(try empty.decode(0, as: String?.self) == "")
            #expect(try empty.decode(1, as: String?.self) == nil)

            for i in [0, 1, -1, Int.max, Int.min, 42] {
                #expect(try await conn.query("SELECT $1", [.int(i)]).first?.decode(0, as: Int.self) == i)
            }
            for d in [0.0, -0.5, 1e-300, 1.7976931348623157e308, 0.1, 123456.789, .infinity, -.infinity] {
                #expect(try await conn.query("SELECT $1", [.double(d)]).first?.decode(0, as: Double.self) == d)
            }
            #expect(try await conn.query("SELECT $1", [.double(.nan)]).first?.decode(0, as: Double.self).isNaN == true)
            for b in [true, false] {
                #expect(try await conn.query("SELECT $1, NOT $1", [.bool(b)]).first?.decode(1, as: Bool.self) == !b)
            }
            let uuid = UUID()
            #expect(try await conn.query("SELECT $1", [.uuid(uuid)]).first?.decode(0, as: UUID.self) == uuid)
            #expect(try await conn.query("SELECT $1::uuid::text", [.uuid(uuid)]).first?.decode(0, as: String.self) == uuid.uuidString.lowercased())

            let allBytes = (0...255).map { UInt8($0) }
            for bytes in [allBytes, [], [0]] {
                let row = try #require(try await conn.query("SELECT $1, length($1)", [.bytes(bytes)]).first)
                #expect(try row.decode(0, as: [UInt8].self) == bytes)
                #expect(try row.decode(1, as: Int.self) == bytes.count)
            }

            let json = #"{"a": [1, "two", null], "q": "it's \"x\""}"#
            let jrow = try #require(try await conn.query("SELECT $1 -> 'a' ->> 1, $1::text", [.json(json)]).first)
            #expect(try jrow.decode(0, as: String.self) == "two")
            #expect(try jrow.decode(1, as: String.self).contains("it's"))
        }
    }

    @Test func timestampsRoundTripWithMicroseconds() async throws {
        try await PG.withConnection { conn in
            for micros in [0, 1_700_000_000_123_456, -1, 946_684_800_000_001, -30_610_224_000_000_000] {
                let date = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
                let row = try #require(try await conn.query(
                    "SELECT $1, (extract(epoch FROM $1) * 1000000)::bigint, $1::timestamp, $1::date", [.timestamp(date)]).first)
                let back = try row.decode(0, as: Date.self)
                #expect(Int((back.timeIntervalSince1970 * 1_000_000).rounded()) == micros)
                #expect(try row.decode(1, as: Int.self) == micros)
                #expect(try row.decode(2, as: Date.self) == back)
                let day = try row.decode(3, as: Date.self)
                #expect(Int(day.timeIntervalSince1970) == Int((Double(micros) / 86_400_000_000).rounded(.down)) * 86_400)
            }
            // Any session TimeZone decodes to the same instant.
            try await conn.simpleQuery("SET TimeZone = 'Asia/Kolkata'")
            let row = try #require(try await conn.query("SELECT '2024-01-02 03:04:05.123456+05:30'::timestamptz, '2024-01-01 21:34:05.123456+00'::timestamptz::text").first)
            #expect(try row.decode(1, as: String.self) == "2024-01-02 03:04:05.123456+05:30")
            #expect(Int((try row.decode(0, as: Date.self).timeIntervalSince1970 * 1e6).rounded()) == 1_704_144_845_123_456)
            let inf = try #require(try await conn.query("SELECT 'infinity'::timestamptz, '-infinity'::timestamptz").first)
            #expect(try inf.decode(0, as: Date.self) == .distantFuture)
            #expect(try inf.decode(1, as: Date.self) == .distantPast)
        }
    }

    @Test func arraysRoundTrip() async throws {
        try await PG.withConnection { conn in
            let texts: [String?] = Self.trickyStrings + [nil, "a,b", "\"", "{", "}"]
            let row = try #require(try await conn.query(
                "SELECT $1, cardinality($1), $1[\(texts.count)] IS NULL, $1[7]", [.textArray(texts)]).first)
            #expect(try row.decode(0, as: [String?].self) == texts)
            #expect(try row.decode(1, as: Int.self) == texts.count)
            #expect(try row.decode(2, as: Bool.self) == false)
            #expect(try row.decode(3, as: String.self) == "NULL")  // the string, not SQL NULL
            let withNull = try #require(try await conn.query("SELECT $1", [.textArray(["x", nil])]).first)
            #expect(try withNull.decode(0, as: [String?].self) == ["x", nil])
            let e = try #require(await expectPostgresError { _ = try withNull.decode(0, as: [String].self) })
            #expect(e.code == .decoding)

            let ints: [Int?] = [1, nil, -3, Int.max, Int.min]
            let irow = try #require(try await conn.query("SELECT $1, $1::int8[]::text", [.intArray(ints)]).first)
            #expect(try irow.decode(0, as: [Int?].self) == ints)
            #expect(try await conn.query("SELECT $1", [.intArray([4, 5])]).first?.decode(0, as: [Int].self) == [4, 5])
            #expect(try await conn.query("SELECT $1", [.textArray([])]).first?.decode(0, as: [String].self) == [])
            let typed = try #require(try await conn.query("SELECT ARRAY[1,2]::int4[], ARRAY[true,false], ARRAY[1.5,2]::float8[], ARRAY[$1::uuid]", [.uuid(UUID(uuidString: "00000000-0000-0000-0000-000000000000")!)]).first)
            #expect(try typed.decode(0, as: [Int32].self) == [1, 2])
            #expect(try typed.decode(1, as: [Bool].self) == [true, false])
            #expect(try typed.decode(2, as: [Double].self) == [1.5, 2])
            #expect(try typed.decode(3, as: [UUID].self) == [UUID(uuidString: "00000000-0000-0000-0000-000000000000")!])
        }
    }

    @Test func tableColumnsDecodeByType() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("""
                CREATE TABLE t (id int PRIMARY KEY, small smallint, big bigint, n numeric, r real, name text,
                  v varchar(20), flag boolean, at timestamptz, d date, u uuid, b bytea, j jsonb, tags text[], nums int[])
                """)
            let now = Date(timeIntervalSince1970: 1_750_000_000.654321)
            let u = UUID()
            let inserted = try await conn.execute(
                "INSERT INTO t VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
                [1, 7, .int(1 << 40), "12.50", 0.25, "héllo", "v", true, .timestamp(now), "2024-02-29", .uuid(u),
                 .bytes([1, 2, 3]), .init(json: #"{"k": 1}"#), .init(["x", "y z"]), .init([1, 2])])
            #expect(inserted == 1)
            #expect(try await conn.execute("INSERT INTO t (id) VALUES ($1), ($2)", [2, 3]) == 2)

            let rows = try await conn.query("SELECT * FROM t ORDER BY id")
            #expect(rows.count == 3)
            #expect(rows.columns.first == "id" && rows.columns.last == "nums")
            let r = rows[0]
            #expect(try r["small", as: Int16.self] == 7)
            #expect(try r["big", as: Int64.self] == 1 << 40)
            #expect(try r["n", as: Double.self] == 12.5)
            #expect(try r["n", as: String.self] == "12.50")
            #expect(try r["r", as: Double.self] == 0.25)
            #expect(try r["name", as: String.self] == "héllo")
            #expect(try r["flag", as: Bool.self])
            #expect(abs(try r["at", as: Date.self].timeIntervalSince(now)) < 0.000_001)
            #expect(try r["d", as: Date.self] == Date(timeIntervalSince1970: 1_709_164_800))
            #expect(try r["u", as: UUID.self] == u)
            #expect(try r["b", as: [UInt8].self] == [1, 2, 3])
            #expect(try r["j", as: String.self] == #"{"k": 1}"#)
            #expect(try r["tags", as: [String].self] == ["x", "y z"])
            #expect(try r["nums", as: [Int].self] == [1, 2])

            // NULLs: nil for optionals, a typed error naming the column otherwise.
            let n = rows[1]
            #expect(try n["name", as: String?.self] == nil)
            #expect(try n["at", as: Date?.self] == nil)
            #expect(try n["b", as: [UInt8]?.self] == nil)
            #expect(try n["tags", as: [String]?.self] == nil)
            let e = try #require(await expectPostgresError { _ = try n["flag", as: Bool.self] })
            #expect(e.code == .decoding)
            #expect(e.column == "flag")
            #expect(e.row == 2)
            #expect(e.description.contains("flag"))

            // Wrong types and names are typed errors too.
            #expect(await expectPostgresError { _ = try r["name", as: Int.self] }?.code == .decoding)
            #expect(await expectPostgresError { _ = try r["name", as: Bool.self] }?.code == .decoding)
            #expect(await expectPostgresError { _ = try r["name", as: [UInt8].self] }?.code == .decoding)
            #expect(await expectPostgresError { _ = try r["missing", as: Int.self] }?.code == .decoding)
            #expect(await expectPostgresError { _ = try r.decode(99, as: Int.self) }?.code == .decoding)
            #expect(await expectPostgresError { _ = try r["big", as: Int16.self] }?.code == .decoding)

            #expect(try await conn.execute("UPDATE t SET name = $1 WHERE id >= $2", ["z", 2]) == 2)
            let del = try await conn.query("DELETE FROM t WHERE id = $1", [3])
            #expect(del.affectedRows == 1 && del.commandTag == "DELETE 1")
        }
    }

    @Test func badBindsAreTypedErrors() async throws {
        try await PG.withConnection { conn in
            let e = try #require(await expectPostgresError { _ = try await conn.query("SELECT $1::text, $2::text", ["ok", .text("nul\u{0}inside")]) })
            #expect(e.code == .invalidValue)
            #expect(e.parameter == 2)
            #expect(!e.description.contains("inside"))
            // The server's own rejection of a value does not print it either.
            let s = try #require(await expectPostgresError { _ = try await conn.query("SELECT $1::int", ["secret-value"]) })
            #expect(s.code == .server && s.sqlState == "22P02")
            #expect(!s.description.contains("secret-value"))
            #expect(try await conn.query("SELECT 1").first?.decode(0, as: Int.self) == 1)
        }
    }

    @Test func serverErrorsCarryTheirFields() async throws {
        try await PG.withSchema { conn, schema in
            try await conn.simpleQuery("CREATE TABLE items (id int CONSTRAINT items_pk PRIMARY KEY, name text NOT NULL)")
            try await conn.execute("INSERT INTO items VALUES ($1, $2)", [1, "a"])
            let dup = try #require(await expectPostgresError { try await conn.execute("INSERT INTO items VALUES ($1, $2)", [1, "b"]) })
            #expect(dup.code == .server)
            #expect(dup.sqlState == PostgresError.uniqueViolation)
            #expect(dup.schema == schema)
            #expect(dup.table == "items")
            #expect(dup.constraint == "items_pk")
            #expect(dup.severity == "ERROR")
            #expect(dup.detail?.contains("(1)") == true)
            #expect(!dup.description.contains("(1)"))
            #expect(dup.description.contains("items_pk"))
            #expect(dup.endpoint != nil)

            let notNull = try #require(await expectPostgresError { try await conn.execute("INSERT INTO items VALUES (2, NULL)") })
            #expect(notNull.sqlState == PostgresError.notNullViolation)
            #expect(notNull.column == "name")

            let missing = try #require(await expectPostgresError { _ = try await conn.query("SELECT * FROM no_such_table") })
            #expect(missing.sqlState == PostgresError.undefinedTable)
            #expect(missing.description.contains("no_such_table"))

            let syntax = try #require(await expectPostgresError { _ = try await conn.query("SELEC 1") })
            #expect(syntax.sqlState == "42601")
            #expect(!conn.isBroken)
        }
    }

    @Test func transactionsCommitAndRollBack() async throws {
        try await PG.withSchema { conn, _ in
            try await conn.simpleQuery("CREATE TABLE t (id int PRIMARY KEY)")
            let value = try await conn.withTransaction { tx in
                try await tx.execute("INSERT INTO t VALUES ($1)", [1])
                #expect(tx.isInTransaction)
                return "done"
            }
            #expect(value == "done")
            #expect(!conn.isInTransaction)

            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await conn.withTransaction { tx in
                    try await tx.execute("INSERT INTO t VALUES ($1)", [2])
                    throw Boom()
                }
            }
            #expect(!conn.isInTransaction)

            // A failed statement whose error is swallowed makes COMMIT a rollback: reported.
            let e = try #require(await expectPostgresError {
                try await conn.withTransaction { tx in
                    try await tx.execute("INSERT INTO t VALUES ($1)", [3])
                    _ = try? await tx.execute("INSERT INTO t VALUES ($1)", [1])
                }
            })
            #expect(e.code == .transactionRolledBack)

            // Isolation level through `begin`.
            let level = try await conn.withTransaction(begin: "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY") { tx in
                try await tx.query("SHOW transaction_isolation").first!.decode(0, as: String.self)
            }
            #expect(level == "serializable")

            // Task cancellation rolls back.
            let task = Task {
                try await conn.withTransaction { tx in
                    try await tx.execute("INSERT INTO t VALUES ($1)", [4])
                    try await tx.simpleQuery("SELECT pg_sleep(30)")
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            let result = await task.result
            #expect(throws: PostgresError.self) { try result.get() }
            #expect(!conn.isInTransaction)

            let ids = try await conn.query("SELECT id FROM t ORDER BY id").map { try $0.decode(0, as: Int.self) }
            #expect(ids == [1])
        }
    }

    @Test func noticesAreCapturedAndLogged() async throws {
        let (logger, store) = CapturingLogHandler.logger()
        var config = try PG.configuration
        let schema = "pgt_notice_\(UInt32.random(in: 0...UInt32.max))"
        config.settings["client_min_messages"] = "debug1"
        let conn = try await PostgresConnection.connect(config, logger: logger)
        let rows = try await conn.simpleQuery("""
            DO $$ BEGIN
              RAISE NOTICE 'hello %', 42;
              RAISE WARNING 'careful' USING ERRCODE = '01000', HINT = 'look';
            END $$
            """)
        #expect(rows.notices.map(\.message) == ["hello 42", "careful"])
        #expect(rows.notices.map(\.severity) == ["NOTICE", "WARNING"])
        #expect(rows.notices.last?.sqlState == "01000")
        #expect(rows.notices.last?.hint == "look")
        let entries = store.all.filter { $0.message.contains("careful") }
        #expect(entries.first?.level == .warning)
        #expect(entries.first?.metadata["db.sqlstate"] == "01000")
        #expect(entries.first?.metadata["db.endpoint"] == config.endpoint)
        #expect(entries.first?.metadata["db.backend_pid"] == "\(conn.backendPID)")

        // The next statement starts with no notices; VACUUM VERBOSE reports through INFO notices.
        #expect(try await conn.query("SELECT 1").notices.isEmpty)
        try await conn.simpleQuery("CREATE SCHEMA \(schema); CREATE TABLE \(schema).v (x int); INSERT INTO \(schema).v SELECT generate_series(1, 100)")
        let vacuum = try await conn.simpleQuery("VACUUM (VERBOSE) \(schema).v")
        #expect(vacuum.commandTag == "VACUUM")
        #expect(vacuum.notices.contains { $0.severity == "INFO" && $0.message.contains("vacuuming") })
        try await conn.simpleQuery("DROP SCHEMA \(schema) CASCADE")
        await conn.close()
    }

    @Test func simpleQueryRunsScriptsAndNonTransactionalStatements() async throws {
        try await PG.withSchema { conn, schema in
            let last = try await conn.simpleQuery("CREATE TABLE a (x int); INSERT INTO a VALUES (1), (2); SELECT count(*) FROM a")
            #expect(try last.first?.decode(0, as: Int.self) == 2)
            try await conn.simpleQuery("CREATE INDEX CONCURRENTLY a_x ON a (x)")
            try await conn.simpleQuery("REINDEX INDEX CONCURRENTLY \(PostgresIdentifier.quote(schema: schema, "a_x"))")
            let e = try #require(await expectPostgresError {
                try await conn.withTransaction { tx in _ = try await tx.simpleQuery("VACUUM a") }
            })
            #expect(e.sqlState == PostgresError.activeSQLTransaction)
            #expect(try await conn.simpleQuery("").commandTag == "")
        }
    }
}
