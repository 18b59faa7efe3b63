// AnalyticsDeclarations: reads the analytics sections of catalog files (`queries:`, `segments:`,
// `health:`) for the CatalogBuilder, and hands what validated to the Catalog. Internal to one
// load, single-threaded like the builder. A declaration with a problem is left out.

import Foundation
import SluiceCatalog
import SluiceCore
import Yams

final class AnalyticsDeclarations {
    private(set) var queries: [CatalogQuery] = []
    private(set) var segments: SegmentSource?
    private(set) var health = HealthSettings()
    private var queryNames: [String: SourceLocation] = [:]
    private var healthSeen: SourceLocation?

    /// Reads `queries:`, `segments:` or `health:` (the builder hands over only these).
    func read(_ section: CatalogSection, _ n: Node, _ r: YAMLReader) {
        switch section {
        case .queries: for item in r.items(n, section.key) { query(item, r) }
        case .segments: segmentSource(n, r)
        case .health: healthSection(n, r)
        default: preconditionFailure("\(section.key) is not an analytics section")
        }
    }

    func apply(to catalog: inout Catalog) {
        catalog.queries = queries
        catalog.segments = segments
        catalog.health = health
    }

    private func counting(_ r: YAMLReader, _ body: () -> Void) -> Bool {
        let before = r.sink.problems.count
        body()
        return r.sink.problems.count == before
    }

    // MARK: queries

    private func query(_ node: Node, _ r: YAMLReader) {
        let keys = ["name", "file", "sql", "params", "stale_after", "ttl", "refresh", "depends_on", "max_rows", "targets"]
        guard let f = r.fields(node, "a query", allowed: keys, required: ["name"]) else { return }
        var q = CatalogQuery(name: SQLIdentifier.publicSchema, sql: "", location: r.location(node))
        var name: SQLIdentifier?
        let ok = counting(r) {
            name = f["name"].flatMap { r.name($0, "query name") }
            let what = "query \(name?.rawValue ?? "")"
            switch (f["file"], f["sql"]) {
            case (nil, nil): r.problem(.missingKey, node, "\(what) needs 'file' (SQL under the catalog folder) or 'sql'")
            case (.some, .some(let n)): r.problem(.conflict, n, "\(what) has both 'file' and 'sql'; keep one")
            case (let n?, nil):
                if let path = r.string(n, "\(what) file") {
                    if path.hasPrefix("/") || path.split(separator: "/").contains("..") || !path.hasSuffix(".sql") {
                        r.problem(.invalidValue, n, "\(what) file must be a .sql path inside the catalog folder, not \(CatalogText.display(path))")
                    } else {
                        q.file = path
                    }
                }
            case (nil, let n?):
                if let sql = r.string(n, "\(what) sql") { q.sql = sql }
            }
            if let n = f["params"] { q.params = parameters(n, r, what) }
            if let n = f["stale_after"], let v = r.duration(n, "\(what) stale_after") { q.staleAfter = v }
            if let n = f["ttl"], let v = r.duration(n, "\(what) ttl") { q.ttl = v }
            if f["ttl"] == nil { q.ttl = max(CatalogQuery.defaultTTL, q.staleAfter) }
            if q.ttl < q.staleAfter, let n = f["ttl"] {
                r.problem(.invalidValue, n, "\(what) ttl must be at least stale_after (an output must outlive its freshness)")
            }
            if let n = f["refresh"], let v = r.duration(n, "\(what) refresh") { q.refresh = v }
            if let n = f["depends_on"] { q.dependsOn = r.qualifiedNames(n, "\(what) depends_on") }
            if let n = f["max_rows"], let v = r.int(n, "\(what) max_rows", in: 1...1_000_000) { q.maxRows = v }
            if let n = f["targets"] {
                if case .sequence(let s) = n {
                    q.targets = s.compactMap { r.name($0, "an entry of \(what) targets")?.rawValue }
                } else {
                    r.wrongType(n, "\(what) targets", expected: "a list of target names")
                }
            }
            if q.file == nil, f["sql"] != nil { checkPlaceholders(q, node, r, what) }
        }
        guard ok, let name else { return }
        if name.rawValue == "segment" {
            r.problem(.invalidValue, f["name"], "query name segment is reserved (cached segment counts live at cache:segment:…)")
            return
        }
        if let first = queryNames[name.rawValue] {
            r.problem(.duplicate, f["name"], "query \(name) is declared twice; the first is at \(first)")
            return
        }
        queryNames[name.rawValue] = r.location(f["name"])
        q.name = name
        queries.append(q)
    }

