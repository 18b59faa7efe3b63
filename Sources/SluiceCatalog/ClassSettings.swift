// ClassSettings: how one workload class runs: its Postgres pool, timeouts, concurrency and
// prefetch (DESIGN.md, "Workload classes"). The catalog's `classes:` section overrides these
// defaults field by field; a class it does not mention keeps all of them.

import SluiceCore

public struct ClassSettings: Sendable, Equatable {
    public var workloadClass: WorkloadClass
    /// Postgres connections the class's pool may open per worker process.
    public var poolSize: Int
    /// Role the pool's sessions `SET ROLE` to; nil keeps the connecting user.
    public var role: SQLIdentifier?
    /// Sessions start with `default_transaction_read_only = on`.
    public var readOnly: Bool
    /// `statement_timeout` for every statement the class runs. Always > 0.
    public var statementTimeout: Duration
    /// `lock_timeout`: the longest a job may queue behind (and so block) production traffic.
    public var lockTimeout: Duration
    /// Jobs of this class one worker process runs at once (slots).
    public var concurrency: Int
    /// Unacknowledged deliveries the broker may push to one worker (AMQP basic.qos).
    public var prefetch: Int
    /// Further Postgres session settings for the class's connections (`settings:`), applied with
    /// `set_config` on connect, e.g. `jit: off` for the analytics class's short reads.
    public var sessionSettings: [String: String]
    /// A job of this class that completes within this long is recorded once, with no claim
    /// (the worker's short path); zero: every job is claimed before it runs; nil: the worker's
    /// default (250 ms, at most a tenth of the lease).
    public var shortJobThreshold: Duration?
    /// Where the class is configured; nil when it is all defaults.
    public var location: SourceLocation?

    public init(
        workloadClass: WorkloadClass, poolSize: Int, role: SQLIdentifier? = nil, readOnly: Bool,
        statementTimeout: Duration, lockTimeout: Duration, concurrency: Int, prefetch: Int,
        sessionSettings: [String: String] = [:], shortJobThreshold: Duration? = nil, location: SourceLocation? = nil
    ) {
        self.shortJobThreshold = shortJobThreshold
        self.workloadClass = workloadClass
        self.poolSize = poolSize
        self.role = role
        self.readOnly = readOnly
        self.statementTimeout = statementTimeout
        self.lockTimeout = lockTimeout
        self.concurrency = concurrency
        self.prefetch = prefetch
        self.sessionSettings = sessionSettings
        self.location = location
    }

    /// DESIGN.md's defaults. Maintenance: 2 slots, prefetch 1, statements up to 6 h but locks
    /// waited for at most 5 s. Refresh: 2 slots, prefetch 1, 1 h, 10 s (a plain REFRESH's
    /// ACCESS EXCLUSIVE lock blocks readers while it waits). Import: 2 slots, prefetch 1, 2 h,
    /// 10 s. Analytics: 8 slots, prefetch 50, read-only, 30 s statements (the seeds' web
    /// timeout), 5 s locks, JIT off (compiling a plan costs more than a dashboard read runs) and
    /// 64 MB of work_mem (a segment lookup over a large workspace stays a hashed subplan).
    /// Pools hold one connection per slot.
    /// Session settings a class's `settings:` may not name: the class's own fields set them.
    public static let reservedSessionSettings: [String: String] = [
        "statement_timeout": "statement_timeout", "lock_timeout": "lock_timeout",
        "default_transaction_read_only": "read_only", "role": "role", "session_authorization": "role",
    ]

    public static func defaults(for workloadClass: WorkloadClass) -> ClassSettings {
        switch workloadClass {
        case .maintenance:
            ClassSettings(workloadClass: .maintenance, poolSize: 2, readOnly: false,
                statementTimeout: .seconds(6 * 3600), lockTimeout: .seconds(2), concurrency: 2, prefetch: 1)
        case .refresh:
            ClassSettings(workloadClass: .refresh, poolSize: 2, readOnly: false,
                statementTimeout: .seconds(3600), lockTimeout: .seconds(2), concurrency: 2, prefetch: 1)
        case .import:
            ClassSettings(workloadClass: .import, poolSize: 2, readOnly: false,
                statementTimeout: .seconds(2 * 3600), lockTimeout: .seconds(10), concurrency: 2, prefetch: 1)
        case .analytics:
            ClassSettings(workloadClass: .analytics, poolSize: 8, readOnly: true,
                statementTimeout: .seconds(30), lockTimeout: .seconds(5), concurrency: 8, prefetch: 50,
                sessionSettings: ["jit": "off", "work_mem": "64MB"])
        }
    }
}
