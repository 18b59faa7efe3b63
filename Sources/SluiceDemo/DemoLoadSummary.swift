// DemoLoadSummary: what a demo load wrote and how fast: rows and seconds per table, totals,
// and the finishing steps (VACUUM (ANALYZE), view refreshes).

public struct DemoLoadSummary: Sendable {
    public struct Table: Sendable {
        public var name: String
        public var rows: Int
        public var seconds: Double
        public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }
    }

    public var seed: UInt64
    public var tables: [Table]
    /// Seconds from the first COPY to the commit: copying rows and rebuilding keys and indexes.
    public var copySeconds: Double
    /// The part of `copySeconds` spent rebuilding the big tables' keys and indexes.
    public var indexSeconds: Double
    /// Seconds spent on VACUUM (ANALYZE) and refreshing the views.
    public var finishSeconds: Double
    /// Seconds for the whole load, schema and partitions included.
    public var totalSeconds: Double
    /// Rows found in the DEFAULT partitions after loading (0 unless partitions were missing).
    public var defaultPartitionRows: Int
    /// Whether the schema was applied by this load.
    public var appliedSchema: Bool

    public var totalRows: Int { tables.reduce(0) { $0 + $1.rows } }
    /// Throughput over all tables, index rebuilding included.
    public var rowsPerSecond: Double { copySeconds > 0 ? Double(totalRows) / copySeconds : 0 }

    public func rows(of table: String) -> Int? { tables.first { $0.name == table }?.rows }

    public var dictionary: [String: Any] {
        [
            "seed": seed, "total_rows": totalRows, "copy_seconds": copySeconds, "index_seconds": indexSeconds, "rows_per_s": rowsPerSecond,
            "finish_seconds": finishSeconds, "total_seconds": totalSeconds, "default_partition_rows": defaultPartitionRows,
            "applied_schema": appliedSchema,
            "tables": tables.map { ["table": $0.name, "rows": $0.rows, "seconds": $0.seconds, "rows_per_s": $0.rowsPerSecond] as [String: Any] },
        ]
    }
}