    /// `params: {workspace_id: uuid, days: {type: integer, default: 30}}`, in order: $1, $2, ….
    private func parameters(_ node: Node, _ r: YAMLReader, _ what: String) -> [CatalogQuery.Parameter] {
        var out: [CatalogQuery.Parameter] = []
        for (name, key, value) in r.namedEntries(node, "\(what) params") {
            guard SQLIdentifier(name) != nil else {
                r.problem(.invalidIdentifier, key, "\(what) parameter name \(SQLIdentifier.check(name).map { "\($0)" } ?? "is invalid")")
                continue
            }
            if case .scalar = value {
                if let type = r.word(value, "\(what) parameter \(name) type", as: CatalogQuery.ParameterType.self) {
                    out.append(.init(name: name, type: type))
                }
                continue
            }
            guard let pf = r.fields(value, "\(what) parameter \(name)", allowed: ["type", "default"], required: ["type"]),
                let tn = pf["type"], let type = r.word(tn, "\(what) parameter \(name) type", as: CatalogQuery.ParameterType.self)
            else { continue }
            var p = CatalogQuery.Parameter(name: name, type: type)
            if let dn = pf["default"], let dv = r.json(dn, "\(what) parameter \(name) default") {
                do {
                    _ = try QueryParameters.canonical(dv, type, field: name)
                    p.defaultValue = dv
                } catch {
                    r.problem(.invalidValue, dn, "\(what) parameter \(name) default \(error.reason)")
                }
            }
            out.append(p)
        }
        return out
    }

    /// The SQL's highest `$n` must be the number of declared parameters.
    func checkPlaceholders(_ q: CatalogQuery, _ node: Node, _ r: YAMLReader, _ what: String) {
        if let problem = Self.placeholderProblem(q) { r.problem(.invalidValue, node, "\(what) \(problem)") }
    }

