// CatalogBuilder+Imports: the `imports:` and `statements:` sections.
//
// An import spec is kept only when every column, the key and the limits validate: the key's
// columns must be declared and required, headers must be unique (case-insensitively). A
// statement's SQL file is read by the loader (it knows the folder); here its parameters and
// batching are checked.

import Foundation
import SluiceCatalog
import SluiceCore
import Yams

extension CatalogBuilder {
    static let importKeys = ["name", "table", "columns", "key", "on_conflict", "max_file_size", "max_rejects", "targets"]
    static let importColumnKeys = [
        "column", "header", "type", "required", "max_length", "min", "max", "one_of", "formats", "lowercase",
        "on_empty",
    ]

    func importSpec(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        guard let f = r.fields(node, "an imports entry", allowed: Self.importKeys, required: ["name", "table", "columns", "key"])
        else { return }
        var name: SQLIdentifier?
        var table: QualifiedName?
        var columns: [ImportColumn] = []
        var key: [SQLIdentifier] = []
        var policy = ImportSpec.ConflictPolicy.update
        var maxBytes = ImportSpec.defaultMaxFileBytes
        var maxRejects = ImportSpec.defaultMaxRejects
        var targets: [String] = []
        _ = clean {
            name = f["name"].flatMap { r.name($0, "import name") }
            let what = "import \(name?.rawValue ?? "")"
            table = f["table"].flatMap { r.qualifiedName($0, "\(what) table", systemSchemaAllowed: false) }
            if let n = f["columns"] {
                var headers: [String: Node] = [:]
                var names: Set<SQLIdentifier> = []
                for item in r.items(n, "\(what) columns") {
                    guard let c = importColumn(item, r, what) else { continue }
                    if headers[c.header.lowercased()] != nil {
                        r.problem(.duplicate, item, "\(what) maps the header \(CatalogText.display(c.header)) twice")
                    } else if names.contains(c.column) {
                        r.problem(.duplicate, item, "\(what) lists the column \(c.column) twice")
                    }
                    headers[c.header.lowercased()] = item
                    names.insert(c.column)
                    columns.append(c)
                }
                if columns.isEmpty, sink.problems.count == start { r.problem(.invalidValue, n, "\(what) declares no columns") }
            }
            if let n = f["key"] {
                key = r.identifiers(n, "\(what) key")
                if key.isEmpty, sink.problems.count == start { r.problem(.invalidValue, n, "\(what) key names no column") }
                for k in key {
                    guard let c = columns.first(where: { $0.column == k }) else {
                        r.problem(.invalidValue, n, "\(what) key column \(k) is not one of its columns")
                        continue
                    }
                    if !c.required {
                        r.problem(.conflict, n, "\(what) key column \(k) must be required: a row without its key cannot be upserted")
                    }
                }
            }
            if let n = f["on_conflict"], let v = r.word(n, "\(what) on_conflict", as: ImportSpec.ConflictPolicy.self) { policy = v }
            if let n = f["max_file_size"], let v = byteSize(n, r, "\(what) max_file_size") { maxBytes = v }
            if let n = f["max_rejects"], let v = r.int(n, "\(what) max_rejects", in: 0...Int(Int32.max)) { maxRejects = v }
            targets = targetList(f["targets"], r)
        }
        guard sink.problems.count == start, let name, let table, let n = f["name"],
            claim("import", name.rawValue, at: r.location(n), "import \(name)")
        else { return }
        imports.append(ImportSpec(name: name, table: table, columns: columns, key: key, onConflict: policy,
                                  maxFileBytes: maxBytes, maxRejects: maxRejects, targets: targets, location: r.location(node)))
    }

