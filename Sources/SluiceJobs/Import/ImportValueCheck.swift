// ImportValueCheck: one field of an import file checked against its column's type and rules,
// giving the value COPY sends or the reason the row is rejected.
//
// Reasons name the rule, never the value (a file may hold personal data, and reasons end up in
// results and logs). Values that are checked here are sent to Postgres in their text form, so
// the server parses them once more; the checks are strict enough that it never refuses one.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore

public enum ImportValueCheck {
    /// The value of `bytes` for `column`: `.success(value)` or `.failure(reason)`.
    public static func check(_ bytes: [UInt8], _ column: ImportColumn) -> Result<PostgresValue, ImportReject.Reason> {
        if bytes.contains(0) { return .failure(.init("contains a NUL byte")) }
        guard var text = utf8String(bytes) else { return .failure(.init("is not valid UTF-8")) }
        return check(text: &text, column)
    }

    /// `bytes` as a String when they are valid UTF-8. ASCII (most values) takes the direct path:
    /// `String(validating:as:)` is generic and, unspecialized here, looked its metadata up at
    /// run time on every value (about a tenth of an import's read phase in `perf`).
    static func utf8String(_ bytes: [UInt8]) -> String? {
        var ascii = true
        for b in bytes where b >= 0x80 {
            ascii = false
            break
        }
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The same check for a value already decoded (NDJSON strings).
    public static func check(text: inout String, _ column: ImportColumn) -> Result<PostgresValue, ImportReject.Reason> {
        if column.type != .text, column.type != .json_object { text = trim(text) }
        if text.isEmpty {
            return column.required ? .failure(.init("is required but empty")) : .success(.null)
        }
        if column.lowercase { text = text.lowercased() }
        switch column.type {
        case .text:
            if let max = column.maxLength, text.count > max { return .failure(.init("is longer than \(max) characters")) }
        case .email:
            if text.count > (column.maxLength ?? 320) { return .failure(.init("is longer than \(column.maxLength ?? 320) characters")) }
            if !isEmail(text) { return .failure(.init("is not a valid email address")) }
        case .uuid:
            guard isUUID(text) else { return .failure(.init("is not a UUID")) }
            return .success(.text(text.lowercased()))
        case .integer:
            guard let n = Int64(text) else { return .failure(.init("is not a whole number")) }
            if let min = column.min, Double(n) < min { return .failure(.init("is below the minimum \(format(min))")) }
            if let max = column.max, Double(n) > max { return .failure(.init("is above the maximum \(format(max))")) }
        case .decimal:
            guard isDecimal(text), let d = Double(text), d.isFinite else { return .failure(.init("is not a decimal number")) }
            if let min = column.min, d < min { return .failure(.init("is below the minimum \(format(min))")) }
            if let max = column.max, d > max { return .failure(.init("is above the maximum \(format(max))")) }
        case .boolean:
            switch text.lowercased() {
            case "true", "t", "yes", "y", "1": return .success(.bool(true))
            case "false", "f", "no", "n", "0": return .success(.bool(false))
            default: return .failure(.init("is not a boolean (true/false, yes/no, 1/0)"))
            }
        case .timestamp:
            for format in column.formats {
                if let value = timestamp(text, format) { return .success(value) }
            }
            return .failure(.init("is not a timestamp (\(column.formats.map(\.rawValue).joined(separator: ", ")))"))
        case .json_object:
            let bytes = Array(text.utf8)
            if bytes.withUnsafeBufferPointer({ JSONSyntax.isObject($0, postgresJSONB: true) }) { return .success(.json(text)) }
            guard let value = try? JSONValue.parse(bytes) else { return .failure(.init("is not valid JSON")) }
            guard case .object = value else { return .failure(.init("is JSON but not an object")) }
            return .failure(.init("holds the escape \\u0000, which a jsonb value cannot store"))
        case .text_array:
            guard let elements = arrayLiteral(text) else {
                return .failure(.init("is not an array literal such as {a,b,\"c d\"}"))
            }
            if let max = column.maxLength, elements.contains(where: { $0.count > max }) {
                return .failure(.init("has an element longer than \(max) characters"))
            }
            return .success(.textArray(elements))
        }
        if let allowed = column.oneOf, !allowed.contains(text) {
            return .failure(.init("is not one of the allowed values (\(allowed.prefix(8).joined(separator: ", "))\(allowed.count > 8 ? ", …" : ""))"))
        }
        return .success(.text(text))
    }

    /// Checks the field `bytes` (indexed from 0) for `column` and writes its COPY text into
    /// `writer`; nil when written, else the reason (and nothing written). The byte path covers
    /// ASCII cells of the common types (text, email, uuid, an ISO 8601 timestamp, a JSON object)
    /// without a String or a value per cell; anything else (non-ASCII, blanks to trim, `one_of`,
    /// a length to count in characters, numbers, booleans, arrays, other timestamp formats)
    /// goes through `check(_:_:)`, so both give the same bytes and the same reasons.
    static func encode(_ bytes: UnsafeBufferPointer<UInt8>, _ column: ImportColumn, scratch: inout [UInt8],
                       into writer: inout PostgresCopyTextWriter) -> ImportReject.Reason? {
        var ascii = true
        for b in bytes where b >= 0x80 || b == 0 {
            if b == 0 { return .init("contains a NUL byte") }
            ascii = false
        }
        let trims = column.type != .text && column.type != .json_object
        if ascii, !bytes.isEmpty, trims, bytes[0] == 0x20 || bytes[0] == 0x09 || bytes[bytes.count - 1] == 0x20 || bytes[bytes.count - 1] == 0x09 {
            ascii = false
        }
        guard ascii else { return fallback(bytes, column, into: &writer) }
        if bytes.isEmpty {
            if column.required { return .init("is required but empty") }
            writer.appendNull()
            return nil
        }
        guard column.lowercase else { return encodeASCII(bytes, column, into: &writer) }
        scratch.removeAll(keepingCapacity: true)
        for b in bytes { scratch.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b) }
        return scratch.withUnsafeBufferPointer { encodeASCII($0, column, into: &writer) }
    }

