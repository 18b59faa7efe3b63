// QualifiedName: `schema.name`, the way the catalog names a table, view or index.
//
// Parsing accepts `name` (schema `public`) or `schema.name`: exactly one dot, each part a valid
// `SQLIdentifier`. `a.b.c`, quoted names and anything else are rejected. `quoted` is the only
// form jobs put in SQL: `"schema"."name"`.

public struct QualifiedName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let schema: SQLIdentifier
    public let name: SQLIdentifier

    public init(schema: SQLIdentifier, name: SQLIdentifier) {
        self.schema = schema
        self.name = name
    }

    /// Parses `name` or `schema.name`; an unqualified name gets `defaultSchema`.
    public init(parsing text: String, defaultSchema: SQLIdentifier = .publicSchema) throws(IdentifierError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            schema = defaultSchema
            name = try SQLIdentifier(validating: text)
        case 2:
            if let e = SQLIdentifier.check(String(parts[0])) {
                throw IdentifierError(text, "has a schema part that \(e.reason)")
            }
            if let e = SQLIdentifier.check(String(parts[1])) {
                throw IdentifierError(text, "has a name part that \(e.reason)")
            }
            schema = SQLIdentifier(String(parts[0]))!
            name = SQLIdentifier(String(parts[1]))!
        default:
            throw IdentifierError(text, "has \(parts.count - 1) dots; write name or schema.name")
        }
    }

    /// True when `text` has no schema part.
    public static func isUnqualified(_ text: String) -> Bool { !text.contains(".") }

    /// `"schema"."name"`.
    public var quoted: String { schema.quoted + "." + name.quoted }

    /// `schema.name`, unquoted: for messages, Redis keys and catalog lookups.
    public var description: String { "\(schema.rawValue).\(name.rawValue)" }

    public static func < (a: QualifiedName, b: QualifiedName) -> Bool { (a.schema, a.name) < (b.schema, b.name) }
}
