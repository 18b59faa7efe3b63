// Connection failures: refused, timeouts against a listener that never answers, AUTH on a private
// server with a password, and a private server that dies mid-use and comes back.

import TestSupport
import ClientSupport
import Redis
import Testing

@Suite struct RedisFailureTests {
    @Test func refusedNamesTheEndpointNotThePassword() async throws {
        let port = try freeLoopbackPort()
        let config = try RedisConfiguration(url: "redis://:hunter2-secret@127.0.0.1:\(port)/0")
        let error = await redisError { _ = try await RedisConnection.connect(configuration: config) }
        #expect(error?.code == .connectionFailed)
        #expect(error?.endpoint == "127.0.0.1:\(port)")
        #expect(error?.description.contains("127.0.0.1:\(port)") == true)
        #expect(error?.description.lowercased().contains("refused") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func listenerThatNeverAnswersTimesOutTheHandshake() async throws {
        let blackhole = try BlackholeListener(fullBacklog: false)
        var config = RedisConfiguration(port: blackhole.port, password: "hunter2-secret")
        config.commandTimeout = .milliseconds(300)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await redisError { _ = try await RedisConnection.connect(configuration: config) }
        let elapsed = clock.now - start
        #expect(error?.code == .timeout)
        #expect(error?.message.contains("handshake") == true)
        #expect(error?.description.contains("hunter2") == false)
        #expect(elapsed >= .milliseconds(250))
        #expect(elapsed < .seconds(5))
        _ = blackhole
    }

    @Test func connectTimesOutWhenSYNsAreDropped() async throws {
        let blackhole = try BlackholeListener(fullBacklog: true)
        var config = RedisConfiguration(port: blackhole.port)
        config.connectTimeout = .milliseconds(300)
        config.commandTimeout = .milliseconds(300)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await redisError { _ = try await RedisConnection.connect(configuration: config) }
        let elapsed = clock.now - start
        // With the accept queue full the kernel drops the SYN, so the TCP connect itself times out.
        #expect(error?.code == .timeout)
        #expect(elapsed < .seconds(5))
        _ = blackhole
    }

    @Test func commandTimeoutBreaksTheConnection() async throws {
        // BLPOP blocks longer than the command timeout: this is why blocking reads need
        // RedisBlockingConnection.
        var config = try Shared.configuration()
        config.commandTimeout = .milliseconds(300)
        let redis = try await RedisConnection.connect(configuration: config)
        let keys = KeySpace("cut")
        let error = await redisError { try await redis.send("BLPOP", keys.key("never"), 3) }
        #expect(error?.code == .timeout)
        #expect(redis.isBroken)
        let again = await redisError { try await redis.send("PING") }
        #expect(again?.code == .timeout)
        await redis.close()
    }

    @Test func authenticationOnAPrivateServer() async throws {
        let password = "s3cr3t-redis-pw"
        let server = try PrivateRedisServer(["--requirepass", password])
        defer { server.stop() }

        let good = try RedisConfiguration(url: "redis://:\(password)@127.0.0.1:\(server.port)/1")
        let redis = try await RedisConnection.connect(configuration: good)
        #expect(try await redis.send("ACL", "WHOAMI").string == "default")
        #expect(try await redis.send("CLIENT", "INFO").string?.contains(" db=1 ") == true)

        let wrong = try RedisConfiguration(url: "redis://:not-the-pw-xyz@127.0.0.1:\(server.port)")
        let wrongError = await redisError { _ = try await RedisConnection.connect(configuration: wrong) }
        #expect(wrongError?.code == .authenticationFailed)
        #expect(wrongError?.message.contains("WRONGPASS") == true)
        #expect(wrongError?.description.contains("not-the-pw-xyz") == false)
        #expect(wrongError?.description.contains(password) == false)

        // No password at all: the server answers NOAUTH to the handshake.
        let none = RedisConfiguration(port: server.port)
        let noneError = await redisError { _ = try await RedisConnection.connect(configuration: none) }
        #expect(noneError?.code == .authenticationFailed)
        #expect(noneError?.message.contains("NOAUTH") == true)

        // An ACL user (AUTH username password).
        try await redis.send("ACL", "SETUSER", "sluice_app", "on", ">app-pw-123", "~*", "+@all")
        let user = try RedisConfiguration(url: "redis://sluice_app:app-pw-123@127.0.0.1:\(server.port)")
        let asUser = try await RedisConnection.connect(configuration: user)
        #expect(try await asUser.send("ACL", "WHOAMI").string == "sluice_app")
        await asUser.close()
        let badUser = try RedisConfiguration(url: "redis://sluice_app:wrong-pw-456@127.0.0.1:\(server.port)")
        let badUserError = await redisError { _ = try await RedisConnection.connect(configuration: badUser) }
        #expect(badUserError?.code == .authenticationFailed)
        #expect(badUserError?.description.contains("wrong-pw-456") == false)
        await redis.close()
    }

