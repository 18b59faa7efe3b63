// PostgresPool against the real server: warm minimum, the maximum, acquire timeout, replacement
// of a lost connection, validation after idle, per-pool session settings, rollback of a
// transaction left open, close.

import Foundation
import Synchronization
import Testing
@testable import Postgres

@Suite struct PoolTests {
    func pool(min: Int = 0, max: Int = 2, acquireTimeout: Duration = .seconds(5), validateAfterIdle: Duration = .seconds(30),
              _ configure: (inout PostgresConfiguration) -> Void = { _ in }) throws -> PostgresPool {
        var connection = try PG.configuration
        configure(&connection)
        return PostgresPool(
            configuration: .init(connection: connection, minConnections: min, maxConnections: max,
                                 acquireTimeout: acquireTimeout, validateAfterIdle: validateAfterIdle),
            logger: PG.logger)
    }

    @Test func warmsUpTheMinimumAndReusesConnections() async throws {
        let pool = try pool(min: 2, max: 3)
        try await pool.warmUp()
        #expect(pool.statistics == .init(idle: 2, leased: 0, opening: 0, waiting: 0))
        let first = try await pool.withConnection { $0.backendPID }
        let second = try await pool.withConnection { $0.backendPID }
        #expect(first == second)  // most recently used comes back
        #expect(pool.statistics.idle == 2)
        await pool.close()
        #expect(pool.statistics.idle == 0)
    }

