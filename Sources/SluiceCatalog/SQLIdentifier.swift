// SQLIdentifier: one schema, table, view, index, column or role name that is safe to put in SQL.
//
// Security-critical: every identifier a job interpolates into SQL comes from the catalog through
// this type. The rule is deliberately narrower than Postgres's: lower-case ASCII letters, digits
// and underscores, starting with a letter or underscore, 1 to 63 bytes (NAMEDATALEN - 1). No
// quotes, dots, spaces, semicolons, `$` or upper case, so an identifier means the same thing
// quoted or not, and it is still always quoted when it reaches SQL.

public struct SQLIdentifier: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Postgres truncates names at NAMEDATALEN - 1 = 63 bytes; a longer name would silently
    /// refer to a different object, so it is rejected instead.
    public static let maxLength = 63

    /// Validates `text`; nil when it breaks the rule (see `check` for the reason).
    public init?(_ text: String) {
        guard Self.check(text) == nil else { return nil }
        rawValue = text
    }

    /// Validates `text`, throwing the reason it is not an identifier.
    public init(validating text: String) throws(IdentifierError) {
        if let error = Self.check(text) { throw error }
        rawValue = text
    }

    /// The reason `text` is not a valid identifier, or nil when it is.
    public static func check(_ text: String) -> IdentifierError? {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return IdentifierError(text, "is empty") }
        if bytes.count > maxLength {
            return IdentifierError(text, "is \(bytes.count) bytes long; Postgres names are at most \(maxLength)")
        }
        for b in bytes where !(isLower(b) || isDigit(b) || b == UInt8(ascii: "_")) {
            let what: String
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"): what = "a quote"
            case UInt8(ascii: "."): what = "a dot"
            case UInt8(ascii: ";"): what = "a semicolon"
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): what = "white space"
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): what = "an upper-case letter"
            default: what = "a character other than a-z, 0-9 and _"
            }
            return IdentifierError(text, "contains \(what); identifiers are lower-case letters, digits and underscores")
        }
        if isDigit(bytes[0]) {
            return IdentifierError(text, "starts with a digit; identifiers start with a lower-case letter or an underscore")
        }
        return nil
    }

    /// The identifier in double quotes: `"email_events"`. Quotes inside are doubled, although a
    /// validated identifier cannot contain any.
    public var quoted: String {
        "\"" + rawValue.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
    }

    public var description: String { rawValue }

    public static func < (a: SQLIdentifier, b: SQLIdentifier) -> Bool { a.rawValue < b.rawValue }

    private static func isLower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
    private static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}

extension SQLIdentifier {
    /// The schema objects land in when a declaration names none.
    public static let publicSchema = SQLIdentifier("public")!

    /// True for Postgres's own schemas (`pg_catalog`, `pg_toast`, `information_schema`, any
    /// `pg_*`), which destructive declarations (partition retention, cleanup) may not name.
    public var isSystemSchema: Bool { rawValue.hasPrefix("pg_") || rawValue == "information_schema" }
}