    private func importColumn(_ node: Node, _ r: YAMLReader, _ spec: String) -> ImportColumn? {
        let start = sink.problems.count
        guard let f = r.fields(node, "a column of \(spec)", allowed: Self.importColumnKeys, required: ["column"]) else { return nil }
        guard let column = f["column"].flatMap({ r.identifier($0, "a column of \(spec)") }) else { return nil }
        let what = "\(spec) column \(column)"
        var c = ImportColumn(column: column)
        if let n = f["header"], let v = r.string(n, "\(what) header") {
            if v.trimmingASCIISpaces().isEmpty { r.problem(.invalidValue, n, "\(what) header is empty") }
            c.header = v.trimmingASCIISpaces()
        }
        if let n = f["type"], let v = r.word(n, "\(what) type", as: ImportColumn.ValueType.self) { c.type = v }
        if let n = f["required"], let v = r.bool(n, "\(what) required") { c.required = v }
        if let n = f["lowercase"], let v = r.bool(n, "\(what) lowercase") { c.lowercase = v }
        // `on_empty: null` reads as YAML's null, which is what it means here.
        if let n = f["on_empty"], let v = n.tagName == .null ? .null : r.word(n, "\(what) on_empty", as: ImportColumn.OnEmpty.self) {
            if c.required { r.problem(.conflict, n, "\(what) is required, so its cells are never empty: on_empty does not apply") }
            c.onEmpty = v
        }
        if let n = f["max_length"], let v = r.int(n, "\(what) max_length", in: 1...10_485_760) {
            if [.text, .email, .text_array].contains(c.type) { c.maxLength = v } else {
                r.problem(.conflict, n, "\(what) max_length applies to text, email and text_array columns, not \(c.type.rawValue)")
            }
        }
        for key in ["min", "max"] {
            guard let n = f[key] else { continue }
            guard [.integer, .decimal].contains(c.type) else {
                r.problem(.conflict, n, "\(what) \(key) applies to integer and decimal columns, not \(c.type.rawValue)")
                continue
            }
            let v: Double? = switch n.tagName {
            case .int: n.int.map(Double.init)
            case .float: n.float
            default: nil
            }
            guard let v, v.isFinite else {
                r.wrongType(n, "\(what) \(key)", expected: "a number")
                continue
            }
            if key == "min" { c.min = v } else { c.max = v }
        }
        if let lo = c.min, let hi = c.max, lo > hi { r.problem(.invalidValue, node, "\(what) min \(lo) is above max \(hi)") }
        if let n = f["one_of"] {
            let values = r.items(n, "\(what) one_of").compactMap { r.scalarText($0, "an entry of \(what) one_of") }
            if values.isEmpty { r.problem(.invalidValue, n, "\(what) one_of lists no value") }
            c.oneOf = c.lowercase ? values.map { $0.lowercased() } : values
        }
        if let n = f["formats"] {
            guard c.type == .timestamp else {
                r.problem(.conflict, n, "\(what) formats applies to timestamp columns, not \(c.type.rawValue)")
                return nil
            }
            let formats = r.items(n, "\(what) formats").compactMap { r.word($0, "an entry of \(what) formats", as: ImportColumn.TimestampFormat.self) }
            if formats.isEmpty { r.problem(.invalidValue, n, "\(what) formats lists no format") }
            c.formats = formats
        }
        return sink.problems.count == start ? c : nil
    }

    /// `100MB`, `512KB`, `2GB` or a whole number of bytes.
    private func byteSize(_ node: Node, _ r: YAMLReader, _ what: String) -> Int? {
        if node.tagName == .int, let v = node.int, v > 0 { return v }
        guard case .scalar(let scalar) = node else {
            r.wrongType(node, what, expected: "a size (100MB, 512KB, 2GB or bytes)")
            return nil
        }
        let text = scalar.string.uppercased()
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let factor: Int? = switch unit {
        case "B", "": 1
        case "KB": 1 << 10
        case "MB": 1 << 20
        case "GB": 1 << 30
        default: nil
        }
        guard let factor, let n = Int(digits), n > 0, n <= (1 << 40) / factor else {
            r.problem(.invalidValue, node, "\(what) \(CatalogText.display(scalar.string)) is not a size; write 100MB, 512KB, 2GB or bytes")
            return nil
        }
        return n * factor
    }

    // MARK: statements

    static let statementKeys = ["name", "file", "params", "key_type", "batch_size", "time_budget", "targets"]

    func statement(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        guard let f = r.fields(node, "a statements entry", allowed: Self.statementKeys, required: ["name", "file"]) else { return }
        var s = CatalogStatement(name: SQLIdentifier.publicSchema, file: "", parameters: [], location: r.location(node))
        var name: SQLIdentifier?
        _ = clean {
            name = f["name"].flatMap { r.name($0, "statement name") }
            let what = "statement \(name?.rawValue ?? "")"
            if let n = f["file"], let v = r.string(n, "\(what) file") {
                if v.hasPrefix("/") || v.split(separator: "/").contains("..") || !v.hasSuffix(".sql") {
                    r.problem(.invalidValue, n, "\(what) file must be a .sql path inside the catalog folder, not \(CatalogText.display(v))")
                }
                s.file = v
            }
            if let n = f["params"] {
                for (pname, key, value) in r.namedEntries(n, "\(what) params") {
                    guard let id = SQLIdentifier(pname), !CatalogStatement.runnerParameters.contains(pname) else {
                        r.problem(.invalidIdentifier, key, "\(what) parameter \(CatalogText.display(pname)) is not a usable name")
                        continue
                    }
                    if let type = r.word(value, "\(what) parameter \(pname)", as: CatalogStatement.ParameterType.self) {
                        s.parameters.append(.init(name: id, type: type))
                    }
                }
            }
            if let n = f["key_type"], let v = r.word(n, "\(what) key_type", as: CatalogStatement.ParameterType.self) { s.keyType = v }
            if let n = f["batch_size"], let v = r.int(n, "\(what) batch_size", in: 1...10_000_000) { s.batchSize = v }
            if let n = f["time_budget"], let v = r.duration(n, "\(what) time_budget") { s.timeBudget = v }
            s.targets = targetList(f["targets"], r)
        }
        guard sink.problems.count == start, let name, let n = f["name"],
            claim("statement", name.rawValue, at: r.location(n), "statement \(name)")
        else { return }
        s.name = name
        statements.append(s)
    }
}
