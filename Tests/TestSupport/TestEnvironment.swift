// TestEnvironment: where the integration tests find the real servers, and unique names so that
// tests running in parallel never see each other's schemas, queues or keys.

import Foundation

public enum TestEnvironment {
    public static let postgresURL = env("SLUICE_POSTGRES_URL", "postgresql://sluice:sluice@127.0.0.1:5432/sluice")
    public static let amqpURL = env("SLUICE_AMQP_URL", "amqp://sluice:sluice@127.0.0.1:5672/sluice")
    public static let redisURL = env("SLUICE_REDIS_URL", "redis://127.0.0.1:6379/0")

    /// A name unique to this process and call, safe as a schema, queue name or key prefix:
    /// lower-case letters, digits and underscores, starting with `prefix`.
    public static func uniqueName(_ prefix: String) -> String {
        let n = counter.add()
        let random = UInt32.random(in: 0...UInt32.max)
        return "\(prefix)_\(getpid())_\(n)_\(String(random, radix: 36))"
    }

    private static func env(_ key: String, _ fallback: String) -> String {
        if let v = ProcessInfo.processInfo.environment[key], !v.isEmpty { return v }
        return fallback
    }

    private static let counter = Counter()
}

private final class Counter: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = 0
    func add() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
