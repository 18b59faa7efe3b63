// SegmentRules: segment rules (JSON) checked against the catalog's segment fields and turned into
// a tree of conditions, or an error naming the rule's path (`rules[1].rules[0].field`).
//
// Grammar: a rule is a condition `{"field": "email", "operator": "contains", "value": "acme"}`, a
// group `{"operator": "and" | "or", "rules": [rule, …]}` or a negation `{"not": rule}`; the
// top-level `rules` is one rule or a list (all must hold). Nothing is ever dropped: an unknown
// field, operator or key, a value of the wrong type, an empty group or anything past the limits
// (depth, number of conditions, value size) is an error, because a silently dropped condition
// widens a segment and emails the wrong people.

import Foundation
import SluiceCatalog
import SluiceCore

public indirect enum SegmentRule: Sendable, Equatable {
    case all([SegmentRule])
    case any([SegmentRule])
    case not(SegmentRule)
    case condition(SegmentCondition)
}

public struct SegmentCondition: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case text(String)
        case texts([String])
        case time(Date)
        case range(Date, Date)
        /// A JSON scalar compared with a custom-field value (`{"plan": "pro"}` containment).
        case scalar(JSONValue)
    }

    public var field: SegmentField
    /// For object fields: the key after the dot (`custom_fields.plan` → `plan`).
    public var key: String?
    public var op: SegmentField.Operator
    public var value: Value
}

public struct SegmentRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where in the arguments: `rules[1].rules[0].field`.
    public var path: String
    public var reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

public enum SegmentRules {
    public static let maxDepth = 12
    public static let maxConditions = 200
    /// Bytes of one text value (and of each list entry).
    public static let maxValueBytes = 1024
    public static let maxListCount = 1000

    /// Parses `rules` (the argument's JSON) against the catalog's segment fields.
    public static func parse(_ rules: JSONValue, source: SegmentSource, path: String = "rules") throws(SegmentRuleError) -> SegmentRule {
        var parser = Parser(source: source)
        if case .array(let items) = rules {
            return try parser.group(items, path: path, depth: 1, any: false)
        }
        return try parser.rule(rules, path: path, depth: 1)
    }

    struct Parser {
        let source: SegmentSource
        var conditions = 0

        mutating func rule(_ json: JSONValue, path: String, depth: Int) throws(SegmentRuleError) -> SegmentRule {
            guard depth <= SegmentRules.maxDepth else {
                throw SegmentRuleError(path: path, reason: "rules nest deeper than \(SegmentRules.maxDepth) levels")
            }
            guard case .object(let o) = json else {
                throw SegmentRuleError(path: path, reason: "must be an object: a condition {field, operator, value}, a group {operator, rules} or {not}")
            }
            if let inner = o["not"] {
                try only(o, ["not"], path: path)
                return .not(try rule(inner, path: "\(path).not", depth: depth + 1))
            }
            if let items = o["rules"] {
                try only(o, ["operator", "rules"], path: path)
                guard case .string(let op)? = o["operator"], op == "and" || op == "or" else {
                    throw SegmentRuleError(path: "\(path).operator", reason: "a group's operator must be \"and\" or \"or\"")
                }
                guard case .array(let list) = items else {
                    throw SegmentRuleError(path: "\(path).rules", reason: "must be a list of rules")
                }
                return try group(list, path: "\(path).rules", depth: depth + 1, any: op == "or")
            }
            try only(o, ["field", "operator", "value"], path: path)
            return .condition(try condition(o, path: path))
        }

        mutating func group(_ items: [JSONValue], path: String, depth: Int, any: Bool) throws(SegmentRuleError) -> SegmentRule {
            guard depth <= SegmentRules.maxDepth else {
                throw SegmentRuleError(path: path, reason: "rules nest deeper than \(SegmentRules.maxDepth) levels")
            }
            guard !items.isEmpty else {
                throw SegmentRuleError(path: path, reason: "is an empty group; a group needs at least one rule")
            }
            var out: [SegmentRule] = []
            for (i, item) in items.enumerated() {
                out.append(try rule(item, path: "\(path)[\(i)]", depth: depth))
            }
            return any ? .any(out) : .all(out)
        }

        func only(_ o: [String: JSONValue], _ keys: Set<String>, path: String) throws(SegmentRuleError) {
            if let extra = o.keys.sorted().first(where: { !keys.contains($0) }) {
                throw SegmentRuleError(path: "\(path).\(SegmentRules.safe(extra))",
                    reason: "is not a rule key (a rule has \(keys.sorted().joined(separator: ", ")))")
            }
        }