    @Test func serverDiesMidUseAndComesBack() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        var config = try RedisConfiguration(url: server.url)
        config.connectTimeout = .seconds(1)
        config.commandTimeout = .seconds(20)
        config.clientName = "sluice-test-pool-crash"
        // A fixed one-second backoff (no jitter) so the test can step through the window.
        let pool = RedisPool(configuration: RedisPoolConfiguration(
            connection: config, size: 2, acquireTimeout: .seconds(2),
            reconnectBackoff: Backoff(base: .seconds(1), cap: .seconds(1), jitter: 0)))
        let admin = try await RedisConnection.connect(configuration: RedisConfiguration(url: server.url))

        // Two connections open (nested leases), both idle afterwards.
        try await pool.withConnection { first in
            try await pool.withConnection { second in
                try await first.send("SET", "k", "v")
                #expect(try await second.send("GET", "k").string == "v")
            }
        }
        #expect(pool.openConnections == 2)

        // Kill the server while a pooled connection is inside a command (blocked in BLPOP).
        async let blocked = redisError { _ = try await pool.send("BLPOP", "queue", 15) }
        try await waitUntilBlocked(name: "sluice-test-pool-crash", admin: admin)
        server.kill()
        let lost = await blocked
        #expect(lost?.code == .connectionLost)
        // Both connections were discarded (the idle one belonged to the dead server too).
        #expect(pool.openConnections == 0)
        await admin.close()

        // Redis is down: one connect attempt fails, then calls fail fast inside the backoff window.
        let refused = await redisError { try await pool.send("PING") }
        #expect(refused?.code == .connectionFailed)
        let clock = ContinuousClock()
        let start = clock.now
        let fast = await redisError { try await pool.send("PING") }
        #expect(fast?.code == .unavailable)
        #expect(fast?.message.contains("last error") == true)
        #expect(clock.now - start < .milliseconds(500))

        // Redis comes back on the same port; after the backoff window the next call succeeds.
        try server.start()
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await pool.send("PING") == .simpleString("PONG"))
        #expect(try await pool.send("GET", "k") == .bulkString(nil)) // a fresh, empty server
        await pool.close()
    }

    @Test func idleConnectionsSurviveARestart() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let config = try RedisConfiguration(url: server.url)
        let pool = RedisPool(connection: config, size: 2)
        try await pool.withConnection { first in
            try await pool.withConnection { second in
                try await first.send("PING")
                try await second.send("PING")
            }
        }
        #expect(pool.openConnections == 2)
        let single = try await RedisConnection.connect(configuration: config)

        // Restart while everything is idle: no call sees the server down.
        server.kill()
        try server.start()

        // The stale connection is found before anything is sent, so the pool retries on a
        // fresh connection and the first call after the restart succeeds.
        #expect(try await pool.send("SET", "after", "restart") == .simpleString("OK"))
        #expect(pool.openConnections == 1)

        // A bare connection cannot reconnect by itself: it reports the loss, naming that the
        // command was not sent.
        let error = await redisError { try await single.send("PING") }
        #expect(error?.code == .connectionLost)
        #expect(error?.message.contains("not sent") == true)
        #expect(single.isBroken)
        await pool.close()
    }

    @Test func blockedReaderSeesTheCrashAndReconnects() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        var config = try RedisConfiguration(url: server.url)
        config.clientName = "sluice-test-crash-reader"
        let reader = RedisBlockingConnection(configuration: config)
        let admin = try await RedisConnection.connect(configuration: RedisConfiguration(url: server.url))

        async let popped = redisError { _ = try await reader.blpop(["queue"], timeout: .seconds(30)) }
        try await waitUntilBlocked(name: "sluice-test-crash-reader", admin: admin)
        server.kill()
        let error = await popped
        #expect(error?.code == .connectionLost)
        await admin.close()

        try server.start()
        // The reader reconnects by itself on the next call (a lost connection is not a failed
        // connect, so there is no backoff to wait for).
        #expect(try await reader.send("PING") == .simpleString("PONG"))
        await reader.close()
    }
}

/// Waits until the client named `name` is blocked in a command on the server `admin` talks to.
func waitUntilBlocked(name: String, admin: some RedisClient) async throws {
    for _ in 0..<500 {
        let list = try await admin.send("CLIENT", "LIST").string ?? ""
        if list.split(whereSeparator: \.isNewline).contains(where: { $0.contains(" name=\(name) ") && $0.contains(" flags=b ") }) {
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("client \(name) never blocked")
}