    /// `encode` for a non-empty ASCII cell, trimmed and lowercased as its column says.
    private static func encodeASCII(_ bytes: UnsafeBufferPointer<UInt8>, _ column: ImportColumn,
                                    into writer: inout PostgresCopyTextWriter) -> ImportReject.Reason? {
        switch column.type {
        case .text:
            if column.oneOf != nil { break }
            if let max = column.maxLength, bytes.count > max { break }
            _ = writer.appendEscaped(bytes)
            return nil
        case .email:
            if column.oneOf != nil || bytes.count > (column.maxLength ?? 320) { break }
            if !isEmail(bytes) { return .init("is not a valid email address") }
            _ = writer.appendEscaped(bytes)
            return nil
        case .uuid:
            if !isUUID(bytes) { return .init("is not a UUID") }
            for b in bytes { writer.buffer.append(b >= 0x41 && b <= 0x46 ? b | 0x20 : b) }
            return nil
        case .timestamp:
            guard column.formats.first == .iso8601, isISO8601(bytes) else { break }
            _ = writer.appendEscaped(bytes)
            return nil
        case .json_object:
            guard JSONSyntax.isObject(bytes, postgresJSONB: true) else { break }
            _ = writer.appendEscaped(bytes)
            return nil
        case .text_array:
            if column.maxLength != nil { break }
            let mark = writer.buffer.count
            if appendArrayLiteral(bytes, to: &writer.buffer) { return nil }
            writer.truncate(to: mark)
        default:
            break
        }
        return fallback(bytes, column, into: &writer)
    }

    private static func fallback(_ bytes: UnsafeBufferPointer<UInt8>, _ column: ImportColumn,
                                 into writer: inout PostgresCopyTextWriter) -> ImportReject.Reason? {
        switch check(Array(bytes), column) {
        case .success(let value):
            // `check` refused every NUL byte already.
            _ = writer.append(value)
            return nil
        case .failure(let reason):
            return reason
        }
    }

    static func format(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }

