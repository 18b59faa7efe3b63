// JSONValue: a JSON document as a Swift value, for job arguments and results.
//
// Arguments arrive from the wire as untyped JSON and are decoded into each kind's typed
// arguments only after validation; results go to the ledger and Redis as JSON. Integers keep
// their exact value (Int64); other numbers are Doubles. Encoding sorts object keys so the
// same value always serializes to the same bytes (golden tests, unique keys, cache hashes).

import Foundation

public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int64(d)
        default: return nil
        }
    }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }
}

extension JSONValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        if let o = try? c.decode([String: JSONValue].self) { self = .object(o); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Parses JSON text. Throws `JSONValueError` with a readable reason.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        try JSONParser.parse(bytes)
    }

    public static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    /// Compact JSON with sorted keys: the same value always gives the same bytes (JSONWriter;
    /// non-finite doubles are written as null).
    public func encoded() -> [UInt8] {
        var w = JSONWriter()
        w.write(self)
        return w.bytes
    }

    public var jsonString: String { String(decoding: encoded(), as: UTF8.self) }

    /// Converts any Encodable value (a job's typed result) to a JSONValue.
    public init<T: Encodable>(encoding value: T) throws {
        let data = try JSONCoding.encoder.encode(value)
        self = try JSONCoding.decoder.decode(JSONValue.self, from: data)
    }

    /// Decodes a typed value from this JSON; errors name the field path.
    public func decode<T: Decodable>(_ type: T.Type) throws(JSONValueError) -> T {
        do {
            let data = try JSONCoding.encoder.encode(self)
            return try JSONCoding.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw JSONValueError(reason: JSONCoding.describe(error), field: JSONCoding.path(of: error))
        } catch {
            throw JSONValueError(reason: "\(error)")
        }
    }
}

/// JSON that did not parse, or did not fit the expected shape. `field` is a dotted path
/// (`partitions.0.table`) when the problem is in one field.
public struct JSONValueError: Error, CustomStringConvertible, Equatable {
    public var reason: String
    public var field: String?
    public init(reason: String, field: String? = nil) {
        self.reason = reason
        self.field = field
    }
    public var description: String { field.map { "\($0): \(reason)" } ?? reason }
}

/// The shared encoder and decoder: sorted keys, ISO 8601 dates with milliseconds, UTC.
public enum JSONCoding {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Timestamp.format(date))
        }
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            guard let date = Timestamp.parse(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not an ISO 8601 UTC timestamp")
            }
            return date
        }
        return d
    }()

    static func path(of error: DecodingError) -> String? {
        let path: [CodingKey]
        switch error {
        case .keyNotFound(let key, let ctx): path = ctx.codingPath + [key]
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx): path = ctx.codingPath
        @unknown default: return nil
        }
        let parts = path.map { $0.intValue.map(String.init) ?? $0.stringValue }
        return parts.isEmpty ? nil : parts.joined(separator: ".")
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound: return "is required"
        case .typeMismatch(let type, _): return "expected \(typeName(type))"
        case .valueNotFound(let type, _): return "expected \(typeName(type)), found null"
        case .dataCorrupted(let ctx):
            if let underlying = ctx.underlyingError as? NSError, ctx.codingPath.isEmpty {
                return "malformed JSON (\(underlying.localizedDescription))"
            }
            return ctx.debugDescription
        @unknown default: return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }
}
