// RetentionSettings: how long Sluice keeps its own finished history in the home database, by
// job state and by side table (the catalog's `retention:` section). The pruner applies it in
// bounded batches. Live jobs (available, scheduled, running, retryable) have no setting: they
// are never removed. `nil` means `forever` (kept until an operator removes it).
//
// Defaults follow River's job cleaner: completed and cancelled jobs for 1 day, discarded ones
// for 7 days (long enough to read a failure after a weekend).

import SluiceCore

public struct RetentionSettings: Sendable, Equatable {
    /// Completed jobs, counted from `finished_at`. Default 1 day.
    public var completed: Duration?
    /// Cancelled jobs, counted from `finished_at`. Default 1 day.
    public var cancelled: Duration?
    /// Discarded jobs (failed for good), counted from `finished_at`. Default 7 days.
    public var discarded: Duration?
    /// Schedule fires, counted from `fired_at`; the latest fire of each schedule and fires
    /// whose enqueue never confirmed are always kept (the scheduler's exactly-once rule needs
    /// them). Default 7 days.
    public var scheduleFires: Duration?
    /// The API's idempotency keys, counted from `created_at`: a retry with the same key gets
    /// the stored answer for at least this long. Default 1 day.
    public var idempotencyKeys: Duration?
    /// Saved segments superseded by a newer one of the same rules, workspace and target,
    /// counted from the newer one's `created_at`. Default 1 day.
    public var replacedSegments: Duration?
    /// Rows removed per statement (one short transaction each). Default 1000.
    public var batchSize: Int
    /// Pause between two passes of the pruner. Default 1 minute.
    public var interval: Duration
    /// Where `retention:` was declared; nil when it is all defaults.
    public var location: SourceLocation?

    public init(
        completed: Duration? = .seconds(86_400), cancelled: Duration? = .seconds(86_400), discarded: Duration? = .seconds(7 * 86_400),
        scheduleFires: Duration? = .seconds(7 * 86_400), idempotencyKeys: Duration? = .seconds(86_400),
        replacedSegments: Duration? = .seconds(86_400), batchSize: Int = 1000, interval: Duration = .seconds(60),
        location: SourceLocation? = nil
    ) {
        self.completed = completed
        self.cancelled = cancelled
        self.discarded = discarded
        self.scheduleFires = scheduleFires
        self.idempotencyKeys = idempotencyKeys
        self.replacedSegments = replacedSegments
        self.batchSize = batchSize
        self.interval = interval
        self.location = location
    }

    /// How long a job in `state` is kept after it finished; nil for live states (never removed)
    /// and for final states kept forever.
    public func keep(_ state: JobState) -> Duration? {
        switch state {
        case .completed: completed
        case .cancelled: cancelled
        case .discarded: discarded
        case .available, .scheduled, .running, .retryable: nil
        }
    }

    /// The width of `state`'s time partitions (migration 7): a quarter of its retention, at
    /// least one second, a day when kept forever. A partition is dropped once its upper bound
    /// is past the retention, so a job stays at most a quarter longer than its retention, and
    /// a state keeps about five partitions whatever its period.
    public func partitionWidth(_ state: JobState) -> Duration {
        guard let keep = keep(state) else { return .seconds(86_400) }
        return max(.seconds(1), .seconds(Int64(keep.components.seconds / 4)))
    }

    /// How far ahead of the clock the pruner keeps `state`'s partitions made: three widths, and
    /// at least three pauses between passes, so a pass or two missed never leaves a finish
    /// without its partition (it would land in the default partition, deleted from by rows).
    public func partitionsAhead(_ state: JobState) -> Duration {
        max(partitionWidth(state) * 3, interval * 3)
    }

    /// The catalog keys of the per-state and per-table periods, in the order the pruner runs.
    public static let periodKeys = ["completed", "cancelled", "discarded", "schedule_fires", "idempotency_keys", "replaced_segments"]

    /// The period named by a catalog key.
    public subscript(period key: String) -> Duration? {
        get {
            switch key {
            case "completed": completed
            case "cancelled": cancelled
            case "discarded": discarded
            case "schedule_fires": scheduleFires
            case "idempotency_keys": idempotencyKeys
            case "replaced_segments": replacedSegments
            default: nil
            }
        }
        set {
            switch key {
            case "completed": completed = newValue
            case "cancelled": cancelled = newValue
            case "discarded": discarded = newValue
            case "schedule_fires": scheduleFires = newValue
            case "idempotency_keys": idempotencyKeys = newValue
            case "replaced_segments": replacedSegments = newValue
            default: break
            }
        }
    }

    /// The word that stands for "never remove" in the catalog.
    public static let forever = "forever"
}
