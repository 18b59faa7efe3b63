// SegmentField: one field segment rules may test, with the operators allowed on it, as declared
// under `segments: fields:`. SegmentSource is the table segments select from.
//
// A field maps a rule's field name to a column of the segment table (or, for a `lookup` field, a
// column of a view joined by the table's key). Rule field names are looked up here and nowhere
// else: a name the catalog does not declare is an error, never SQL.

import SluiceCore

public struct SegmentField: Sendable, Equatable {
    /// How values of the field are compared; decides which operators make sense.
    public enum FieldType: String, Sendable, CaseIterable {
        /// text column: equals, not_equals, contains, not_contains, starts_with, ends_with, in.
        case text
        /// text[] column: contains (all of the values), not_contains (none of them).
        case tags
        /// timestamptz column: after, before, between.
        case timestamp
        /// jsonb object column, addressed as `field.KEY`: equals, contains.
        case object
    }

    public enum Operator: String, Sendable, CaseIterable {
        case equals, notEquals = "not_equals", contains, notContains = "not_contains"
        case startsWith = "starts_with", endsWith = "ends_with", `in`
        case after, before, between
    }

    /// A column of another relation, found through the segment table's key (`view.key = table.key`).
    public struct Lookup: Sendable, Equatable {
        public var relation: QualifiedName
        public var key: SQLIdentifier
        public var column: SQLIdentifier
        /// The relation's tenant column, when it has one: the lookup is then confined to the
        /// segment's tenant (`view.tenant = $1`), so an index on (tenant, column) serves it.
        public var tenant: SQLIdentifier?
        public init(relation: QualifiedName, key: SQLIdentifier, column: SQLIdentifier, tenant: SQLIdentifier? = nil) {
            self.relation = relation
            self.key = key
            self.column = column
            self.tenant = tenant
        }
    }

    /// The name rules use (`email`, `custom_fields`, `engagement_level`).
    public var name: String
    public var type: FieldType
    /// The column of the segment table (ignored for a lookup field).
    public var column: SQLIdentifier
    public var operators: [Operator]
    /// When set, the only values allowed (a status list); checked before any SQL.
    public var values: [String]?
    public var lookup: Lookup?
    public var location: SourceLocation

    public init(name: String, type: FieldType, column: SQLIdentifier, operators: [Operator], values: [String]? = nil,
                lookup: Lookup? = nil, location: SourceLocation) {
        self.name = name
        self.type = type
        self.column = column
        self.operators = operators
        self.values = values
        self.lookup = lookup
        self.location = location
    }

    /// The operators that make sense for a type (a declaration may allow fewer).
    public static func operators(for type: FieldType) -> [Operator] {
        switch type {
        case .text: return [.equals, .notEquals, .contains, .notContains, .startsWith, .endsWith, .in]
        case .tags: return [.contains, .notContains]
        case .timestamp: return [.after, .before, .between]
        case .object: return [.equals, .contains]
        }
    }
}

/// The table segments select from, its tenant and key columns, the columns a page shows, and
/// the fields rules may test.
public struct SegmentSource: Sendable, Equatable {
    public var table: QualifiedName
    /// The tenant column every segment is confined to (`workspace_id`, a uuid).
    public var tenant: SQLIdentifier
    /// The row key, stored for saved segments and used by lookups (`id`, a uuid).
    public var key: SQLIdentifier
    /// Columns of a page of members, in order.
    public var columns: [SQLIdentifier]
    /// The page order (`created_at DESC`, then the key).
    public var orderBy: SQLIdentifier
    public var fields: [SegmentField]
    public var location: SourceLocation

    public init(table: QualifiedName, tenant: SQLIdentifier, key: SQLIdentifier, columns: [SQLIdentifier],
                orderBy: SQLIdentifier, fields: [SegmentField], location: SourceLocation) {
        self.table = table
        self.tenant = tenant
        self.key = key
        self.columns = columns
        self.orderBy = orderBy
        self.fields = fields
        self.location = location
    }

    public func field(named name: String) -> SegmentField? { fields.first { $0.name == name } }
}
