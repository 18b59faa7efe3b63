// Helpers for the Redis integration tests: the shared server's configuration, per-test key
// prefixes and their cleanup, and error expectations.

import ClientSupport
import Redis
import Testing
import TestSupport

enum Shared {
    static func configuration() throws -> RedisConfiguration {
        try RedisConfiguration(url: TestEnvironment.redisURL)
    }

    static func connect() async throws -> RedisConnection {
        try await RedisConnection.connect(configuration: configuration())
    }
}

/// A unique key prefix for one test, and the cleanup of everything under it.
struct KeySpace {
    let prefix: String

    init(_ name: String) {
        prefix = TestEnvironment.uniqueName("sluice_test_redis_\(name)") + ":"
    }

    func key(_ suffix: String) -> String { prefix + suffix }

    /// Deletes every key under the prefix (SCAN + DEL).
    func cleanup(_ client: some RedisClient) async {
        var cursor = "0"
        repeat {
            guard let reply = try? await client.send("SCAN", cursor, "MATCH", prefix + "*", "COUNT", 1000),
                  let parts = reply.array, parts.count == 2, let next = parts[0].string, let keys = parts[1].array
            else { return }
            if !keys.isEmpty {
                _ = try? await client.send(["DEL"] + keys.compactMap { $0.bytes.map(RedisArgument.init) })
            }
            cursor = next
        } while cursor != "0"
    }
}

/// Runs `body`, which must throw a RedisError, and returns that error.
func redisError(_ body: () async throws -> Void,
                sourceLocation: SourceLocation = #_sourceLocation) async -> RedisError? {
    do {
        try await body()
        Issue.record("expected a RedisError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as RedisError {
        return error
    } catch {
        Issue.record("expected a RedisError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