        mutating func condition(_ o: [String: JSONValue], path: String) throws(SegmentRuleError) -> SegmentCondition {
            conditions += 1
            guard conditions <= SegmentRules.maxConditions else {
                throw SegmentRuleError(path: path, reason: "more than \(SegmentRules.maxConditions) conditions")
            }
            let fieldPath = "\(path).field", opPath = "\(path).operator", valuePath = "\(path).value"
            guard case .string(let name)? = o["field"] else {
                throw SegmentRuleError(path: fieldPath, reason: "is required (a field name string)")
            }
            var fieldName = name
            var key: String?
            if let dot = name.firstIndex(of: "."), let f = source.field(named: String(name[..<dot])), f.type == .object {
                fieldName = f.name
                key = String(name[name.index(after: dot)...])
            }
            let declared = source.fields.map { $0.type == .object ? "\($0.name).KEY" : $0.name }.joined(separator: ", ")
            guard let field = source.field(named: fieldName) else {
                throw SegmentRuleError(path: fieldPath, reason: "is not a declared segment field (fields: \(declared))")
            }
            if field.type == .object {
                guard let key, SegmentRules.isKey(key) else {
                    throw SegmentRuleError(path: fieldPath,
                        reason: "\(field.name) needs a key: \(field.name).KEY, KEY of letters, digits and _ (at most 64)")
                }
            }
            guard case .string(let opText)? = o["operator"] else {
                throw SegmentRuleError(path: opPath, reason: "is required (one of \(field.operators.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let op = SegmentField.Operator(rawValue: opText), field.operators.contains(op) else {
                throw SegmentRuleError(path: opPath,
                    reason: "is not an operator of field \(field.name) (allowed: \(field.operators.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let raw = o["value"] else { throw SegmentRuleError(path: valuePath, reason: "is required") }
            let value = try self.value(raw, field: field, op: op, path: valuePath)
            return SegmentCondition(field: field, key: key, op: op, value: value)
        }

        func text(_ v: JSONValue, path: String) throws(SegmentRuleError) -> String {
            guard case .string(let s) = v else { throw SegmentRuleError(path: path, reason: "must be a string") }
            guard s.utf8.count <= SegmentRules.maxValueBytes else {
                throw SegmentRuleError(path: path, reason: "is longer than \(SegmentRules.maxValueBytes) bytes")
            }
            guard !s.utf8.contains(0) else { throw SegmentRuleError(path: path, reason: "must not contain NUL") }
            return s
        }

        func allowed(_ s: String, _ field: SegmentField, path: String) throws(SegmentRuleError) -> String {
            if let values = field.values, !values.contains(s) {
                throw SegmentRuleError(path: path, reason: "is not a value of \(field.name) (values: \(values.joined(separator: ", ")))")
            }
            return s
        }

        func texts(_ v: JSONValue, _ field: SegmentField, path: String, single: Bool) throws(SegmentRuleError) -> [String] {
            if single, case .string = v { return [try allowed(try text(v, path: path), field, path: path)] }
            guard case .array(let list) = v, !list.isEmpty else {
                throw SegmentRuleError(path: path, reason: single ? "must be a string or a non-empty list of strings" : "must be a non-empty list of strings")
            }
            guard list.count <= SegmentRules.maxListCount else {
                throw SegmentRuleError(path: path, reason: "lists more than \(SegmentRules.maxListCount) values")
            }
            var out: [String] = []
            for (i, item) in list.enumerated() { out.append(try allowed(try text(item, path: "\(path)[\(i)]"), field, path: "\(path)[\(i)]")) }
            return out
        }

        func time(_ v: JSONValue, path: String) throws(SegmentRuleError) -> Date {
            guard case .string(let s) = v else {
                throw SegmentRuleError(path: path, reason: "must be a date YYYY-MM-DD or an ISO 8601 timestamp")
            }
            if let d = QueryParameters.parseDate(s), let date = QueryParameters.parseTimestamp("\(d)T00:00:00Z") { return date }
            guard let date = QueryParameters.parseTimestamp(s) else {
                throw SegmentRuleError(path: path, reason: "must be a date YYYY-MM-DD or an ISO 8601 timestamp with a zone")
            }
            return date
        }

        func value(_ v: JSONValue, field: SegmentField, op: SegmentField.Operator, path: String) throws(SegmentRuleError) -> SegmentCondition.Value {
            switch field.type {
            case .text:
                if op == .in { return .texts(try texts(v, field, path: path, single: false)) }
                let s = try text(v, path: path)
                return .text(op == .equals || op == .notEquals ? try allowed(s, field, path: path) : s)
            case .tags:
                return .texts(try texts(v, field, path: path, single: true))
            case .timestamp:
                if op == .between {
                    guard case .array(let pair) = v, pair.count == 2 else {
                        throw SegmentRuleError(path: path, reason: "between takes [from, to]")
                    }
                    let a = try time(pair[0], path: "\(path)[0]"), b = try time(pair[1], path: "\(path)[1]")
                    guard a <= b else { throw SegmentRuleError(path: path, reason: "between's from is after its to") }
                    return .range(a, b)
                }
                return .time(try time(v, path: path))
            case .object:
                if op == .contains { return .text(try text(v, path: path)) }
                switch v {
                case .string: return .scalar(.string(try text(v, path: path)))
                case .int, .bool: return .scalar(v)
                case .double(let d) where d.isFinite: return .scalar(v)
                default: throw SegmentRuleError(path: path, reason: "must be a string, number or boolean")
                }
            }
        }
    }

    static func isKey(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95
        }
    }

    /// A key as it may appear in a message: identifier characters only, at most 64.
    static func safe(_ name: String) -> String {
        String(name.unicodeScalars.prefix(64).map { c -> Character in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_")) ? Character(c) : "?"
        })
    }
}

extension SegmentRule {
    /// The normalised rule as JSON: equal segments give equal bytes (`JSONValue.encoded()`), which
    /// keys cached counts.
    public var normalised: JSONValue {
        switch self {
        case .all(let rules): return ["operator": "and", "rules": .array(rules.map(\.normalised))]
        case .any(let rules): return ["operator": "or", "rules": .array(rules.map(\.normalised))]
        case .not(let rule): return ["not": rule.normalised]
        case .condition(let c):
            let field = c.key.map { "\(c.field.name).\($0)" } ?? c.field.name
            let value: JSONValue
            switch c.value {
            case .text(let s): value = .string(s)
            case .texts(let list): value = .array(list.map { .string($0) })
            case .time(let d): value = .string(QueryParameters.formatTimestamp(d))
            case .range(let a, let b): value = [.string(QueryParameters.formatTimestamp(a)), .string(QueryParameters.formatTimestamp(b))]
            case .scalar(let v): value = v
            }
            return ["field": .string(field), "operator": .string(c.op.rawValue), "value": value]
        }
    }
}