    static func placeholderProblem(_ q: CatalogQuery) -> String? {
        let highest = highestPlaceholder(q.sql)
        if highest != q.params.count {
            return "SQL uses $1…$\(highest) but declares \(q.params.count) parameter(s); parameters bind in the order params lists them"
        }
        if q.sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "SQL is empty" }
        return nil
    }

    /// The highest `$n` outside quotes and comments (0 when none).
    static func highestPlaceholder(_ sql: String) -> Int {
        let b = Array(sql.utf8)
        var i = 0, highest = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                i += 1
                while i < b.count && b[i] != c { i += 1 }
            } else if c == UInt8(ascii: "-"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "-") {
                while i < b.count && b[i] != UInt8(ascii: "\n") { i += 1 }
            } else if c == UInt8(ascii: "$") {
                var j = i + 1, n = 0
                while j < b.count, b[j] >= 48, b[j] <= 57 { n = n * 10 + Int(b[j] - 48); j += 1 }
                if j > i + 1 { highest = max(highest, n) }
                i = j - 1
            }
            i += 1
        }
        return highest
    }

    // MARK: segments

    private func segmentSource(_ node: Node, _ r: YAMLReader) {
        let keys = ["table", "tenant", "key", "columns", "order_by", "fields"]
        guard let f = r.fields(node, "segments", allowed: keys, required: ["table", "tenant", "key", "fields"]) else { return }
        if let existing = segments {
            r.problem(.duplicate, node, "segments are declared twice; the first is at \(existing.location)")
            return
        }
        var table: QualifiedName?, tenant: SQLIdentifier?, key: SQLIdentifier?
        var columns: [SQLIdentifier] = [], fields: [SegmentField] = []
        var orderBy: SQLIdentifier?
        let ok = counting(r) {
            table = f["table"].flatMap { r.qualifiedName($0, "segments table", systemSchemaAllowed: false) }
            tenant = f["tenant"].flatMap { r.identifier($0, "segments tenant") }
            key = f["key"].flatMap { r.identifier($0, "segments key") }
            if let n = f["columns"] { columns = r.identifiers(n, "segments columns") }
            orderBy = f["order_by"].flatMap { r.identifier($0, "segments order_by") }
            var names = Set<String>()
            for item in f["fields"].map({ r.items($0, "segments fields") }) ?? [] {
                guard let field = segmentField(item, r) else { continue }
                if !names.insert(field.name).inserted {
                    r.problem(.duplicate, item, "segment field \(field.name) is declared twice")
                    continue
                }
                fields.append(field)
            }
            if fields.isEmpty, let n = f["fields"] { r.problem(.invalidValue, n, "segments declare no fields") }
        }
        guard ok, let table, let tenant, let key else { return }
        segments = SegmentSource(table: table, tenant: tenant, key: key, columns: columns.isEmpty ? [key] : columns,
                                 orderBy: orderBy ?? key, fields: fields, location: r.location(node))
    }

    private func segmentField(_ node: Node, _ r: YAMLReader) -> SegmentField? {
        let keys = ["name", "type", "column", "operators", "values", "lookup"]
        guard let f = r.fields(node, "a segment field", allowed: keys, required: ["name", "type"]) else { return nil }
        var result: SegmentField?
        _ = counting(r) {
            guard let name = f["name"].flatMap({ r.name($0, "segment field name") }),
                let type = f["type"].flatMap({ r.word($0, "segment field \(name) type", as: SegmentField.FieldType.self) })
            else { return }
            let what = "segment field \(name)"
            let column = f["column"].flatMap { r.identifier($0, "\(what) column") } ?? name
            let allowed = SegmentField.operators(for: type)
            var operators = allowed
            if let n = f["operators"] {
                operators = []
                for item in r.items(n, "\(what) operators") {
                    guard let op = r.word(item, "\(what) operator", as: SegmentField.Operator.self) else { continue }
                    guard allowed.contains(op) else {
                        r.problem(.invalidValue, item,
                            "\(what): operator \(op.rawValue) does not apply to a \(type.rawValue) field (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))")
                        continue
                    }
                    operators.append(op)
                }
            }
            var values: [String]?
            if let n = f["values"] {
                values = r.items(n, "\(what) values").compactMap { r.scalarText($0, "\(what) value") }
            }
            var lookup: SegmentField.Lookup?
            if let n = f["lookup"], let lf = r.fields(n, "\(what) lookup", allowed: ["relation", "key", "column", "tenant"],
                                                       required: ["relation", "key", "column"]) {
                if let rel = lf["relation"].flatMap({ r.qualifiedName($0, "\(what) lookup relation", systemSchemaAllowed: false) }),
                    let k = lf["key"].flatMap({ r.identifier($0, "\(what) lookup key") }),
                    let c = lf["column"].flatMap({ r.identifier($0, "\(what) lookup column") }) {
                    lookup = .init(relation: rel, key: k, column: c, tenant: lf["tenant"].flatMap { r.identifier($0, "\(what) lookup tenant") })
                }
            }
            result = SegmentField(name: name.rawValue, type: type, column: column, operators: operators, values: values,
                                  lookup: lookup, location: r.location(node))
        }
        return result
    }

    // MARK: health

    private func healthSection(_ node: Node, _ r: YAMLReader) {
        if let first = healthSeen {
            r.problem(.duplicate, node, "health is declared twice; the first is at \(first)")
            return
        }
        healthSeen = r.location(node)
        let keys = Self.thresholdKeys + ["targets"]
        guard let f = r.fields(node, "health", allowed: keys) else { return }
        var base = HealthThresholds.defaults
        read(f, into: &base, r, "health")
        var perTarget: [String: HealthThresholds] = [:]
        if let n = f["targets"] {
            for (name, _, value) in r.namedEntries(n, "health targets") {
                guard let tf = r.fields(value, "health target \(name)", allowed: Self.thresholdKeys) else { continue }
                var t = base
                read(tf, into: &t, r, "health target \(name)")
                perTarget[name] = t
            }
        }
        health = HealthSettings(thresholds: base, perTarget: perTarget)
    }

    static let thresholdKeys = HealthThresholds.fields.map(\.key)

    private func read(_ f: [String: Node], into t: inout HealthThresholds, _ r: YAMLReader, _ what: String) {
        for field in HealthThresholds.fields {
            guard let n = f[field.key] else { continue }
            let name = "\(what) \(field.key)"
            switch field.value {
            case .ratio(let path): if let v = r.ratio(n, name) { t[keyPath: path] = v }
            case .duration(let path): if let v = r.duration(n, name) { t[keyPath: path] = v }
            case .count(let path): if let v = r.int(n, name, in: 0...Int(Int32.max)) { t[keyPath: path] = v }
            }
        }
    }
}

extension CatalogCheck {
    /// Reads each query's SQL file under `directory` and checks its placeholders; a query whose
    /// file is missing or does not fit its params becomes a problem (and leaves the catalog).
    mutating func readQueryFiles(directory: String) {
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        var kept: [CatalogQuery] = []
        for var q in catalog.queries {
            if let file = q.file {
                guard let text = try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) else {
                    problems.append(CatalogProblem(.unreadable, at: q.location, "query \(q.name): cannot read \(file)"))
                    continue
                }
                q.sql = text
                if let problem = AnalyticsDeclarations.placeholderProblem(q) {
                    problems.append(CatalogProblem(.invalidValue, at: q.location, "query \(q.name) (\(file)): \(problem)"))
                    continue
                }
            }
            kept.append(q)
        }
        catalog.queries = kept
    }
}
