// QueryParameters: a job's `params` checked against a catalog query's declared parameters and
// normalised to one canonical text per value.
//
// The canonical text is what is bound (as text, cast in SQL by the query) and what the cache key
// hashes, so `{"workspace_id": "ABC…"}` and `{"workspace_id": "abc…"}` share one output. Errors
// name the parameter (`args.params.days`) and never echo a value.

import Foundation
import SluiceCore

public struct QueryParameters: Sendable, Equatable {
    /// Canonical text per declared parameter name; nil for an optional parameter left out.
    public var values: [(name: String, value: String?)]

    public static func == (a: QueryParameters, b: QueryParameters) -> Bool {
        a.values.map(\.name) == b.values.map(\.name) && a.values.map(\.value) == b.values.map(\.value)
    }

    /// The bytes the params hash is taken over: for each parameter with a value, sorted by name,
    /// `name` NUL `value` NUL (UTF-8). Empty when the query takes no parameters.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        for (name, value) in values.sorted(by: { $0.name < $1.name }) {
            guard let value else { continue }
            out.append(contentsOf: name.utf8)
            out.append(0)
            out.append(contentsOf: value.utf8)
            out.append(0)
        }
        return out
    }

    /// The normalised params as a JSON object (what `sluice cache get` prints and the job records).
    public var json: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: values.compactMap { p in p.value.map { (p.name, JSONValue.string($0)) } }))
    }

    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// `args.params.name`.
        public var field: String
        public var reason: String
        public var description: String { "\(field): \(reason)" }
    }

    /// Checks `params` against `query`: unknown names, missing required values and wrong types
    /// are problems naming the field.
    public static func normalise(_ params: [String: JSONValue], for query: CatalogQuery) throws(Problem) -> QueryParameters {
        let declared = Set(query.params.map(\.name))
        if let unknown = params.keys.sorted().first(where: { !declared.contains($0) }) {
            let list = query.params.map(\.name).joined(separator: ", ")
            throw Problem(field: "args.params.\(Self.safe(unknown))",
                reason: "query \(query.name) takes no such parameter (it takes: \(list.isEmpty ? "none" : list))")
        }
        var out: [(String, String?)] = []
        for p in query.params {
            let field = "args.params.\(p.name)"
            let given = params[p.name].flatMap { $0.isNull ? nil : $0 } ?? p.defaultValue
            guard let given else {
                throw Problem(field: field, reason: "is required (\(p.type.rawValue))")
            }
            out.append((p.name, try canonical(given, p.type, field: field)))
        }
        return QueryParameters(values: out)
    }

    package static func canonical(_ value: JSONValue, _ type: CatalogQuery.ParameterType, field: String) throws(Problem) -> String {
        func wrong() -> Problem { Problem(field: field, reason: "must be \(describe(type))") }
        switch type {
        case .text:
            guard case .string(let s) = value else { throw wrong() }
            guard !s.utf8.contains(0) else { throw Problem(field: field, reason: "must not contain NUL") }
            guard s.utf8.count <= 4096 else { throw Problem(field: field, reason: "is longer than 4096 bytes") }
            return s
        case .integer:
            switch value {
            case .int(let i): return String(i)
            case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: return String(Int64(d))
            case .string(let s) where Int64(s) != nil: return String(Int64(s)!)
            default: throw wrong()
            }
        case .boolean:
            switch value {
            case .bool(let b): return b ? "true" : "false"
            case .string("true"): return "true"
            case .string("false"): return "false"
            default: throw wrong()
            }
        case .uuid:
            guard case .string(let s) = value, let u = UUID(uuidString: s) else { throw wrong() }
            return u.uuidString.lowercased()
        case .date:
            guard case .string(let s) = value, let d = Self.parseDate(s) else { throw wrong() }
            return d
        case .timestamp:
            guard case .string(let s) = value, let d = Self.parseTimestamp(s) else { throw wrong() }
            return Self.formatTimestamp(d)
        }
    }

    static func describe(_ type: CatalogQuery.ParameterType) -> String {
        switch type {
        case .text: return "a string"
        case .integer: return "an integer"
        case .boolean: return "true or false"
        case .uuid: return "a UUID string"
        case .date: return "a date YYYY-MM-DD"
        case .timestamp: return "an ISO 8601 timestamp with a time zone (2026-01-31T10:00:00Z)"
        }
    }

    /// A name as it may appear in a message: identifier characters only, at most 64.
    static func safe(_ name: String) -> String {
        let kept = name.unicodeScalars.prefix(64).map { c -> Character in
            (c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "_" || c == ".")) ? Character(c) : "?"
        }
        return String(kept)
    }

    /// `YYYY-MM-DD` naming a real calendar day, or nil.
    public static func parseDate(_ s: String) -> String? {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        let digits = b.enumerated().filter { $0.offset != 4 && $0.offset != 7 }.map(\.element)
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let y = Int(s.prefix(4))!, m = Int(s.dropFirst(5).prefix(2))!, d = Int(s.suffix(2))!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = DateComponents(calendar: calendar, year: y, month: m, day: d)
        return (1...9999).contains(y) && c.isValidDate ? s : nil
    }

    /// Canonical timestamp text: ISO 8601 in UTC, seconds, or milliseconds when there are any.
    public static func formatTimestamp(_ d: Date) -> String {
        let whole = (d.timeIntervalSince1970 * 1000).rounded().truncatingRemainder(dividingBy: 1000) == 0
        return whole ? d.formatted(Date.ISO8601FormatStyle())
            : d.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// ISO 8601 with a zone (`Z` or `+02:00`), with or without fractional seconds.
    public static func parseTimestamp(_ s: String) -> Date? {
        guard s.utf8.count <= 40 else { return nil }
        if let d = try? Date.ISO8601FormatStyle().parse(s) { return d }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s)
    }
}
