// RedisKeys: every Redis key Sluice writes or reads, under one prefix (`sluice:` by default;
// SLUICE_REDIS_PREFIX). The dashboard contract in the README, as one type: writers (the
// result store, the analytics class, refresh.matview) and readers (the API, the CLI) take their
// names from here and never spell one.
//
//   job:{id}                       hash: a job's status (ResultStore)
//   events                         stream: job state changes (ResultStore)
//   cache:{query}[@{target}]:{hash}  string: a cached query output, JSON (QueryCache)
//   cache:segment:{hash}           a segment's cached count (analytics.segment)
//   health:{target}:{report}       string: a health report, JSON (AlertTracker)
//   alerts                         stream: alerts firing and resolved (AlertTracker)
//   alerts:firing:{target}         hash: the alerts firing now (AlertTracker)
//   matview:[{target}:]{view}      hash: a view's freshness (refresh.matview, via JobContext.publishOutput)

public struct RedisKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = RedisKeys.defaultPrefix) {
        self.prefix = prefix
    }

    public static let defaultPrefix = "sluice:"

    /// `prefix` + `name`: an output a job publishes under its own name (`JobContext.publishOutput`).
    public func output(_ name: String) -> String { prefix + name }

    // MARK: Job status

    public func job(_ id: String) -> String { "\(prefix)job:\(id)" }
    public var events: String { "\(prefix)events" }

    // MARK: Cached outputs

    /// The name a query's outputs are kept under for `target`: `{name}` on `main`, else `{name}@{target}`.
    public static func cacheName(query: String, target: String) -> String {
        target == "main" ? query : "\(query)@\(target)"
    }

    public func cache(query: String, hash: String) -> String { "\(prefix)cache:\(query):\(hash)" }
    /// SCAN pattern of every output of one query (its `:version` keys match too).
    public func cachePattern(query: String) -> String { "\(prefix)cache:\(query):*" }
    public func segmentCount(hash: String) -> String { "\(prefix)cache:segment:\(hash)" }

    // MARK: Health reports and alerts

    public func health(target: String, report: String) -> String { "\(prefix)health:\(target):\(report)" }
    /// Every report of one target starts with this.
    public func healthReports(target: String) -> String { "\(prefix)health:\(target):" }
    public var alerts: String { "\(prefix)alerts" }
    public func firingAlerts(target: String) -> String { "\(prefix)alerts:firing:\(target)" }

    // MARK: View freshness

    /// The output name `refresh.matview` publishes a view's freshness under (without the prefix).
    public static func matviewOutput(view: String, target: String) -> String {
        target == "main" ? "matview:\(view)" : "matview:\(target):\(view)"
    }

    /// Every view's freshness starts with this.
    public var matviews: String { "\(prefix)matview:" }
}
