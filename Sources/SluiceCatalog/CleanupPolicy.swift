// CleanupPolicy: a retention delete the cleanup job runs in bounded batches: rows of `table`
// whose `column` is older than `age`, optionally only those whose columns hold listed values
// (`match`), `batchSize` rows per transaction with `pause` between batches, for at most
// `timeBudget` per run. Values in `match` are bound as parameters, never spliced into SQL.

public struct CleanupPolicy: Sendable, Equatable {
    /// `column IN (values)`, one per `match:` entry; all entries must hold (AND).
    public struct Match: Sendable, Equatable {
        public var column: SQLIdentifier
        public var values: [String]

        public init(column: SQLIdentifier, values: [String]) {
            self.column = column
            self.values = values
        }
    }

    public var name: SQLIdentifier
    public var table: QualifiedName
    /// The timestamp column `age` is measured on.
    public var column: SQLIdentifier
    public var age: CalendarInterval
    /// Columns that identify a row for the batched delete (a partitioned table's primary key
    /// includes the partition column); empty lets the job use `ctid` on a plain table.
    public var key: [SQLIdentifier]
    public var match: [Match]
    public var batchSize: Int
    public var pause: Duration
    public var timeBudget: Duration
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultBatchSize = 1000
    public static let maxBatchSize = 100_000
    public static let defaultPause = Duration.milliseconds(100)
    public static let defaultTimeBudget = Duration.seconds(15 * 60)

    public init(
        name: SQLIdentifier, table: QualifiedName, column: SQLIdentifier, age: CalendarInterval,
        key: [SQLIdentifier] = [], match: [Match] = [], batchSize: Int = CleanupPolicy.defaultBatchSize,
        pause: Duration = CleanupPolicy.defaultPause, timeBudget: Duration = CleanupPolicy.defaultTimeBudget,
        targets: [String] = [], location: SourceLocation
    ) {
        self.name = name
        self.table = table
        self.column = column
        self.age = age
        self.key = key
        self.match = match
        self.batchSize = batchSize
        self.pause = pause
        self.timeBudget = timeBudget
        self.targets = targets
        self.location = location
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}
