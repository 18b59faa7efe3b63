// YAMLReader: typed reads of Yams nodes for one catalog file, each failure recorded as a
// CatalogProblem at the node's line and column instead of thrown, so one pass finds them all.
//
// Strict on purpose: a string field must be a YAML string (`pool_size: "4"` is not an integer,
// `table: 123` is not a name), mapping keys must be known, lists must be lists. Internal to the
// loader; Yams types never leave this module.

import Foundation
import SluiceCatalog
import SluiceCore
import Yams

struct YAMLReader {
    let file: String
    let sink: ProblemSink

    func location(_ node: Node?) -> SourceLocation {
        guard let mark = node?.mark else { return SourceLocation(file: file, line: 0) }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    func problem(_ code: CatalogProblem.Code, _ node: Node?, _ message: String) {
        sink.add(code, location(node), message)
    }

    /// How a node reads in a message: `a list`, `the string 'x'`, `the integer 3`.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch node.tagName {
            case .null: return "nothing (null)"
            case .bool: return "the boolean \(scalar.string)"
            case .int: return "the integer \(CatalogText.display(scalar.string, limit: 24))"
            case .float: return "the number \(CatalogText.display(scalar.string, limit: 24))"
            case .str: return "the string \(CatalogText.display(scalar.string))"
            default: return "the value \(CatalogText.display(scalar.string))"
            }
        }
    }

    func wrongType(_ node: Node, _ what: String, expected: String) {
        problem(.wrongType, node, "\(what) must be \(expected), not \(Self.describe(node))")
    }

    // MARK: Mappings

    /// The entries of a mapping whose keys are all in `allowed`, keyed by name. Unknown keys and
    /// missing `required` keys are reported; so is a node that is not a mapping (nil then).
    func fields(_ node: Node, _ what: String, allowed: [String], required: [String] = []) -> [String: Node]? {
        guard let mapping = node.mapping else {
            wrongType(node, what, expected: "a mapping")
            return nil
        }
        var out: [String: Node] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, key.tagName == .str else {
                problem(.wrongType, key, "a key in \(what) must be a plain word, not \(Self.describe(key))")
                continue
            }
            let name = scalar.string
            guard allowed.contains(name) else {
                var message = "unknown key \(CatalogText.display(name)) in \(what)"
                if let hint = CatalogText.suggestion(for: name, among: allowed) {
                    message += "; did you mean '\(hint)'?"
                } else {
                    message += "; known keys: " + allowed.joined(separator: ", ")
                }
                problem(.unknownKey, key, message)
                continue
            }
            out[name] = value
        }
        for name in required where out[name] == nil {
            problem(.missingKey, node, "\(what) needs '\(name)'")
        }
        return out
    }

    /// The (key, value) pairs of a mapping whose keys are free-form names (targets, classes).
    func namedEntries(_ node: Node, _ what: String) -> [(name: String, key: Node, value: Node)] {
        guard let mapping = node.mapping else {
            if node.tagName != .null { wrongType(node, what, expected: "a mapping of names to settings") }
            return []
        }
        var out: [(String, Node, Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key, key.tagName == .str else {
                problem(.wrongType, key, "a name in \(what) must be a plain word, not \(Self.describe(key))")
                continue
            }
            out.append((scalar.string, key, value))
        }
        return out
    }

    /// The items of a list section; null (an empty section) is an empty list.
    func items(_ node: Node, _ what: String) -> [Node] {
        if case .sequence(let sequence) = node { return Array(sequence) }
        if node.tagName == .null { return [] }
        wrongType(node, what, expected: "a list")
        return []
    }

    // MARK: Scalars

    func string(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node, node.tagName == .str else {
            wrongType(node, what, expected: "a string")
            return nil
        }
        return scalar.string
    }

    func int(_ node: Node, _ what: String, in range: ClosedRange<Int>) -> Int? {
        guard node.tagName == .int, let value = node.int else {
            wrongType(node, what, expected: "a whole number")
            return nil
        }
        guard range.contains(value) else {
            problem(.invalidValue, node, "\(what) must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
            return nil
        }
        return value
    }

    func ratio(_ node: Node, _ what: String) -> Double? {
        let value: Double?
        switch node.tagName {
        case .int: value = node.int.map(Double.init)
        case .float: value = node.float
        default: value = nil
        }
        guard let value, value.isFinite else {
            wrongType(node, what, expected: "a number between 0 and 1")
            return nil
        }
        guard value >= 0, value <= 1 else {
            problem(.invalidValue, node, "\(what) must be between 0 and 1 (a fraction, 0.2 for 20 %), not \(value)")
            return nil
        }
        return value
    }

    func bool(_ node: Node, _ what: String) -> Bool? {
        guard node.tagName == .bool, let value = node.bool else {
            wrongType(node, what, expected: "true or false")
            return nil
        }
        return value
    }

    func word<E: RawRepresentable & CaseIterable>(_ node: Node, _ what: String, as type: E.Type) -> E?
    where E.RawValue == String {
        guard let text = string(node, what) else { return nil }
        guard let value = E(rawValue: text) else {
            let words = E.allCases.map(\.rawValue)
            problem(.invalidValue, node, "\(what) must be one of \(words.joined(separator: ", ")), not \(CatalogText.display(text))")
            return nil
        }
        return value
    }

    /// A duration in `DurationSyntax`; `allowZero` for pauses.
    func duration(_ node: Node, _ what: String, allowZero: Bool = false) -> Duration? {
        guard case .scalar(let scalar) = node, node.tagName == .str || node.tagName == .int else {
            wrongType(node, what, expected: "a duration (\(DurationSyntax.expectedForm))")
            return nil
        }
        guard let value = DurationSyntax.parse(scalar.string) else {
            problem(.invalidDuration, node,
                "\(what) \(CatalogText.display(scalar.string)) is not a duration; write \(DurationSyntax.expectedForm)")
            return nil
        }
        if !allowZero && value == .zero {
            problem(.invalidDuration, node, "\(what) must be longer than zero")
            return nil
        }
        return value
    }

    func interval(_ node: Node, _ what: String) -> CalendarInterval? {
        guard case .scalar(let scalar) = node, node.tagName == .str || node.tagName == .int else {
            wrongType(node, what, expected: "a calendar interval (\(CalendarInterval.expectedForm))")
            return nil
        }
        guard let value = CalendarInterval(parsing: scalar.string) else {
            problem(.invalidInterval, node,
                "\(what) \(CatalogText.display(scalar.string)) is not a calendar interval; write \(CalendarInterval.expectedForm)")
            return nil
        }
        return value
    }

    // MARK: Names

    /// A name in the catalog's own namespaces (targets, policies, schedules): the identifier rule.
    func name(_ node: Node, _ what: String) -> SQLIdentifier? {
        guard let text = string(node, what) else { return nil }
        do {
            return try SQLIdentifier(validating: text)
        } catch {
            problem(.invalidIdentifier, node, "\(what) \(error)")
            return nil
        }
    }

    /// A column, role or schema: one identifier.
    func identifier(_ node: Node, _ what: String, systemSchemaAllowed: Bool = true) -> SQLIdentifier? {
        guard let value = name(node, what) else { return nil }
        if !systemSchemaAllowed && value.isSystemSchema {
            problem(.invalidIdentifier, node, "\(what) '\(value)' is a Postgres system schema")
            return nil
        }
        return value
    }

    /// `name` or `schema.name`.
    func qualifiedName(_ node: Node, _ what: String, systemSchemaAllowed: Bool = true) -> QualifiedName? {
        guard let text = string(node, what) else { return nil }
        let value: QualifiedName
        do {
            value = try QualifiedName(parsing: text)
        } catch {
            problem(.invalidIdentifier, node, "\(what) \(error)")
            return nil
        }
        if !systemSchemaAllowed && value.schema.isSystemSchema {
            problem(.invalidIdentifier, node, "\(what) '\(value)' is in a Postgres system schema")
            return nil
        }
        return value
    }

    func qualifiedNames(_ node: Node, _ what: String) -> [QualifiedName] {
        guard case .sequence(let sequence) = node else {
            wrongType(node, what, expected: "a list of names")
            return []
        }
        return sequence.compactMap { qualifiedName($0, "an entry of \(what)") }
    }

    func identifiers(_ node: Node, _ what: String) -> [SQLIdentifier] {
        guard case .sequence(let sequence) = node else {
            wrongType(node, what, expected: "a list of names")
            return []
        }
        return sequence.compactMap { identifier($0, "an entry of \(what)") }
    }

    /// A scalar as text, for values bound as parameters (`match:` values).
    func scalarText(_ node: Node, _ what: String) -> String? {
        guard case .scalar(let scalar) = node, node.tagName != .null else {
            wrongType(node, what, expected: "a string, number or boolean")
            return nil
        }
        return scalar.string
    }

    // MARK: JSON

    /// A YAML value as the JSON the envelope carries (`args:`).
    func json(_ node: Node, _ what: String) -> JSONValue? {
        switch node {
        case .alias:
            wrongType(node, what, expected: "plain YAML without aliases")
            return nil
        case .sequence(let sequence):
            var out: [JSONValue] = []
            for item in sequence {
                guard let value = json(item, what) else { return nil }
                out.append(value)
            }
            return .array(out)
        case .mapping(let mapping):
            var out: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let k) = key, key.tagName == .str || key.tagName == .int else {
                    problem(.wrongType, key, "a key in \(what) must be a string, not \(Self.describe(key))")
                    return nil
                }
                guard let v = json(value, what) else { return nil }
                out[k.string] = v
            }
            return .object(out)
        case .scalar(let scalar):
            switch node.tagName {
            case .null: return .null
            case .bool: return node.bool.map(JSONValue.bool)
            case .int:
                guard let i = Int64(exactly: node.int ?? Int.max), node.int != nil else {
                    problem(.invalidValue, node, "\(what): integer out of range")
                    return nil
                }
                return .int(i)
            case .float:
                guard let d = node.float, d.isFinite else {
                    problem(.invalidValue, node, "\(what): JSON has no NaN or infinity")
                    return nil
                }
                return .double(d)
            default: return .string(scalar.string)
            }
        }
    }
}

extension Node {
    /// The resolved tag's name (`tag:yaml.org,2002:str`, …); Yams keeps `Tag.name` internal.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
