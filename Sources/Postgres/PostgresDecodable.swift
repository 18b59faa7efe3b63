// PostgresDecodable: Swift types a result cell can be decoded into.
//
// Conformances here: String, Int, Int64, Int32, Int16, Double, Bool, Date, UUID, [UInt8]
// (bytea), arrays of String / Int / Int64 / Int32 / Double / Bool / UUID (and of their
// optionals), and Optional of each. Decoding reads the text format and checks the column type
// where the text alone is ambiguous (bool, bytea, timestamps). Timestamps parse in any session
// TimeZone because the offset is in the text; the connection sets `TimeZone=UTC` anyway.

import ClientSupport
import Foundation

/// A type that can be decoded from a result cell.
public protocol PostgresDecodable {
    /// Decodes a non-NULL cell.
    static func decode(from cell: PostgresCell) throws(PostgresError) -> Self
    /// Decodes SQL NULL. The default throws a `.decoding` error naming the column.
    static func decodeNull(from cell: PostgresCell) throws(PostgresError) -> Self
}

extension PostgresDecodable {
    public static func decodeNull(from cell: PostgresCell) throws(PostgresError) -> Self {
        throw cell.decodingError("is NULL, but \(Self.self) is not optional")
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Wrapped? {
        try Wrapped.decode(from: cell)
    }
    public static func decodeNull(from cell: PostgresCell) throws(PostgresError) -> Wrapped? { nil }
}

extension String: PostgresDecodable {
    /// Any column's text form.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> String { cell.string }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int {
        guard let v = cell.withUnsafeBytes({ PostgresTextFormat.parseInt($0) }) else {
            throw cell.decodingError("not an integer in Int's range")
        }
        return v
    }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int64 {
        Int64(try Int.decode(from: cell))
    }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int32 {
        guard let v = Int32(exactly: try Int.decode(from: cell)) else {
            throw cell.decodingError("integer out of Int32's range")
        }
        return v
    }
}

extension Int16: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Int16 {
        guard let v = Int16(exactly: try Int.decode(from: cell)) else {
            throw cell.decodingError("integer out of Int16's range")
        }
        return v
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Double {
        guard let v = cell.withUnsafeBytes({ PostgresTextFormat.parseDouble($0) }) else {
            throw cell.decodingError("not a number")
        }
        return v
    }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Bool {
        let text = cell.withUnsafeBytes { Array($0) }
        guard text.count == 1, text[0] == UInt8(ascii: "t") || text[0] == UInt8(ascii: "f") else {
            throw cell.decodingError("not a boolean ('t' or 'f')")
        }
        return text[0] == UInt8(ascii: "t")
    }
}

extension Date: PostgresDecodable {
    /// timestamptz (any session TimeZone), timestamp (read as UTC) or date (midnight UTC);
    /// `infinity` / `-infinity` become `distantFuture` / `distantPast`.
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> Date {
        guard let v = cell.withUnsafeBytes({ PostgresTextFormat.parseTimestamp($0) }) else {
            throw cell.decodingError("not an ISO timestamp")
        }
        return v
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> UUID {
        guard let v = UUIDText.parse(cell.string) else { throw cell.decodingError("not a UUID") }
        return v
    }
}

// MARK: Arrays

/// A type that can be an element of a decoded array (`[String]`, `[Int?]`, …).
public protocol PostgresArrayElement {
    /// Decodes one element's text; nil text is an SQL NULL element.
    static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Self
    /// Lets an element type decode the whole cell another way (`[UInt8]` from bytea).
    static func decodeWholeArray(from cell: PostgresCell) throws(PostgresError) -> [Self]?
}

extension PostgresArrayElement {
    public static func decodeWholeArray(from cell: PostgresCell) throws(PostgresError) -> [Self]? { nil }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public static func decode(from cell: PostgresCell) throws(PostgresError) -> [Element] {
        if let whole = try Element.decodeWholeArray(from: cell) { return whole }
        guard let texts = cell.withUnsafeBytes({ PostgresTextFormat.parseArray($0) }) else {
            throw cell.decodingError("not a one-dimensional array")
        }
        var result: [Element] = []
        result.reserveCapacity(texts.count)
        for text in texts { result.append(try Element.decodeElement(text, in: cell)) }
        return result
    }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Wrapped? {
        guard let text else { return nil }
        return try Wrapped.decodeElement(text, in: cell)
    }
}

extension PostgresArrayElement {
    static func requireElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> String {
        guard let text else {
            throw cell.decodingError("array has a NULL element, but \(Self.self) is not optional")
        }
        return text
    }
}

extension String: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> String {
        try requireElement(text, in: cell)
    }
}

extension Int: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Int {
        var t = try requireElement(text, in: cell)
        guard let v = t.withUTF8({ PostgresTextFormat.parseInt(UnsafeRawBufferPointer($0)) }) else {
            throw cell.decodingError("array element is not an integer")
        }
        return v
    }
}

extension Int64: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Int64 {
        Int64(try Int.decodeElement(text, in: cell))
    }
}

extension Int32: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Int32 {
        guard let v = Int32(exactly: try Int.decodeElement(text, in: cell)) else {
            throw cell.decodingError("array element out of Int32's range")
        }
        return v
    }
}

extension Double: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Double {
        var t = try requireElement(text, in: cell)
        guard let v = t.withUTF8({ PostgresTextFormat.parseDouble(UnsafeRawBufferPointer($0)) }) else {
            throw cell.decodingError("array element is not a number")
        }
        return v
    }
}

extension Bool: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> Bool {
        switch try requireElement(text, in: cell) {
        case "t": return true
        case "f": return false
        default: throw cell.decodingError("array element is not a boolean")
        }
    }
}

extension UUID: PostgresArrayElement {
    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> UUID {
        guard let v = UUIDText.parse(try requireElement(text, in: cell)) else {
            throw cell.decodingError("array element is not a UUID")
        }
        return v
    }
}

extension UInt8: PostgresArrayElement {
    /// `[UInt8]` decodes a bytea column (hex format).
    public static func decodeWholeArray(from cell: PostgresCell) throws(PostgresError) -> [UInt8]? {
        guard cell.typeOID == PostgresTypeOID.bytea else {
            throw cell.decodingError("[UInt8] decodes only bytea columns")
        }
        guard let bytes = cell.withUnsafeBytes({ PostgresTextFormat.parseByteaHex($0) }) else {
            throw cell.decodingError("not bytea in hex format")
        }
        return bytes
    }

    public static func decodeElement(_ text: String?, in cell: PostgresCell) throws(PostgresError) -> UInt8 {
        throw cell.decodingError("[UInt8] decodes only bytea columns")
    }
}
