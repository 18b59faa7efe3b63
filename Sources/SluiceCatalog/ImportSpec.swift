// ImportSpec: what a file imported into one table may carry (`imports:` in the catalog).
//
// Each column names the target column, the header that feeds it (matched case-insensitively),
// its type and rules. The conflict key must be required columns (a row without its key cannot
// be deduplicated or upserted); the conflict policy says what an existing row gets. Limits bound
// a file's size and how many rejected rows an import tolerates before it aborts.

public struct ImportSpec: Sendable, Equatable {
    /// What happens to a row whose key already exists in the table.
    public enum ConflictPolicy: String, Sendable, CaseIterable {
        /// Rewrite the non-key columns, only when a value changed.
        case update
        /// Keep the existing row; the file's row counts as skipped.
        case skip
        /// Fail the import (nothing is written) when any key exists.
        case error
    }

    public var name: SQLIdentifier
    public var table: QualifiedName
    public var columns: [ImportColumn]
    /// Columns of the conflict key, in the order of the table's unique index.
    public var key: [SQLIdentifier]
    public var onConflict: ConflictPolicy
    /// Largest accepted file, in bytes (as stored; a gzip file counts compressed).
    public var maxFileBytes: Int
    /// More rejected rows than this aborts the import; nothing is written.
    public var maxRejects: Int
    public var targets: [String]
    public var location: SourceLocation

    public static let defaultMaxFileBytes = 1 << 30
    public static let defaultMaxRejects = 1000

    public init(name: SQLIdentifier, table: QualifiedName, columns: [ImportColumn], key: [SQLIdentifier],
                onConflict: ConflictPolicy = .update, maxFileBytes: Int = ImportSpec.defaultMaxFileBytes,
                maxRejects: Int = ImportSpec.defaultMaxRejects, targets: [String] = [], location: SourceLocation) {
        self.name = name
        self.table = table
        self.columns = columns
        self.key = key
        self.onConflict = onConflict
        self.maxFileBytes = maxFileBytes
        self.maxRejects = maxRejects
        self.targets = targets
        self.location = location
    }

    /// The column whose header is `header` (case-insensitive, surrounding spaces ignored).
    public func column(forHeader header: String) -> ImportColumn? {
        let wanted = header.trimmingASCIISpaces().lowercased()
        return columns.first { $0.header.lowercased() == wanted }
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}

/// One column an import file may carry.
public struct ImportColumn: Sendable, Equatable {
    public enum ValueType: String, Sendable, CaseIterable {
        case text, email, uuid, integer, decimal, boolean, timestamp, json_object, text_array
    }

    /// Accepted spellings of a timestamp.
    public enum TimestampFormat: String, Sendable, CaseIterable {
        /// `2026-11-22T10:00:00Z`, `2026-11-22 10:00:00.123+01:00`, `2026-11-22T10:00` (UTC when no offset).
        case iso8601
        /// `2026-11-22` (midnight UTC).
        case date
        /// Seconds since 1970 (`1795000000`, `1795000000.5`).
        case unix
    }

    /// What an empty cell does (`on_empty`). Defaults apply to inserted rows only: by default an
    /// empty cell leaves an existing row's stored value alone.
    public enum OnEmpty: String, Sendable, CaseIterable {
        /// An inserted row gets the column's default (NULL without one); an existing row keeps its value.
        case keep
        /// The column's default (NULL without one), on inserted and existing rows alike.
        case `default`
        /// NULL, on inserted and existing rows alike (refused for a NOT NULL column).
        case null
    }

    public var column: SQLIdentifier
    /// The header naming this column in a file; the column's name unless the catalog says otherwise.
    public var header: String
    public var type: ValueType
    /// An empty value is rejected (otherwise it follows `onEmpty`).
    public var required: Bool
    /// Longest value in characters (text, email).
    public var maxLength: Int?
    /// Bounds for integer and decimal values.
    public var min: Double?
    public var max: Double?
    /// The only values allowed (compared after lowercasing when `lowercase`).
    public var oneOf: [String]?
    /// Timestamp spellings accepted, in order; ISO 8601 by default.
    public var formats: [TimestampFormat]
    /// Lowercases the value before checking and loading it (emails, keys compared in lower case).
    public var lowercase: Bool
    /// What an empty cell does; `keep` by default.
    public var onEmpty: OnEmpty

    public init(column: SQLIdentifier, header: String? = nil, type: ValueType = .text, required: Bool = false,
                maxLength: Int? = nil, min: Double? = nil, max: Double? = nil, oneOf: [String]? = nil,
                formats: [TimestampFormat] = [.iso8601], lowercase: Bool = false, onEmpty: OnEmpty = .keep) {
        self.column = column
        self.header = header ?? column.rawValue
        self.type = type
        self.required = required
        self.maxLength = maxLength
        self.min = min
        self.max = max
        self.oneOf = oneOf
        self.formats = formats
        self.lowercase = lowercase
        self.onEmpty = onEmpty
    }
}

extension String {
    package func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

extension Catalog {
    /// The import spec named `name`, nil when undeclared.
    public func importSpec(named name: String) -> ImportSpec? { imports.first { $0.name.rawValue == name } }
}
