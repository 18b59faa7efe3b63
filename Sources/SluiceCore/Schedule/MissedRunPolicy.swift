// MissedRunPolicy: what the scheduler does with fire slots that passed while no scheduler ran
// (downtime, a long leader election, a paused process).
//
// A slot is "on time" when the scheduler sees it less than `grace` after it came due (the
// scheduler ticks every few seconds, and a failover takes some more); older slots are
// "missed". The policies mirror the seed platforms: pg_cron and Oban skip, Celery beat runs
// once, Sidekiq-style catch-up runs each.

public enum MissedRunPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Fire nothing for missed slots; fire a slot only when it is on time, then continue with
    /// the next. For jobs whose value is "now" (health checks).
    case skip
    /// Fire one catch-up run for all slots due since the last fire (missed or not), stamped with
    /// the latest of them. For idempotent jobs (REFRESH, VACUUM, partitions ahead).
    case runOnce
    /// Fire every slot due since the last fire, oldest first, but at most the `max` most recent
    /// (`max` >= 1). For jobs that process one period each (daily rollups).
    case runEach(max: Int)

    /// How late a slot may be seen and still count as on time.
    public static let defaultGrace: Duration = .seconds(60)

    /// Catalog text: `skip`, `run_once`, `run_each:5`.
    public var description: String {
        switch self {
        case .skip: return "skip"
        case .runOnce: return "run_once"
        case .runEach(let max): return "run_each:\(max)"
        }
    }

    /// The largest `runEach` limit a definition may use.
    public static let maximumRunEach = 1_000

    /// Parses the catalog text (`skip`, `run_once`, `run_each:5`).
    public init(parsing text: String) throws(ScheduleError) {
        func fail() -> ScheduleError {
            ScheduleError(.invalidDefinition, field: "missed_runs",
                reason: "'\(text.prefix(32))' is not a policy; expected skip, run_once or run_each:N (N 1-\(Self.maximumRunEach))")
        }
        switch text {
        case "skip": self = .skip
        case "run_once": self = .runOnce
        default:
            guard text.hasPrefix("run_each:"), let n = Int(text.dropFirst("run_each:".count)),
                (1...Self.maximumRunEach).contains(n)
            else { throw fail() }
            self = .runEach(max: n)
        }
    }
}
