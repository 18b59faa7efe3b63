// Catalog: everything operators allow Sluice to do to their databases, as loaded from `jobs/`.
//
// A job never takes a table, view, index or policy name from a message on trust: it looks the
// name up here, and an undeclared name finds nothing (nil). Names in the catalog passed the
// strict identifier rule at load time, and SQL only ever sees them through `quoted`. Whether
// the objects exist in a live database is a separate check.

import SluiceCore

public struct Catalog: Sendable {
    /// Declared targets in declaration order, plus the built-in `main` (from SLUICE_POSTGRES_URL)
    /// unless the catalog declares its own `main`.
    public var targets: [CatalogTarget]
    /// Settings of all four workload classes (defaults where the catalog says nothing).
    public var classes: [WorkloadClass: ClassSettings]
    public var partitionedTables: [PartitionedTable]
    public var materializedViews: [MaterializedView]
    public var vacuumPolicies: [VacuumPolicy]
    public var analyzePolicies: [AnalyzePolicy]
    public var reindexPolicies: [ReindexPolicy]
    public var cleanupPolicies: [CleanupPolicy]
    public var schedules: [CatalogSchedule]
    /// Analytics: cached queries, the segment table and fields, health thresholds.
    public var queries: [CatalogQuery] = []
    public var segments: SegmentSource? = nil
    public var health = HealthSettings()
    /// The catalog files read, relative to the catalog folder, in load order.
    public var files: [String]
    /// Import specs (`imports:`): what `import.file` may load into which table.
    public var imports: [ImportSpec] = []
    /// Bulk statements (`statements:`) that `import.statement` runs in batches.
    public var statements: [CatalogStatement] = []
    /// How long Sluice keeps its own finished jobs and side-table rows (`retention:`).
    public var retention = RetentionSettings()
    /// What each signing key may enqueue (`producers:`); a key not listed is not limited.
    public var producers: [ProducerGrant] = []

    public init(
        targets: [CatalogTarget] = [Catalog.builtInMainTarget], classes: [WorkloadClass: ClassSettings] = Catalog.defaultClasses,
        partitionedTables: [PartitionedTable] = [], materializedViews: [MaterializedView] = [],
        vacuumPolicies: [VacuumPolicy] = [], analyzePolicies: [AnalyzePolicy] = [], reindexPolicies: [ReindexPolicy] = [],
        cleanupPolicies: [CleanupPolicy] = [], schedules: [CatalogSchedule] = [], files: [String] = []
    ) {
        self.targets = targets
        self.classes = classes
        self.partitionedTables = partitionedTables
        self.materializedViews = materializedViews
        self.vacuumPolicies = vacuumPolicies
        self.analyzePolicies = analyzePolicies
        self.reindexPolicies = reindexPolicies
        self.cleanupPolicies = cleanupPolicies
        self.schedules = schedules
        self.files = files
    }

    public static let builtInMainTarget = CatalogTarget(
        name: CatalogTarget.defaultName, source: .environment(CatalogTarget.defaultEnvironmentVariable))

    public static var defaultClasses: [WorkloadClass: ClassSettings] {
        Dictionary(uniqueKeysWithValues: WorkloadClass.allCases.map { ($0, ClassSettings.defaults(for: $0)) })
    }

    // MARK: Quoting

    /// `"schema"."name"`: the only way a catalog name reaches SQL.
    public static func quoted(_ name: QualifiedName) -> String { name.quoted }

    /// `"name"`.
    public static func quoted(_ identifier: SQLIdentifier) -> String { identifier.quoted }

    /// Validates `text` as `name` or `schema.name` and quotes it: `"schema"."table"` (or `"name"`
    /// alone when unqualified). Throws for anything that breaks the identifier rule.
    public static func quoted(_ text: String) throws(IdentifierError) -> String {
        if QualifiedName.isUnqualified(text) { return try SQLIdentifier(validating: text).quoted }
        return try QualifiedName(parsing: text).quoted
    }

    // MARK: Lookups (nil when undeclared)

    public func target(named name: String) -> CatalogTarget? { targets.first { $0.name == name } }

    public func settings(for workloadClass: WorkloadClass) -> ClassSettings {
        classes[workloadClass] ?? ClassSettings.defaults(for: workloadClass)
    }

    /// The partitioned table named `schema.table`, or `table` when exactly one declared table
    /// has that name.
    public func partitionedTable(named name: String) -> PartitionedTable? {
        Self.resolve(name, in: partitionedTables, by: \.table)
    }

    /// The materialized view named `schema.view`, or `view` when exactly one declared view has that name.
    public func materializedView(named name: String) -> MaterializedView? {
        Self.resolve(name, in: materializedViews, by: \.view)
    }

    public func cleanupPolicy(named name: String) -> CleanupPolicy? { cleanupPolicies.first { $0.name.rawValue == name } }
    public func vacuumPolicy(named name: String) -> VacuumPolicy? { vacuumPolicies.first { $0.name.rawValue == name } }
    public func analyzePolicy(named name: String) -> AnalyzePolicy? { analyzePolicies.first { $0.name.rawValue == name } }
    public func reindexPolicy(named name: String) -> ReindexPolicy? { reindexPolicies.first { $0.name.rawValue == name } }
    public func schedule(named name: String) -> CatalogSchedule? { schedules.first { $0.name == name } }

    /// The vacuum policy listing `table` (`schema.table`, or `table` when unambiguous).
    public func vacuumPolicy(forTable table: String) -> VacuumPolicy? {
        guard let name = Self.resolveName(table, among: vacuumPolicies.flatMap(\.tables)) else { return nil }
        return vacuumPolicies.first { $0.tables.contains(name) }
    }

    /// The analyze policy listing `table`.
    public func analyzePolicy(forTable table: String) -> AnalyzePolicy? {
        guard let name = Self.resolveName(table, among: analyzePolicies.flatMap(\.tables)) else { return nil }
        return analyzePolicies.first { $0.tables.contains(name) }
    }

    /// The reindex policy listing `table` in its `tables`.
    public func reindexPolicy(forTable table: String) -> ReindexPolicy? {
        guard let name = Self.resolveName(table, among: reindexPolicies.flatMap(\.tables)) else { return nil }
        return reindexPolicies.first { $0.tables.contains(name) }
    }

    /// The reindex policy listing `index` in its `indexes`. An index of a table listed in
    /// `tables` is allowed too, but only a live database can tell which table an index is on.
    public func reindexPolicy(forIndex index: String) -> ReindexPolicy? {
        guard let name = Self.resolveName(index, among: reindexPolicies.flatMap(\.indexes)) else { return nil }
        return reindexPolicies.first { $0.indexes.contains(name) }
    }

    // MARK: Name resolution

    /// Resolves `text` against declared names: exact for `schema.name`; for a bare `name`, the
    /// single declared name with that name part (nil when none or several). Invalid text finds
    /// nothing. The one place a name from a message or a command meets the catalog.
    public static func resolveName(_ text: String, among names: [QualifiedName]) -> QualifiedName? {
        if QualifiedName.isUnqualified(text) {
            guard let bare = SQLIdentifier(text) else { return nil }
            let matches = Set(names.filter { $0.name == bare })
            return matches.count == 1 ? matches.first : nil
        }
        guard let qualified = try? QualifiedName(parsing: text) else { return nil }
        return names.contains(qualified) ? qualified : nil
    }

    static func resolve<T>(_ text: String, in items: [T], by key: KeyPath<T, QualifiedName>) -> T? {
        guard let name = resolveName(text, among: items.map { $0[keyPath: key] }) else { return nil }
        return items.first { $0[keyPath: key] == name }
    }
}