    static func trim(_ s: String) -> String {
        guard let f = s.utf8.first, let l = s.utf8.last else { return s }
        if f != 0x20 && f != 0x09 && l != 0x20 && l != 0x09 { return s }
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// A practical address check: one `@`, a non-empty local part of at most 64 printable
    /// characters without spaces or quotes, a domain of dot-separated labels (letters, digits,
    /// hyphens, not starting or ending with one) with at least one dot.
    static func isEmail(_ text: String) -> Bool { isEmail(Array(text.utf8)) }

    static func isEmail<C: RandomAccessCollection<UInt8>>(_ u: C) -> Bool where C.Index == Int {
        guard !u.isEmpty, let at = u.firstIndex(of: UInt8(ascii: "@")), at > 0, at <= 64, at < u.count - 3 else { return false }
        for c in u[..<at] {
            if c <= 0x20 || c == 0x22 || c == 0x28 || c == 0x29 || c == 0x2C || c == 0x3A || c == 0x3B || c == 0x3C
                || c == 0x3E || c == 0x40 || c == 0x5B || c == 0x5C || c == 0x5D || c == 0x7F { return false }
        }
        if u[u.startIndex] == 0x2E || u[at - 1] == 0x2E { return false }
        let domain = u[(at + 1)...]
        var labels = 0
        var labelLength = 0
        var previous: UInt8 = 0x2E
        for c in domain {
            if c == 0x2E {
                if labelLength == 0 || previous == 0x2D { return false }
                labels += 1
                labelLength = 0
            } else {
                let ok = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c >= 0x80
                if !ok || (labelLength == 0 && c == 0x2D) { return false }
                labelLength += 1
                if labelLength > 63 { return false }
            }
            previous = c
        }
        return labels >= 1 && labelLength > 0 && previous != 0x2D
    }

    static func isUUID(_ text: String) -> Bool { isUUID(Array(text.utf8)) }

    static func isUUID<C: Collection<UInt8>>(_ u: C) -> Bool {
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != 0x2D { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) {
                return false
            }
        }
        return true
    }

    static func isDecimal(_ text: String) -> Bool {
        var u = Substring(text).utf8[...]
        if let f = u.first, f == 0x2B || f == 0x2D { u = u.dropFirst() }
        var digits = 0
        var seenDot = false
        while let c = u.first {
            if c >= 0x30 && c <= 0x39 { digits += 1 } else if c == 0x2E, !seenDot { seenDot = true } else { break }
            u = u.dropFirst()
        }
        guard digits > 0 else { return false }
        if let e = u.first, e == 0x65 || e == 0x45 {
            u = u.dropFirst()
            if let s = u.first, s == 0x2B || s == 0x2D { u = u.dropFirst() }
            guard !u.isEmpty, u.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
            return true
        }
        return u.isEmpty
    }

    // MARK: Timestamps

    static func timestamp(_ text: String, _ format: ImportColumn.TimestampFormat) -> PostgresValue? {
        switch format {
        case .unix:
            guard isDecimal(text), !text.contains("e"), !text.contains("E"), let d = Double(text), d.isFinite,
                abs(d) < 253_402_300_800 else { return nil }
            return .timestamp(Date(timeIntervalSince1970: d))
        case .date:
            let u = Array(text.utf8)
            guard u.count == 10, validDate(u) else { return nil }
            return .text(text + " 00:00:00+00")
        case .iso8601:
            return isISO8601(Array(text.utf8)) ? .text(text) : nil
        }
    }

