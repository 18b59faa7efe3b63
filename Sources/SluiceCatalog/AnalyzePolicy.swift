// AnalyzePolicy: tables the analyze job may ANALYZE, and when one is due: rows modified since
// the last analyze exceed both `minModifiedRows` and `modifiedRatio` of the table's rows.

public struct AnalyzePolicy: Sendable, Equatable {
    public var name: SQLIdentifier
    public var tables: [QualifiedName]
    public var modifiedRatio: Double
    public var minModifiedRows: Int
    public var timeBudget: Duration
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultModifiedRatio = 0.1
    public static let defaultMinModifiedRows = 1000
    public static let defaultTimeBudget = Duration.seconds(10 * 60)

    public init(
        name: SQLIdentifier, tables: [QualifiedName], modifiedRatio: Double = AnalyzePolicy.defaultModifiedRatio,
        minModifiedRows: Int = AnalyzePolicy.defaultMinModifiedRows, timeBudget: Duration = AnalyzePolicy.defaultTimeBudget,
        targets: [String] = [], location: SourceLocation
    ) {
        self.name = name
        self.tables = tables
        self.modifiedRatio = modifiedRatio
        self.minModifiedRows = minModifiedRows
        self.timeBudget = timeBudget
        self.targets = targets
        self.location = location
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}
