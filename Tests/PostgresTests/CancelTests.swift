// Cancelling running statements (cancel() from another task, Swift task cancellation) and
// losing the connection mid-statement (the backend terminated from a second connection).

import Foundation
import Testing
@testable import Postgres

@Suite struct CancelTests {
    /// Waits until `pid` runs a statement containing `marker`.
    func waitUntilRunning(_ pid: Int32, marker: String, via observer: PostgresConnection) async throws {
        for _ in 0..<200 {
            let active = try await observer.query(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::int AND state = 'active' AND query LIKE '%' || $2 || '%'",
                [.int(Int(pid)), .text(marker)])
            if try active.first?.decode(0, as: Int.self) == 1 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("backend \(pid) never started the statement")
    }

    @Test func cancelStopsARunningStatement() async throws {
        let conn = try await PG.connect()
        let observer = try await PG.connect()
        async let outcome: PostgresError? = expectPostgresError { _ = try await conn.query("SELECT pg_sleep(30) -- cancel-me") }
        try await waitUntilRunning(conn.backendPID, marker: "cancel-me", via: observer)
        let start = ContinuousClock.now
        conn.cancel()
        let e = try #require(await outcome)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(e.code == .cancelled)
        #expect(e.sqlState == PostgresError.queryCanceled)
        #expect(e.isCancellation)
        #expect(!conn.isBroken)
        #expect(try await conn.query("SELECT 2").first?.decode(0, as: Int.self) == 2)
        conn.cancel()  // nothing running: no effect
        #expect(try await conn.query("SELECT 3").first?.decode(0, as: Int.self) == 3)
        await conn.close()
        await observer.close()
    }

    @Test func taskCancellationCancelsTheStatement() async throws {
        let conn = try await PG.connect()
        let task = Task { try await conn.query("SELECT pg_sleep(30)") }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(throws: PostgresError.self) { try result.get() }
        if case .failure(let e as PostgresError) = result { #expect(e.code == .cancelled) }
        #expect(try await conn.query("SELECT 1").count == 1)

        // A task cancelled before the statement starts never runs it.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await conn.query("SELECT pg_sleep(30)")
        }
        let r = await early.result
        if case .failure(let e as PostgresError) = r { #expect(e.code == .cancelled) } else { Issue.record("expected cancellation") }
        await conn.close()
    }

    @Test func statementTimeoutIsAServerError() async throws {
        let conn = try await PG.connect { $0.statementTimeout = .milliseconds(100) }
        let e = try #require(await expectPostgresError { _ = try await conn.query("SELECT pg_sleep(5)") })
        #expect(e.code == .server)
        #expect(e.sqlState == PostgresError.queryCanceled)
        #expect(e.isCancellation)
        await conn.close()
    }

    @Test func terminatedBackendIsAConnectionLoss() async throws {
        let victim = try await PG.connect()
        let killer = try await PG.connect()
        async let outcome: PostgresError? = expectPostgresError { _ = try await victim.query("SELECT pg_sleep(30) -- terminate-me") }
        try await waitUntilRunning(victim.backendPID, marker: "terminate-me", via: killer)
        #expect(try await killer.query("SELECT pg_terminate_backend($1::int)", [.int(Int(victim.backendPID))]).first?.decode(0, as: Bool.self) == true)
        let e = try #require(await outcome)
        #expect(e.code == .connectionLost)
        #expect(e.sqlState == nil || e.sqlState == PostgresError.adminShutdown)
        #expect(e.isConnectionError)
        #expect(victim.isBroken)
        let next = try #require(await expectPostgresError { _ = try await victim.query("SELECT 1") })
        #expect(next.isConnectionError)
        await victim.close()
        await killer.close()
    }
}
