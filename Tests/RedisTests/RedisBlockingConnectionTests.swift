// Blocking reads on their own connection: XREAD BLOCK woken by another connection's XADD,
// BLPOP/BRPOP, and a block longer than the command timeout.

import Redis
import Testing

@Suite struct RedisBlockingConnectionTests {
    @Test func xreadBlockWakesOnXAdd() async throws {
        var config = try Shared.configuration()
        let name = "sluice-test-xread-\(UInt32.random(in: 0...UInt32.max))"
        config.clientName = name
        let reader = RedisBlockingConnection(configuration: config)
        let writer = RedisPool(connection: try Shared.configuration(), size: 1)
        let keys = KeySpace("xread")
        let stream = keys.key("events")

        // "0-0" on an empty stream: whatever is added first is returned, even if the XADD were
        // to win the race. The test waits until the reader is blocked, so it does not.
        async let read = reader.xread(streams: [(stream, "0-0")], count: 10, block: .seconds(20))
        try await waitUntilBlocked(name: name, admin: writer)
        let id = try #require(try await writer.send("XADD", stream, "MAXLEN", "~", 1000, "*",
                                                    "state", "succeeded", "job", "0193-abc").string)
        let batches = try await read
        #expect(batches.count == 1)
        #expect(batches.first?.stream == stream)
        #expect(batches.first?.entries.map(\.id) == [id])
        #expect(batches.first?.entries.first?[string: "state"] == "succeeded")

        // Nothing new after `id`: the block time passes and the result is empty.
        let none = try await reader.xread(streams: [(stream, id)], block: .milliseconds(50))
        #expect(none.isEmpty)

        await keys.cleanup(writer)
        await reader.close()
        await writer.close()
    }

    @Test func blockLongerThanTheCommandTimeout() async throws {
        var config = try Shared.configuration()
        config.commandTimeout = .milliseconds(200)
        let reader = RedisBlockingConnection(configuration: config)
        let keys = KeySpace("blpop")
        // 600 ms of blocking on a 200 ms command timeout: the socket timeout is extended.
        let nothing = try await reader.blpop([keys.key("q")], timeout: .milliseconds(600))
        #expect(nothing == nil)
        let raw = try await reader.sendBlocking(["BRPOP", .string(keys.key("q")), 0.3], blockFor: .milliseconds(300))
        #expect(raw == .array(nil))

        // Ordinary commands on the same connection keep the short timeout and still work.
        try await reader.send("RPUSH", keys.key("q"), [0x00, 0xFF], "second")
        let head = try await reader.blpop([keys.key("other"), keys.key("q")], timeout: .seconds(1))
        #expect(head?.key == keys.key("q"))
        #expect(head?.value == [0x00, 0xFF])
        let tail = try await reader.brpop([keys.key("q")], timeout: .seconds(1))
        #expect(tail?.value == Array("second".utf8))
        await keys.cleanup(reader)
        await reader.close()
        let closed = await redisError { try await reader.send("PING") }
        #expect(closed?.code == .connectionClosed)
    }
}
