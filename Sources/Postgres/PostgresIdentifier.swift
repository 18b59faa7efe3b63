// PostgresIdentifier: quoting of SQL identifiers (schema, table, column, index, role names).
//
// Identifiers cannot be bound as parameters, so statements that name catalog objects (VACUUM,
// REINDEX, partition DDL) must quote them. Values must still be bound, never quoted into SQL.

/// Helpers for SQL identifiers.
public enum PostgresIdentifier {
    /// `name` as a double-quoted identifier, embedded double quotes doubled:
    /// `my "table"` becomes `"my ""table"""`. The result is case-preserving.
    /// A NUL character cannot occur in an identifier; it is dropped.
    public static func quote(_ name: String) -> String {
        var s = "\""
        s.reserveCapacity(name.utf8.count + 2)
        for ch in name.unicodeScalars where ch != "\0" {
            if ch == "\"" { s.unicodeScalars.append("\"") }
            s.unicodeScalars.append(ch)
        }
        s += "\""
        return s
    }

    /// `schema.name`, each part quoted.
    public static func quote(schema: String, _ name: String) -> String {
        quote(schema) + "." + quote(name)
    }
}
