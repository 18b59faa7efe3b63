// Pipelining against the shared server: order, per-reply errors, and reuse afterwards.

import Redis
import Testing

@Suite struct RedisPipelineTests {
    @Test func repliesComeBackInOrderWithErrorsInTheirSlots() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("pipeline")
        var commands: [[RedisArgument]] = []
        for i in 0..<2000 {
            commands.append(["SET", .string(keys.key("k\(i)")), .int(i)])
            commands.append(["GET", .string(keys.key("k\(i)"))])
            if i % 500 == 7 {
                commands.append(["HGET", .string(keys.key("k\(i)")), "field"]) // WRONGTYPE
            }
        }
        let replies = try await redis.pipeline(commands)
        #expect(replies.count == commands.count)
        var index = 0
        var errors = 0
        for i in 0..<2000 {
            #expect(try replies[index].get() == .simpleString("OK"))
            #expect(try replies[index + 1].get().int == i)
            index += 2
            if i % 500 == 7 {
                guard case .failure(let error) = replies[index] else {
                    Issue.record("expected an error at \(index)")
                    continue
                }
                #expect(error.serverCode == "WRONGTYPE")
                errors += 1
                index += 1
            }
        }
        #expect(errors == 4)
        #expect(!redis.isBroken)
        #expect(try await redis.pipeline([]).isEmpty)
        #expect(try await redis.send("GET", keys.key("k1999")).int == 1999)
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func binaryValuesInAPipeline() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("pipebin")
        let values: [[UInt8]] = (0..<50).map { i in [0x00, UInt8(i), 0xFF, 0x0D, 0x0A] + Array(repeating: UInt8(i), count: i * 37) }
        var commands: [[RedisArgument]] = []
        for (i, v) in values.enumerated() { commands.append(["SET", .string(keys.key("\(i)")), .bytes(v)]) }
        for i in values.indices { commands.append(["GET", .string(keys.key("\(i)"))]) }
        let replies = try await redis.pipeline(commands)
        for (i, v) in values.enumerated() {
            #expect(try replies[values.count + i].get().bytes == v)
        }
        await keys.cleanup(redis)
        await redis.close()
    }

    @Test func anEmptyCommandFailsBeforeAnythingIsSent() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("pipeempty")
        let error = await redisError { _ = try await redis.pipeline([["SET", .string(keys.key("a")), "1"], []]) }
        #expect(error?.code == .invalidConfiguration)
        #expect(try await redis.send("EXISTS", keys.key("a")).int == 0)
        #expect(!redis.isBroken)
        await redis.close()
    }
}