    @Test func neverExceedsTheMaximum() async throws {
        let pool = try pool(max: 2)
        final class Tally: Sendable {
            let pids = Mutex<Set<Int32>>([])
            let peak = Mutex<(now: Int, max: Int)>((0, 0))
        }
        let tally = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await pool.withConnection { conn in
                        tally.peak.withLock { $0.now += 1; $0.max = Swift.max($0.max, $0.now) }
                        tally.pids.withLock { _ = $0.insert(conn.backendPID) }
                        try await conn.simpleQuery("SELECT pg_sleep(0.05)")
                        tally.peak.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(tally.peak.withLock { $0.max } <= 2)
        #expect(tally.pids.withLock { $0.count } <= 2)
        #expect(pool.statistics.leased == 0 && pool.statistics.idle <= 2)
        await pool.close()
    }

    @Test func acquireTimesOutWhenAllAreBusy() async throws {
        let pool = try pool(max: 1, acquireTimeout: .milliseconds(300))
        let held = try await pool.acquire()
        let (error, took) = await elapsed { await expectPostgresError { _ = try await pool.acquire() } }
        #expect(error?.code == .poolTimeout)
        #expect(took >= .milliseconds(250))
        #expect(took < .seconds(5))
        #expect(pool.statistics.waiting == 0)
        await pool.release(held)
        // Released: the next acquire gets it at once.
        #expect(try await pool.withConnection { $0.backendPID } == held.backendPID)
        await pool.close()
    }

    @Test func waiterGetsTheReleasedConnection() async throws {
        let pool = try pool(max: 1)
        let held = try await pool.acquire()
        async let waiting: Int32 = pool.withConnection { $0.backendPID }
        while pool.statistics.waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
        await pool.release(held)
        #expect(try await waiting == held.backendPID)
        await pool.close()
    }

    @Test func lostConnectionIsDiscardedAndReplaced() async throws {
        let pool = try pool(max: 1)
        let killer = try await PG.connect()
        let firstPID = try await pool.withConnection { $0.backendPID }
        let e = try #require(await expectPostgresError {
            try await pool.withConnection { conn in
                try await killer.execute("SELECT pg_terminate_backend($1::int)", [.int(Int(conn.backendPID))])
                _ = try await conn.query("SELECT pg_sleep(0.1)")
            }
        })
        #expect(e.isConnectionError)
        #expect(pool.statistics == .init(idle: 0, leased: 0, opening: 0, waiting: 0))
        let secondPID = try await pool.withConnection { conn in
            try await conn.query("SELECT pg_backend_pid()").first!.decode(0, as: Int32.self)
        }
        #expect(secondPID != firstPID)
        await killer.close()
        await pool.close()
    }

    @Test func idleConnectionsAreValidatedBeforeUse() async throws {
        let pool = try pool(max: 1, validateAfterIdle: .zero)
        let killer = try await PG.connect()
        let firstPID = try await pool.withConnection { $0.backendPID }
        try await killer.execute("SELECT pg_terminate_backend($1::int)", [.int(Int(firstPID))])
        try await Task.sleep(for: .milliseconds(50))
        // The dead idle connection fails `SELECT 1` and is replaced before the body runs.
        let secondPID = try await pool.withConnection { conn in
            try await conn.query("SELECT pg_backend_pid()").first!.decode(0, as: Int32.self)
        }
        #expect(secondPID != firstPID)
        await killer.close()
        await pool.close()
    }

    @Test func sessionSettingsApplyToPooledConnections() async throws {
        let pool = try pool(max: 1) {
            $0.statementTimeout = .milliseconds(4321)
            $0.lockTimeout = .seconds(2)
            $0.applicationName = "sluice-pool-test"
        }
        let settings = try await pool.withConnection { conn in
            let t = try await conn.query("SHOW statement_timeout").first!.decode(0, as: String.self)
            let l = try await conn.query("SHOW lock_timeout").first!.decode(0, as: String.self)
            let a = try await conn.query("SHOW application_name").first!.decode(0, as: String.self)
            return [t, l, a]
        }
        #expect(settings == ["4321ms", "2s", "sluice-pool-test"])
        await pool.close()
    }

    @Test func openTransactionIsRolledBackOnRelease() async throws {
        let pool = try pool(max: 1)
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await pool.withConnection { conn in
                try await conn.simpleQuery("BEGIN")
                throw Boom()
            }
        }
        let inTx = try await pool.withConnection { $0.isInTransaction }
        #expect(!inTx)
        await pool.close()
    }

    @Test func closeFailsWaitersAndLaterAcquires() async throws {
        let pool = try pool(max: 1)
        let held = try await pool.acquire()
        async let waiter: PostgresError? = expectPostgresError { _ = try await pool.acquire() }
        while pool.statistics.waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
        await pool.close()
        #expect(await waiter?.code == .poolClosed)
        #expect(await expectPostgresError { _ = try await pool.acquire() }?.code == .poolClosed)
        await pool.release(held)
        #expect(held.isBroken)  // closed on release
        #expect(pool.statistics == .init(idle: 0, leased: 0, opening: 0, waiting: 0))
    }

    @Test func runKeepsTheMinimumAndPrunesIdleConnections() async throws {
        var connection = try PG.configuration
        connection.applicationName = "sluice-pool-run"
        let pool = PostgresPool(
            configuration: .init(connection: connection, minConnections: 1, maxConnections: 3,
                                 idleTimeout: .milliseconds(100), healthCheckInterval: .milliseconds(50)),
            logger: PG.logger)
        // Three at once, then all idle.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask { try await pool.withConnection { _ = try await $0.simpleQuery("SELECT pg_sleep(0.05)") } }
            }
            try await group.waitForAll()
        }
        #expect(pool.statistics.idle >= 2)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await pool.run() }
            let deadline = ContinuousClock.now + .seconds(5)
            while pool.statistics.idle != 1 && ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
        #expect(pool.statistics == .init(idle: 1, leased: 0, opening: 0, waiting: 0))
        await pool.close()
    }

    @Test func connectFailureSurfacesToTheCaller() async throws {
        let unused = try LocalPort(listening: false)
        let pool = try pool(max: 1) {
            $0.host = "127.0.0.1"
            $0.port = unused.port
        }
        let e = try #require(await expectPostgresError { try await pool.withConnection { _ in } })
        #expect(e.code == .connectionFailed)
        #expect(e.connectFailure == .connectionRefused)
        #expect(pool.statistics == .init(idle: 0, leased: 0, opening: 0, waiting: 0))
        await pool.close()
    }
}
