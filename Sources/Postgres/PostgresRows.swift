// PostgresRows: the result of one statement: its rows, column names, affected-row count and
// the notices the server sent while it ran.
//
// Rows are read lazily from libpq's result buffer (kept alive by the rows), so a large result
// is not converted cell by cell until decoded. Values are in text format.

/// The result of a statement.
public struct PostgresRows: RandomAccessCollection, Sendable {
    let result: PGResultHandle?
    /// Column names, in order.
    public let columns: [String]
    /// Rows inserted, updated, deleted, copied, fetched… (PQcmdTuples); 0 when not applicable.
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 3`, `VACUUM`, `COMMIT`, `ROLLBACK`.
    public let commandTag: String
    /// NOTICE/WARNING/INFO messages the server sent during the statement.
    public let notices: [PostgresNotice]

    init(result: PGResultHandle?, affectedRows: Int, commandTag: String, notices: [PostgresNotice]) {
        self.result = result
        self.columns = result.map { r in (0..<r.columnCount).map { r.columnName($0) } } ?? []
        self.affectedRows = affectedRows
        self.commandTag = commandTag
        self.notices = notices
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { result?.rowCount ?? 0 }

    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < endIndex, "row index out of range")
        return PostgresRow(rows: self, index: position)
    }

    /// The index of the column named `name` (exact match), or nil.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }
}
