// PostgresRow: one row of a result, decoded column by column into Swift types.
//
// `row.decode(0, as: Int.self)` or `try row["name", as: String.self]`. NULL decodes to nil for
// optional types and is a `.decoding` error naming the column otherwise.

/// One row of a `PostgresRows`.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    /// 0-based index of the row in its result.
    public let index: Int

    public var columns: [String] { rows.columns }

    /// The raw cell at `column` (0-based).
    public func cell(_ column: Int) throws(PostgresError) -> PostgresCell {
        guard let result = rows.result, column >= 0, column < result.columnCount else {
            var e = PostgresError(.decoding, message: "no column at index \(column) (the result has \(columns.count))")
            e.row = index + 1
            throw e
        }
        return PostgresCell(result: result, row: index, column: column, columnName: rows.columns[column])
    }

    /// The raw cell of the column named `name`.
    public func cell(_ name: String) throws(PostgresError) -> PostgresCell {
        guard let column = rows.columnIndex(name) else {
            var e = PostgresError(.decoding, message: "no column named '\(name)' (columns: \(columns.joined(separator: ", ")))")
            e.row = index + 1
            throw e
        }
        return try cell(column)
    }

    /// Decodes the value at `column` (0-based).
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws(PostgresError) -> T {
        let c = try cell(column)
        return c.isNull ? try T.decodeNull(from: c) : try T.decode(from: c)
    }

    /// Decodes the value of the column named `name`.
    public func decode<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        let c = try cell(name)
        return c.isNull ? try T.decodeNull(from: c) : try T.decode(from: c)
    }

    public subscript<T: PostgresDecodable>(_ column: Int, as type: T.Type) -> T {
        get throws(PostgresError) { try decode(column, as: type) }
    }

    public subscript<T: PostgresDecodable>(_ name: String, as type: T.Type) -> T {
        get throws(PostgresError) { try decode(name, as: type) }
    }

    public func isNull(_ column: Int) throws(PostgresError) -> Bool { try cell(column).isNull }
}