    private static func digits<C: RandomAccessCollection<UInt8>>(_ u: C, _ from: Int, _ count: Int) -> Int? where C.Index == Int {
        guard from + count <= u.count else { return nil }
        var n = 0
        for i in from..<(from + count) {
            let c = u[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            n = n * 10 + Int(c - 0x30)
        }
        return n
    }

    /// `YYYY-MM-DD` with a real month and day.
    private static func validDate<C: RandomAccessCollection<UInt8>>(_ u: C) -> Bool where C.Index == Int {
        guard u.count >= 10, u[4] == 0x2D, u[7] == 0x2D, let y = digits(u, 0, 4), let m = digits(u, 5, 2), let d = digits(u, 8, 2),
            y >= 1, (1...12).contains(m), d >= 1 else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return d <= days
    }

    /// `YYYY-MM-DD[T| ]HH:MM[:SS[.f…]][Z|±HH[:MM]]`; a time without offset is UTC (the
    /// import session runs with TimeZone UTC).
    static func isISO8601<C: RandomAccessCollection<UInt8>>(_ u: C) -> Bool where C.Index == Int {
        guard u.count >= 16, validDate(u), u[10] == 0x54 || u[10] == 0x20 || u[10] == 0x74,
            let h = digits(u, 11, 2), u[13] == 0x3A, let mi = digits(u, 14, 2), h <= 23, mi <= 59 else { return false }
        var i = 16
        if i < u.count, u[i] == 0x3A {
            guard let s = digits(u, i + 1, 2), s <= 60 else { return false }
            i += 3
            if i < u.count, u[i] == 0x2E || u[i] == 0x2C {
                i += 1
                let start = i
                while i < u.count, u[i] >= 0x30 && u[i] <= 0x39 { i += 1 }
                guard i > start, i - start <= 9 else { return false }
            }
        }
        if i == u.count { return true }
        if u[i] == 0x5A || u[i] == 0x7A { return i + 1 == u.count }
        guard u[i] == 0x2B || u[i] == 0x2D, let oh = digits(u, i + 1, 2), oh <= 15 else { return false }
        i += 3
        if i == u.count { return true }
        if u[i] == 0x3A { i += 1 }
        guard let om = digits(u, i, 2), om <= 59 else { return false }
        return i + 2 == u.count
    }

    // MARK: Arrays

    /// The array literal `u` (ASCII, indexed from 0) read as `arrayLiteral` reads it, appended
    /// as `PostgresTextFormat` writes a text array (every element quoted, `"` and `\` escaped)
    /// with COPY's text escapes on top; false when it is not a literal `arrayLiteral` accepts
    /// (the caller then takes that path for the reason).
    static func appendArrayLiteral(_ u: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) -> Bool {
        guard u.count >= 2, u[0] == 0x7B, u[u.count - 1] == 0x7D else { return false }
        out.append(0x7B)
        if u.count == 2 {
            out.append(0x7D)
            return true
        }
        /// One byte of the canonical literal, escaped for COPY.
        func put(_ b: UInt8) {
            switch b {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            default: out.append(b)
            }
        }
        /// An element byte inside quotes: `"` and `\` get the array's backslash.
        func element(_ b: UInt8) {
            if b == 0x22 || b == 0x5C { put(0x5C) }
            put(b)
        }
        var i = 1
        let end = u.count - 1
        var first = true
        while true {
            if !first { out.append(0x2C) }
            first = false
            out.append(0x22)
            while i < end, u[i] == 0x20 { i += 1 }
            if i < end, u[i] == 0x22 {
                i += 1
                var closed = false
                while i < end {
                    if u[i] == 0x5C, i + 1 < end {
                        element(u[i + 1])
                        i += 2
                    } else if u[i] == 0x22 {
                        closed = true
                        i += 1
                        break
                    } else {
                        element(u[i])
                        i += 1
                    }
                }
                guard closed else { return false }
                while i < end, u[i] == 0x20 { i += 1 }
            } else {
                let start = i
                while i < end, u[i] != 0x2C {
                    let c = u[i]
                    if c == 0x22 || c == 0x7B || c == 0x7D || c == 0x5C { return false }
                    i += 1
                }
                var last = i
                while last > start, u[last - 1] == 0x20 { last -= 1 }
                if last == start { return false }
                for k in start..<last { element(u[k]) }
            }
            out.append(0x22)
            if i == end {
                out.append(0x7D)
                return true
            }
            guard u[i] == 0x2C else { return false }
            i += 1
        }
    }

    /// The elements of a one-dimensional Postgres array literal: `{a,b}`, `{"a b","c\"d"}`, `{}`.
    static func arrayLiteral(_ text: String) -> [String]? {
        let u = Array(text.utf8)
        guard u.count >= 2, u.first == 0x7B, u.last == 0x7D else { return nil }
        if u.count == 2 { return [] }
        var out: [String] = []
        var i = 1
        let end = u.count - 1
        while true {
            while i < end, u[i] == 0x20 { i += 1 }
            var element: [UInt8] = []
            if i < end, u[i] == 0x22 {
                i += 1
                var closed = false
                while i < end {
                    if u[i] == 0x5C, i + 1 < end {
                        element.append(u[i + 1])
                        i += 2
                    } else if u[i] == 0x22 {
                        closed = true
                        i += 1
                        break
                    } else {
                        element.append(u[i])
                        i += 1
                    }
                }
                guard closed else { return nil }
                while i < end, u[i] == 0x20 { i += 1 }
            } else {
                while i < end, u[i] != 0x2C {
                    let c = u[i]
                    if c == 0x22 || c == 0x7B || c == 0x7D || c == 0x5C { return nil }
                    element.append(c)
                    i += 1
                }
                while element.last == 0x20 { element.removeLast() }
                if element.isEmpty { return nil }
            }
            guard let s = utf8String(element) else { return nil }
            out.append(s)
            if i == end { return out }
            guard u[i] == 0x2C else { return nil }
            i += 1
        }
    }
}

/// One rejected row (or, for a header problem, the whole file).
public struct ImportReject: Sendable, Equatable, Codable {
    public struct Reason: Sendable, Equatable, Error {
        public var text: String
        public init(_ text: String) { self.text = text }
    }

    /// The 1-based line the row starts on.
    public var line: Int
    /// The header of the column at fault; nil when the row as a whole is broken.
    public var column: String?
    public var reason: String

    public init(line: Int, column: String?, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }
}
