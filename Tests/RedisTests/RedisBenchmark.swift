// A throughput measurement, not a test: runs only with SLUICE_REDIS_BENCH=1, ideally in a release
// build (`swift build -c release --build-tests -Xswiftc -enable-testing`, then
// `SLUICE_REDIS_BENCH=1 swift test -c release --skip-build --filter RedisBenchmark`). Prints
// pipelined SET throughput; checks only that every reply is OK.

import Foundation
import Redis
import Testing

@Suite struct RedisBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["SLUICE_REDIS_BENCH"] == "1"

    @Test(.enabled(if: enabled)) func pipelinedSets() async throws {
        let redis = try await Shared.connect()
        let keys = KeySpace("bench")
        let total = 200_000
        for batch in [1_000, 10_000, 100_000] {
            let clock = ContinuousClock()
            var built = Duration.zero
            var sent = Duration.zero
            var done = 0
            while done < total {
                let t0 = clock.now
                var commands: [[RedisArgument]] = []
                commands.reserveCapacity(batch)
                for i in done..<(done + batch) {
                    commands.append(["SET", .string(keys.prefix + String(i % 1000)), .int(i)])
                }
                let t1 = clock.now
                let replies = try await redis.pipeline(commands)
                let t2 = clock.now
                built += t1 - t0
                sent += t2 - t1
                #expect(replies.allSatisfy { (try? $0.get()) == .simpleString("OK") })
                done += batch
            }
            let all = (built + sent).seconds
            print("""
                redis bench: batch \(batch): \(Int(Double(total) / all)) SET/s including building commands, \
                \(Int(Double(total) / sent.seconds)) SET/s in pipeline() alone
                """)
        }
        var single = 0
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .seconds(1) {
            try await redis.send("SET", keys.key("single"), single)
            single += 1
        }
        print("redis bench: unpipelined send(): \(single) round trips/s")
        await keys.cleanup(redis)
        await redis.close()
    }
}
