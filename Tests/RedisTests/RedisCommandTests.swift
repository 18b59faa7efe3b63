// Commands against the shared server: binary safety, every reply type, hashes, streams, errors.

import Redis
import Testing

@Suite struct RedisCommandTests {
    @Test func binaryValuesRoundTrip() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("binary")
        var value: [UInt8] = Array(0...255) + [0, 0, 0xFF, 0xFF, 0x0D, 0x0A, 0x00]
        value += Array(repeating: 0, count: 1000)
        let binaryKey = Array(keys.key("k").utf8) + [0x00, 0xFF, 0x0D, 0x0A]
        #expect(try await redis.send("SET", binaryKey, value) == .simpleString("OK"))
        #expect(try await redis.send("GET", binaryKey).bytes == value)
        #expect(try await redis.send("STRLEN", binaryKey).int == value.count)

        // A large value (4 MiB) in both directions.
        let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await redis.send("SET", keys.key("big"), big)
        #expect(try await redis.send("GET", keys.key("big")).bytes == big)

        // Empty string is not nil.
        try await redis.send("SET", keys.key("empty"), "")
        let empty = try await redis.send("GET", keys.key("empty"))
        #expect(empty == .bulkString([]))
        #expect(!empty.isNil)

        // Non-UTF-8 bytes have no `.string`, but do have `.bytes`.
        #expect(try await redis.send("GET", binaryKey).string == nil)
        #expect(try await redis.send("DEL", binaryKey).int == 1)
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func everyReplyType() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("replies")

        // Status, integer, bulk, nil bulk.
        #expect(try await redis.send("SET", keys.key("n"), 41) == .simpleString("OK"))
        #expect(try await redis.send("INCR", keys.key("n")) == .integer(42))
        let n = try await redis.send("GET", keys.key("n"))
        #expect(n == .bulkString(Array("42".utf8)))
        #expect(n.int == 42 && n.string == "42")
        let missing = try await redis.send("GET", keys.key("missing"))
        #expect(missing == .bulkString(nil))
        #expect(missing.isNil && missing.string == nil && missing.array == nil)

        // Negative integers and doubles as arguments.
        try await redis.send("SET", keys.key("neg"), Int.min)
        #expect(try await redis.send("GET", keys.key("neg")).string == String(Int.min))
        #expect(try await redis.send("INCRBYFLOAT", keys.key("f"), 1.5).double == 1.5)
        try await redis.send("ZADD", keys.key("z"), -2.25, "m")
        #expect(try await redis.send("ZSCORE", keys.key("z"), "m").double == -2.25)

        // Arrays: with elements, empty, nested, and the nil array.
        try await redis.send("RPUSH", keys.key("list"), "a", [0xFF, 0x00], 3)
        let list = try await redis.send("LRANGE", keys.key("list"), 0, -1)
        #expect(list == .array([.bulkString(Array("a".utf8)), .bulkString([0xFF, 0x00]), .bulkString(Array("3".utf8))]))
        #expect(try await redis.send("LRANGE", keys.key("nolist"), 0, -1) == .array([]))
        let nilArray = try await redis.send("BLPOP", keys.key("nolist"), 0.01)
        #expect(nilArray == .array(nil))
        #expect(nilArray.isNil)

