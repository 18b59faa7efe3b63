// Settings: the only place Sluice reads the environment. Library code takes configuration
// structs; the CLI builds them from these values.

import Foundation

package struct Settings: Sendable {
    package var postgresURL: String
    package var amqpURL: String
    package var redisURL: String
    package var catalogPath: String
    /// Prefix of every Redis key Sluice writes (`sluice:` by default).
    package var redisPrefix: String

    package static func fromEnvironment() -> Settings {
        let env = ProcessInfo.processInfo.environment
        func value(_ key: String, _ fallback: String) -> String {
            if let v = env[key], !v.isEmpty { return v }
            return fallback
        }
        return Settings(
            postgresURL: value("SLUICE_POSTGRES_URL", "postgresql://sluice:sluice@127.0.0.1:5432/sluice"),
            amqpURL: value("SLUICE_AMQP_URL", "amqp://sluice:sluice@127.0.0.1:5672/sluice"),
            redisURL: value("SLUICE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            catalogPath: value("SLUICE_CATALOG", "jobs"),
            redisPrefix: value("SLUICE_REDIS_PREFIX", "sluice:"))
    }
}
