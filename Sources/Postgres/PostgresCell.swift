// PostgresCell: one value of a result row in Postgres's text format, with its column's type.
//
// What a `PostgresDecodable` type decodes from. The bytes stay in libpq's result buffer; the
// cell keeps that buffer alive.

/// One value of a result row.
public struct PostgresCell: Sendable {
    let result: PGResultHandle
    /// 0-based row index.
    public let row: Int
    /// 0-based column index.
    public let column: Int
    public let columnName: String

    init(result: PGResultHandle, row: Int, column: Int, columnName: String) {
        self.result = result
        self.row = row
        self.column = column
        self.columnName = columnName
    }

    /// The column's type OID (see `PostgresTypeOID`).
    public var typeOID: UInt32 { result.typeOID(column) }
    public var isNull: Bool { result.isNull(row: row, column: column) }

    /// The text bytes (empty for NULL).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
    /// The text as a String (empty for NULL).
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// Calls `body` with the text bytes, without copying. Do not let the pointer escape.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(result.bytes(row: row, column: column))
    }

    /// A `.decoding` error naming this column and row (never the value).
    public func decodingError(_ reason: String) -> PostgresError {
        var e = PostgresError(.decoding, message: "column '\(columnName)' (type OID \(typeOID)): \(reason)")
        e.column = columnName
        e.row = row + 1
        return e
    }
}
