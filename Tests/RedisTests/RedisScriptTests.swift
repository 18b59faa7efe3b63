// Lua scripts: the local SHA-1, EVALSHA, and the NOSCRIPT fallback after SCRIPT FLUSH (on a
// private server: flushing the shared one would disturb other tests).

import TestSupport
import Redis
import Testing

@Suite struct RedisScriptTests {
    @Test func sha1KnownVectors() {
        func sha1(_ s: String) -> String { RedisScript(source: s).sha1 }
        #expect(sha1("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(sha1("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(sha1(String(repeating: "a", count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        // Lengths around the padding boundary, and UTF-8 text.
        #expect(sha1(String(repeating: "a", count: 55)) == "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        #expect(sha1(String(repeating: "a", count: 56)) == "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        #expect(sha1(String(repeating: "a", count: 64)) == "0098ba824b5c16427bd7a1122a5a442a25ec644d")
        #expect(sha1("h\u{e9}llo \u{2713}") == "b7c2a1aa52961195ac19331417a20a8b4f202ddb")
    }

    @Test func evalShaWithKeysAndArguments() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("script")
        let script = RedisScript(source: """
            redis.call('SET', KEYS[1], ARGV[1])
            return {redis.call('GET', KEYS[1]), tonumber(ARGV[2]) + 1, #ARGV[1]}
            """)
        // The server names the script with the same hash.
        #expect(try await redis.send("SCRIPT", "LOAD", script.source).string == script.sha1)
        let reply = try await redis.evalScript(script, keys: [.string(keys.key("a"))], args: [.bytes([0, 0xFF, 1]), 41])
        #expect(reply == .array([.bulkString([0, 0xFF, 1]), .integer(42), .integer(3)]))

        let failing = RedisScript(source: "return redis.error_reply('SLUICE_TEST broken on purpose')")
        let error = await redisError { try await redis.evalScript(failing) }
        #expect(error?.code == .server)
        #expect(error?.serverCode == "SLUICE_TEST")
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func noScriptFallsBackToEval() async throws {
        let server = try PrivateRedisServer()
        defer { server.stop() }
        let redis = try await RedisConnection.connect(configuration: RedisConfiguration(url: server.url))
        let script = RedisScript(source: "return 'sluice-' .. ARGV[1]")
        try await redis.send("SCRIPT", "FLUSH")
        #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(0)]))

        #expect(try await redis.evalScript(script, args: ["one"]).string == "sluice-one")
        // EVAL cached it: the next call is a plain EVALSHA.
        #expect(try await redis.send("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))
        #expect(try await redis.evalScript(script, args: ["two"]).string == "sluice-two")
        let stats = try #require(try await redis.send("INFO", "commandstats").string)
        #expect(stats.contains("cmdstat_eval:calls=1,"))
        #expect(stats.contains("cmdstat_evalsha:calls=2,"))

        // Flushed again: still works through the fallback.
        try await redis.send("SCRIPT", "FLUSH")
        #expect(try await redis.evalScript(script, args: ["three"]).string == "sluice-three")
        await redis.close()
    }
}
