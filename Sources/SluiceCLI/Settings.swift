// Settings: the only place Sluice reads the environment. Every SLUICE_* variable is read here,
// once per process; library code takes configuration structs, and the CLI builds them from
// these values. A command's flag wins over its variable (`resolved` in RuntimeOptions,
// `sluice api serve`).

import Foundation

package struct Settings: Sendable {
    package var postgresURL: String
    package var amqpURL: String
    package var redisURL: String
    package var catalogPath: String
    /// Prefix of every Redis key Sluice writes (`sluice:` by default).
    package var redisPrefix: String
    /// SLUICE_SCHEMA, SLUICE_QUEUE_PREFIX, SLUICE_QUEUE_TYPE (nil: not set; flags and defaults decide).
    package var schema: String?
    package var queuePrefix: String?
    package var queueType: String?
    /// SLUICE_LOG_LEVEL (nil: not set or not a level).
    package var logLevel: String?
    /// SLUICE_LEDGER_ASYNC_COMMIT=1.
    package var ledgerAsyncCommit: Bool
    /// SLUICE_IMPORT_DIR: where `import.file` may read files by path (nil: nowhere).
    package var importDirectory: String?
    /// SLUICE_API_TOKENS, SLUICE_API_SESSION_KEY, SLUICE_API_HOST, SLUICE_API_PORT (`sluice api`).
    package var apiTokens: String
    package var apiSessionKey: String?
    package var apiHost: String?
    package var apiPort: Int?
    /// SLUICE_SIGNING_KEYS (`id:hex,…`, the first signs; nil: envelopes go unsigned) and
    /// SLUICE_REQUIRE_SIGNED=1 (workers dead-letter what is not signed by one of those keys).
    package var signingKeys: String?
    package var requireSigned: Bool
    /// The whole environment, for the variables a catalog names itself (a target's `url_env`).
    package var environment: [String: String]
    /// SLUICE_PACK_JOBS: at most this many jobs of a batch enqueue in one message (0 or 1: one
    /// message per job; unset: `Producer.defaultPackJobs`). Checked by `RuntimeOptions`.
    package var packJobs: String? = nil
    /// SLUICE_STATUS_TTL: how long a job's status hash lives in Redis after its last write
    /// (unset: 7 days). Checked by `RuntimeOptions`.
    package var statusTTL: String? = nil

    package static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Settings {
        func value(_ key: String, _ fallback: String) -> String {
            if let v = env[key], !v.isEmpty { return v }
            return fallback
        }
        func optional(_ key: String) -> String? {
            guard let v = env[key], !v.isEmpty else { return nil }
            return v
        }
        var settings = Settings(
            postgresURL: value("SLUICE_POSTGRES_URL", "postgresql://sluice:sluice@127.0.0.1:5432/sluice"),
            amqpURL: value("SLUICE_AMQP_URL", "amqp://sluice:sluice@127.0.0.1:5672/sluice"),
            redisURL: value("SLUICE_REDIS_URL", "redis://127.0.0.1:6379/0"),
            catalogPath: value("SLUICE_CATALOG", "jobs"),
            redisPrefix: value("SLUICE_REDIS_PREFIX", "sluice:"),
            schema: optional("SLUICE_SCHEMA"), queuePrefix: optional("SLUICE_QUEUE_PREFIX"), queueType: optional("SLUICE_QUEUE_TYPE"),
            logLevel: optional("SLUICE_LOG_LEVEL"),
            ledgerAsyncCommit: env["SLUICE_LEDGER_ASYNC_COMMIT"] == "1",
            importDirectory: optional("SLUICE_IMPORT_DIR"),
            apiTokens: env["SLUICE_API_TOKENS"] ?? "", apiSessionKey: optional("SLUICE_API_SESSION_KEY"),
            apiHost: env["SLUICE_API_HOST"], apiPort: env["SLUICE_API_PORT"].flatMap { Int($0) },
            signingKeys: optional("SLUICE_SIGNING_KEYS"), requireSigned: env["SLUICE_REQUIRE_SIGNED"] == "1",
            environment: env)
        settings.packJobs = optional("SLUICE_PACK_JOBS")
        settings.statusTTL = optional("SLUICE_STATUS_TTL")
        return settings
    }
}
