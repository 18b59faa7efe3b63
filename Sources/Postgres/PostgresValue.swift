// PostgresValue: a value bound to a statement parameter ($1…$n) or written by COPY.
//
// Values travel in Postgres's text format. Each case except `.text` and `.null` declares its
// type to the server, so `SELECT $1` works for every case and comparisons need no casts; `.text`
// stays untyped ("unknown") so it adapts to the column it meets (text, varchar, enums, dates…).
// Note that `.int` is a bigint: functions taking `integer` need `$1::int`.

import Foundation

/// A bindable value.
public enum PostgresValue: Sendable, Hashable {
    case null
    /// Text, sent untyped so the server infers the type from context. Must not contain NUL.
    case text(String)
    /// bigint (int8).
    case int(Int)
    /// double precision (float8); NaN and ±infinity are allowed.
    case double(Double)
    case bool(Bool)
    /// timestamptz, sent as ISO 8601 in UTC with microseconds.
    case timestamp(Date)
    case uuid(UUID)
    /// bytea, sent in hex format.
    case bytes([UInt8])
    /// Raw JSON text, bound as jsonb (assignable to json columns too).
    case json(String)
    /// text[]; nil elements are SQL NULL (distinct from the string "NULL").
    case textArray([String?])
    /// bigint[]; nil elements are SQL NULL.
    case intArray([Int?])

    /// The type OID declared for the parameter (0 lets the server infer it).
    var typeOID: UInt32 {
        switch self {
        case .null, .text: return 0
        case .int: return PostgresTypeOID.int8
        case .double: return PostgresTypeOID.float8
        case .bool: return PostgresTypeOID.bool
        case .timestamp: return PostgresTypeOID.timestamptz
        case .uuid: return PostgresTypeOID.uuid
        case .bytes: return PostgresTypeOID.bytea
        case .json: return PostgresTypeOID.jsonb
        case .textArray: return PostgresTypeOID.textArray
        case .intArray: return PostgresTypeOID.int8Array
        }
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

// MARK: Pleasant call sites: literals and `.init` helpers

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension PostgresValue {
    public init(_ value: String) { self = .text(value) }
    public init<I: BinaryInteger>(_ value: I) { self = .int(Int(value)) }
    public init(_ value: Double) { self = .double(value) }
    public init(_ value: Bool) { self = .bool(value) }
    public init(_ value: Date) { self = .timestamp(value) }
    public init(_ value: UUID) { self = .uuid(value) }
    public init(_ value: [UInt8]) { self = .bytes(value) }
    public init(_ value: [String]) { self = .textArray(value) }
    public init(_ value: [String?]) { self = .textArray(value) }
    public init(_ value: [Int]) { self = .intArray(value) }
    public init(_ value: [Int?]) { self = .intArray(value) }
    /// Raw JSON text (not validated here; the server rejects malformed JSON).
    public init(json: String) { self = .json(json) }

    public init(_ value: String?) { self = value.map { .text($0) } ?? .null }
    public init<I: BinaryInteger>(_ value: I?) { self = value.map { .int(Int($0)) } ?? .null }
    public init(_ value: Double?) { self = value.map { .double($0) } ?? .null }
    public init(_ value: Bool?) { self = value.map { .bool($0) } ?? .null }
    public init(_ value: Date?) { self = value.map { .timestamp($0) } ?? .null }
    public init(_ value: UUID?) { self = value.map { .uuid($0) } ?? .null }
    public init(_ value: [UInt8]?) { self = value.map { .bytes($0) } ?? .null }
    public init(json: String?) { self = json.map { .json($0) } ?? .null }
}

extension PostgresValue: CustomStringConvertible {
    /// The case name only: values are never printed (they may be secrets or payloads).
    public var description: String {
        switch self {
        case .null: return "NULL"
        case .text: return "text(…)"
        case .int: return "int(…)"
        case .double: return "double(…)"
        case .bool: return "bool(…)"
        case .timestamp: return "timestamp(…)"
        case .uuid: return "uuid(…)"
        case .bytes: return "bytes(…)"
        case .json: return "json(…)"
        case .textArray: return "textArray(…)"
        case .intArray: return "intArray(…)"
        }
    }
}

/// Type OIDs the client uses (pg_type.oid, stable across versions).
public enum PostgresTypeOID {
    public static let bool: UInt32 = 16
    public static let bytea: UInt32 = 17
    public static let char: UInt32 = 18
    public static let name: UInt32 = 19
    public static let int8: UInt32 = 20
    public static let int2: UInt32 = 21
    public static let int4: UInt32 = 23
    public static let text: UInt32 = 25
    public static let oid: UInt32 = 26
    public static let json: UInt32 = 114
    public static let float4: UInt32 = 700
    public static let float8: UInt32 = 701
    public static let unknown: UInt32 = 705
    public static let boolArray: UInt32 = 1000
    public static let int2Array: UInt32 = 1005
    public static let int4Array: UInt32 = 1007
    public static let textArray: UInt32 = 1009
    public static let varcharArray: UInt32 = 1015
    public static let int8Array: UInt32 = 1016
    public static let bpchar: UInt32 = 1042
    public static let varchar: UInt32 = 1043
    public static let date: UInt32 = 1082
    public static let timestamp: UInt32 = 1114
    public static let timestamptz: UInt32 = 1184
    public static let numeric: UInt32 = 1700
    public static let uuid: UInt32 = 2950
    public static let jsonb: UInt32 = 3802
}
