// ReindexPolicy: indexes the reindex job may rebuild (REINDEX … CONCURRENTLY): those listed in
// `indexes`, and every index of the tables in `tables` (which index belongs to which table is
// the live check's business). An index is due when its estimated bloat exceeds `bloatRatio`.

public struct ReindexPolicy: Sendable, Equatable {
    public var name: SQLIdentifier
    public var tables: [QualifiedName]
    public var indexes: [QualifiedName]
    public var bloatRatio: Double
    public var timeBudget: Duration
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultBloatRatio = 0.3
    public static let defaultTimeBudget = Duration.seconds(3600)

    public init(
        name: SQLIdentifier, tables: [QualifiedName] = [], indexes: [QualifiedName] = [],
        bloatRatio: Double = ReindexPolicy.defaultBloatRatio, timeBudget: Duration = ReindexPolicy.defaultTimeBudget,
        targets: [String] = [], location: SourceLocation
    ) {
        self.name = name
        self.tables = tables
        self.indexes = indexes
        self.bloatRatio = bloatRatio
        self.timeBudget = timeBudget
        self.targets = targets
        self.location = location
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}
