// HealthThresholds: where `analytics.health` reports raise an alert, as declared under `health:`
// (defaults: seed 002's "alert thresholds"), with overrides per target.
//
// An alert fires when a value crosses its threshold and resolves when it comes back; the
// thresholds say nothing about how often reports run (that is the schedule's job).

public struct HealthThresholds: Sendable, Equatable {
    /// Connections in use over max_connections, 0…1 (seed 002: 80 %).
    public var connectionUtilisation: Double
    /// Mean time of a statement in pg_stat_statements (seed 002: 1 s).
    public var slowQuery: Duration
    /// Buffer cache hit ratio below which an alert fires, 0…1 (seed 002: 90 %).
    public var cacheHitRatio: Double
    /// Dead tuples over live + dead tuples of a table, 0…1 (seed 002: 20 %).
    public var deadTupleRatio: Double
    /// Tables smaller than this many tuples never alert on dead tuples (noise).
    public var minDeadTuples: Int
    /// A statement running longer than this (seed 002: 30 s).
    public var longQuery: Duration
    /// A session idle in a transaction longer than this.
    public var idleInTransaction: Duration
    /// Transaction-ID age over 2^31 at which wraparound alerts, 0…1.
    public var wraparoundRatio: Double
    /// A sequence's used fraction of its range, 0…1.
    public var sequenceRatio: Double
    /// A materialized view last refreshed longer ago than this is stale.
    public var matviewAge: Duration
    /// A session waiting for a lock longer than this (a blocking chain).
    public var lockWait: Duration

    public init(connectionUtilisation: Double = 0.8, slowQuery: Duration = .seconds(1), cacheHitRatio: Double = 0.9,
                deadTupleRatio: Double = 0.2, minDeadTuples: Int = 1000, longQuery: Duration = .seconds(30),
                idleInTransaction: Duration = .seconds(60), wraparoundRatio: Double = 0.5, sequenceRatio: Double = 0.8,
                matviewAge: Duration = .seconds(86_400), lockWait: Duration = .seconds(10)) {
        self.connectionUtilisation = connectionUtilisation
        self.slowQuery = slowQuery
        self.cacheHitRatio = cacheHitRatio
        self.deadTupleRatio = deadTupleRatio
        self.minDeadTuples = minDeadTuples
        self.longQuery = longQuery
        self.idleInTransaction = idleInTransaction
        self.wraparoundRatio = wraparoundRatio
        self.sequenceRatio = sequenceRatio
        self.matviewAge = matviewAge
        self.lockWait = lockWait
    }

    /// Seed 002's thresholds.
    public static let defaults = HealthThresholds()
}

/// The `health:` section: thresholds for every target, then per-target overrides.
public struct HealthSettings: Sendable, Equatable {
    public var thresholds: HealthThresholds
    public var perTarget: [String: HealthThresholds]

    public init(thresholds: HealthThresholds = .defaults, perTarget: [String: HealthThresholds] = [:]) {
        self.thresholds = thresholds
        self.perTarget = perTarget
    }

    public func thresholds(for target: String) -> HealthThresholds { perTarget[target] ?? thresholds }
}

extension HealthThresholds {
    /// What a threshold holds, and where.
    public enum Value {
        /// 0…1.
        case ratio(WritableKeyPath<HealthThresholds, Double>)
        case duration(WritableKeyPath<HealthThresholds, Duration>)
        /// A whole number from 0.
        case count(WritableKeyPath<HealthThresholds, Int>)
    }

    /// One threshold: the key `health:` spells and the property it sets.
    public struct Field {
        public let key: String
        public let value: Value
    }

    /// Every threshold: the one table the loader reads `health:` (and each `health: targets:`
    /// override) from; a test checks jobs/README.md lists the same keys. A new threshold is a property
    /// above, its default in `init`, a row here and its line in jobs/README.md.
    public static var fields: [Field] {
        [
            Field(key: "connection_utilisation", value: .ratio(\.connectionUtilisation)),
            Field(key: "slow_query", value: .duration(\.slowQuery)),
            Field(key: "cache_hit_ratio", value: .ratio(\.cacheHitRatio)),
            Field(key: "dead_tuple_ratio", value: .ratio(\.deadTupleRatio)),
            Field(key: "min_dead_tuples", value: .count(\.minDeadTuples)),
            Field(key: "long_query", value: .duration(\.longQuery)),
            Field(key: "idle_in_transaction", value: .duration(\.idleInTransaction)),
            Field(key: "wraparound_ratio", value: .ratio(\.wraparoundRatio)),
            Field(key: "sequence_ratio", value: .ratio(\.sequenceRatio)),
            Field(key: "matview_age", value: .duration(\.matviewAge)),
            Field(key: "lock_wait", value: .duration(\.lockWait)),
        ]
    }
}
