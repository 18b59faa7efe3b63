// PartitionedTable: a table the partitions job keeps: partitions made ahead, old ones retired.
//
// Partitions are ranges of `interval` on `column`, with UTC boundaries, named
// `<table>_pYYYY_MM` (monthly) or `<table>_pYYYY_MM_DD` (weekly: the Monday; daily), the same
// names jobs/demo/schema.sql creates. Retention retires a partition whose whole range is older
// than `retention`: `detach` keeps it as a plain table, `drop` deletes it, `archive` detaches it
// and moves it into `archiveSchema`.

public struct PartitionedTable: Sendable, Equatable {
    public enum Interval: String, Sendable, CaseIterable {
        case daily, weekly, monthly
    }

    public enum RetentionMode: String, Sendable, CaseIterable {
        case detach, drop, archive
    }

    public var table: QualifiedName
    /// The partition key column (a timestamp or date).
    public var column: SQLIdentifier
    public var interval: Interval
    /// Partitions kept ready beyond the current one. Default 4.
    public var premake: Int
    /// Nil keeps every partition.
    public var retention: CalendarInterval?
    public var retentionMode: RetentionMode
    /// Set exactly when `retentionMode` is `.archive`.
    public var archiveSchema: SQLIdentifier?
    /// Targets this declaration applies to; empty means every target.
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultPremake = 4

    public init(
        table: QualifiedName, column: SQLIdentifier, interval: Interval = .monthly,
        premake: Int = PartitionedTable.defaultPremake, retention: CalendarInterval? = nil,
        retentionMode: RetentionMode = .detach, archiveSchema: SQLIdentifier? = nil, targets: [String] = [],
        location: SourceLocation
    ) {
        self.table = table
        self.column = column
        self.interval = interval
        self.premake = premake
        self.retention = retention
        self.retentionMode = retentionMode
        self.archiveSchema = archiveSchema
        self.targets = targets
        self.location = location
    }

    /// Length of the suffix partition names add to the table name (`_p2026_11`, `_p2026_11_23`).
    public static func partitionSuffixLength(_ interval: Interval) -> Int { interval == .monthly ? 9 : 12 }

    /// The partition holding the period that starts on the given UTC date (for weekly, the
    /// Monday). The catalog checks that every such name fits in 63 bytes.
    public func partitionName(year: Int, month: Int, day: Int) -> SQLIdentifier {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let suffix = interval == .monthly ? "_p\(year)_\(two(month))" : "_p\(year)_\(two(month))_\(two(day))"
        // The table name is a valid identifier of at most 63 - suffix bytes (checked at load),
        // and the suffix adds only digits and underscores.
        return SQLIdentifier(table.name.rawValue + suffix)!
    }

    /// The name of the DEFAULT partition the partitions job checks: `<table>_default` (it fits:
    /// the suffix `_default` is shorter than any partition suffix).
    public var defaultPartitionName: SQLIdentifier { SQLIdentifier(table.name.rawValue + "_default")! }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}
