// RedisPool against the shared server: concurrency, waiting, acquire timeout, close.

import TestSupport
import ClientSupport
import Redis
import Testing

@Suite struct RedisPoolTests {
    @Test func manyTasksShareAFewConnections() async throws {
        let pool = RedisPool(connection: try Shared.configuration(), size: 3)
        let keys = KeySpace("pool")
        let counter = keys.key("counter")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<60 {
                group.addTask {
                    try await pool.send("INCR", counter)
                    _ = try await pool.pipeline([["SET", .string(keys.key("p\(i)")), .int(i)], ["GET", .string(keys.key("p\(i)"))]])
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.send("GET", counter).int == 60)
        #expect(pool.openConnections <= 3)
        #expect(pool.openConnections >= 1)
        await keys.cleanup(pool)
        await pool.close()
    }

    @Test func acquireTimesOutWhileTheOnlyConnectionIsHeld() async throws {
        let pool = RedisPool(configuration: RedisPoolConfiguration(
            connection: try Shared.configuration(), size: 1, acquireTimeout: .milliseconds(200)))
        try await pool.withConnection { held in
            let error = await redisError { try await pool.send("PING") }
            #expect(error?.code == .poolTimeout)
            let rtt = try await held.ping()
            #expect(rtt > .zero)
        }
        // Released: the next caller gets it.
        #expect(try await pool.send("PING").string == "PONG")
        #expect(pool.openConnections == 1)
        await pool.close()
    }

    @Test func waitersAreServedWhenAConnectionComesBack() async throws {
        let pool = RedisPool(configuration: RedisPoolConfiguration(
            connection: try Shared.configuration(), size: 1, acquireTimeout: .seconds(10)))
        let keys = KeySpace("waiters")
        // One connection, ten callers: each waits its turn.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    try await pool.withConnection { c in
                        try await c.send("INCR", keys.key("n"))
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await pool.send("GET", keys.key("n")).int == 10)
        #expect(pool.openConnections == 1)
        await keys.cleanup(pool)
        await pool.close()
    }

    @Test func aThrowingBodyReturnsTheConnection() async throws {
        struct Oops: Error {}
        let pool = RedisPool(connection: try Shared.configuration(), size: 1)
        await #expect(throws: Oops.self) {
            try await pool.withConnection { _ in throw Oops() }
        }
        #expect(pool.openConnections == 1)
        #expect(try await pool.send("PING").string == "PONG")
        await pool.close()
    }

    @Test func closedPoolRefusesWork() async throws {
        let pool = RedisPool(connection: try Shared.configuration(), size: 2)
        #expect(try await pool.send("PING").string == "PONG")
        await pool.close()
        #expect(pool.openConnections == 0)
        let error = await redisError { try await pool.send("PING") }
        #expect(error?.code == .poolClosed)
    }

    @Test func refusedServerBacksOff() async throws {
        let port = try freeLoopbackPort()
        let pool = RedisPool(configuration: RedisPoolConfiguration(
            connection: RedisConfiguration(port: port), size: 2,
            reconnectBackoff: Backoff(base: .seconds(30), cap: .seconds(30), jitter: 0)))
        let first = await redisError { try await pool.send("PING") }
        #expect(first?.code == .connectionFailed)
        // Inside the 30 s window every call fails at once, naming the cause.
        for _ in 0..<5 {
            let error = await redisError { try await pool.send("PING") }
            #expect(error?.code == .unavailable)
            #expect(error?.endpoint == "127.0.0.1:\(port)")
            #expect(error?.message.lowercased().contains("refused") == true)
        }
        #expect(pool.openConnections == 0)
        await pool.close()
    }

    @Test func scriptsThroughThePool() async throws {
        let pool = RedisPool(connection: try Shared.configuration(), size: 2)
        let keys = KeySpace("poolscript")
        let script = RedisScript(source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await pool.evalScript(script, keys: [.string(keys.key("n"))], args: [5]).int == 5)
        #expect(try await pool.evalScript(script, keys: [.string(keys.key("n"))], args: [-2]).int == 3)
        await keys.cleanup(pool)
        await pool.close()
    }
}
