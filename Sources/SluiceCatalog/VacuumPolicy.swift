// VacuumPolicy: tables the vacuum job may VACUUM, and when the planner considers one due.
//
// A table is due when dead tuples exceed both `minDeadTuples` and `deadTupleRatio` of its live
// tuples (seed 002 alerts at 20 %). VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE
// lock, so it runs only for a policy that says `allow_full: true`.

public struct VacuumPolicy: Sendable, Equatable {
    public var name: SQLIdentifier
    public var tables: [QualifiedName]
    public var deadTupleRatio: Double
    public var minDeadTuples: Int
    /// VACUUM (ANALYZE) rather than plain VACUUM.
    public var analyze: Bool
    public var allowFull: Bool
    /// How long one planning pass may spend vacuuming this policy's tables.
    public var timeBudget: Duration
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultDeadTupleRatio = 0.2
    public static let defaultMinDeadTuples = 1000
    public static let defaultTimeBudget = Duration.seconds(30 * 60)

    public init(
        name: SQLIdentifier, tables: [QualifiedName], deadTupleRatio: Double = VacuumPolicy.defaultDeadTupleRatio,
        minDeadTuples: Int = VacuumPolicy.defaultMinDeadTuples, analyze: Bool = true, allowFull: Bool = false,
        timeBudget: Duration = VacuumPolicy.defaultTimeBudget, targets: [String] = [], location: SourceLocation
    ) {
        self.name = name
        self.tables = tables
        self.deadTupleRatio = deadTupleRatio
        self.minDeadTuples = minDeadTuples
        self.analyze = analyze
        self.allowFull = allowFull
        self.timeBudget = timeBudget
        self.targets = targets
        self.location = location
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}