        // An error nested in an array: EXEC runs both, the INCR fails.
        let exec = try await redis.send("MULTI").string == "OK"
        #expect(exec)
        #expect(try await redis.send("SET", keys.key("s"), "text") == .simpleString("QUEUED"))
        #expect(try await redis.send("INCR", keys.key("s")) == .simpleString("QUEUED"))
        let results = try await redis.send("EXEC")
        #expect(results.array?.count == 2)
        #expect(results.array?[0] == .simpleString("OK"))
        #expect(results.array?[1].error?.code == .server)
        #expect(results.array?[1].error?.message.contains("not an integer") == true)

        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func serverErrorsAreTypedAndLeaveTheConnectionUsable() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("errors")
        try await redis.send("RPUSH", keys.key("list"), "x")
        let error = await redisError { try await redis.send("GET", keys.key("list")) }
        #expect(error?.code == .server)
        #expect(error?.serverCode == "WRONGTYPE")
        #expect(error?.endpoint == (try Shared.configuration().endpoint))
        #expect(!redis.isBroken)
        #expect(try await redis.ping() > .zero)
        let empty = await redisError { _ = try await redis.send([]) }
        #expect(empty?.code == .invalidConfiguration)
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func hashAsDictionary() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("hash")
        let key = keys.key("job")
        try await redis.send("HSET", key, "state", "running", "attempt", 2, "progress", 0.5, "kind", "refresh.matview")
        let all = try await redis.send("HGETALL", key)
        #expect(all.dictionary == ["state": "running", "attempt": "2", "progress": "0.5", "kind": "refresh.matview"])
        #expect(all.byteDictionary?["state"] == Array("running".utf8))
        #expect(try await redis.send("HGETALL", keys.key("none")).dictionary == [:])
        #expect(try await redis.send("HGET", key, "attempt").int == 2)
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func streamsWithCappedLength() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("stream")
        let stream = keys.key("events")
        var ids: [String] = []
        for i in 0..<250 {
            let id = try await redis.send("XADD", stream, "MAXLEN", "~", 50, "*",
                                          "event", "progress", "n", i, "blob", [0x00, 0xFF])
            ids.append(try #require(id.string))
        }
        // Approximate trimming removes whole radix-tree nodes: the length is capped but not exact.
        let length = try #require(try await redis.send("XLEN", stream).int)
        #expect(length >= 50 && length < 250)

        let exact = keys.key("exact")
        for i in 0..<30 { try await redis.send("XADD", exact, "MAXLEN", 10, "*", "n", i) }
        #expect(try await redis.send("XLEN", exact).int == 10)

        let range = try RedisStreamEntry.entries(from: await redis.send("XRANGE", stream, "-", "+", "COUNT", 3))
        #expect(range.count == 3)
        let last = try RedisStreamEntry.entries(from: await redis.send("XREVRANGE", stream, "+", "-", "COUNT", 1))
        #expect(last.first?.id == ids.last)
        #expect(last.first?[string: "event"] == "progress")
        #expect(last.first?[string: "n"] == "249")
        #expect(last.first?["blob"] == [0x00, 0xFF])
        #expect(last.first?.fields.map(\.name) == ["event", "n", "blob"])
        #expect(try RedisStreamEntry.entries(from: await redis.send("XRANGE", keys.key("none"), "-", "+")).isEmpty)
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func doctorHelpers() async throws {
        let redis = try await Shared.connect()
        let version = try await redis.serverVersion()
        #expect(version.split(separator: ".").count == 3)
        #expect(Int(version.split(separator: ".")[0]) != nil)
        let rtt = try await redis.ping()
        #expect(rtt > .zero && rtt < .seconds(5))
        await redis.close()
    }

    @Test func closedConnectionFailsWithConnectionClosed() async throws {
        let redis = try await Shared.connect()
        await redis.close()
        #expect(redis.isBroken)
        let error = await redisError { try await redis.send("PING") }
        #expect(error?.code == .connectionClosed)
    }

    @Test func selectsTheDatabaseAndSetsTheName() async throws {
        var config = try Shared.configuration()
        config.database = 2
        config.clientName = "sluice-test-select"
        let redis = try await RedisConnection.connect(configuration: config)
        let info = try #require(try await redis.send("CLIENT", "INFO").string)
        #expect(info.contains(" db=2 "))
        #expect(info.contains(" name=sluice-test-select "))
        await redis.close()

        config.database = 100_000
        let error = await redisError { _ = try await RedisConnection.connect(configuration: config) }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("SELECT 100000") == true)
    }
}
