// CatalogBuilder+Policies: the maintenance policy sections (`vacuum:`, `analyze:`, `reindex:`,
// `cleanup:`): each policy's objects (an object listed by two policies of one section is
// refused: a job must find exactly one) and its settings.

import ClientSupport
import SluiceCatalog
import SluiceCore
import Yams

extension CatalogBuilder {

    /// Reads a policy's `tables:` (or `indexes:`), refusing an object that another policy of the
    /// same section already lists: a job must find exactly one policy for it.
    func policyObjects(_ node: Node?, _ r: YAMLReader, key: String, section: String, policy: String) -> [QualifiedName] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            r.wrongType(node, "\(section) policy \(policy) \(key)", expected: "a list of names")
            return []
        }
        var names: [QualifiedName] = []
        for item in sequence {
            guard let name = r.qualifiedName(item, "an entry of \(section) policy \(policy) \(key)") else { continue }
            names.append(name)
            claim("\(section).\(key)", name.description, at: r.location(item), "\(name) in \(section) \(key)")
        }
        return names
    }

    func vacuumPolicy(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["name", "tables", "dead_tuple_ratio", "min_dead_tuples", "analyze", "allow_full", "time_budget", "targets"]
        guard let f = r.fields(node, "a vacuum policy", allowed: keys, required: ["name", "tables"]) else { return }
        var p = VacuumPolicy(name: SQLIdentifier.publicSchema, tables: [], location: r.location(node))
        var name: SQLIdentifier?
        let ok = clean {
            name = f["name"].flatMap { r.name($0, "vacuum policy name") }
            let what = "vacuum policy \(name?.rawValue ?? "")"
            p.tables = policyObjects(f["tables"], r, key: "tables", section: "vacuum", policy: name?.rawValue ?? "")
            if let n = f["tables"], n.sequence?.isEmpty == true { r.problem(.invalidValue, n, "\(what) lists no tables") }
            if let n = f["dead_tuple_ratio"], let v = r.ratio(n, "\(what) dead_tuple_ratio") { p.deadTupleRatio = v }
            if let n = f["min_dead_tuples"], let v = r.int(n, "\(what) min_dead_tuples", in: 0...Int(Int32.max)) { p.minDeadTuples = v }
            if let n = f["analyze"], let v = r.bool(n, "\(what) analyze") { p.analyze = v }
            if let n = f["allow_full"], let v = r.bool(n, "\(what) allow_full") { p.allowFull = v }
            if let n = f["time_budget"], let v = r.duration(n, "\(what) time_budget") { p.timeBudget = v }
            p.targets = targetList(f["targets"], r)
        }
        guard ok, sink.problems.count == start, let name, let n = f["name"], claim("vacuum", name.rawValue, at: r.location(n), "vacuum policy \(name)")
        else { return }
        p.name = name
        vacuumPolicies.append(p)
    }

    func analyzePolicy(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["name", "tables", "modified_ratio", "min_modified_rows", "time_budget", "targets"]
        guard let f = r.fields(node, "an analyze policy", allowed: keys, required: ["name", "tables"]) else { return }
        var p = AnalyzePolicy(name: SQLIdentifier.publicSchema, tables: [], location: r.location(node))
        var name: SQLIdentifier?
        let ok = clean {
            name = f["name"].flatMap { r.name($0, "analyze policy name") }
            let what = "analyze policy \(name?.rawValue ?? "")"
            p.tables = policyObjects(f["tables"], r, key: "tables", section: "analyze", policy: name?.rawValue ?? "")
            if let n = f["tables"], n.sequence?.isEmpty == true { r.problem(.invalidValue, n, "\(what) lists no tables") }
            if let n = f["modified_ratio"], let v = r.ratio(n, "\(what) modified_ratio") { p.modifiedRatio = v }
            if let n = f["min_modified_rows"], let v = r.int(n, "\(what) min_modified_rows", in: 0...Int(Int32.max)) {
                p.minModifiedRows = v
            }
            if let n = f["time_budget"], let v = r.duration(n, "\(what) time_budget") { p.timeBudget = v }
            p.targets = targetList(f["targets"], r)
        }
        guard ok, sink.problems.count == start, let name, let n = f["name"], claim("analyze", name.rawValue, at: r.location(n), "analyze policy \(name)")
        else { return }
        p.name = name
        analyzePolicies.append(p)
    }

    func reindexPolicy(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["name", "tables", "indexes", "bloat_ratio", "time_budget", "targets"]
        guard let f = r.fields(node, "a reindex policy", allowed: keys, required: ["name"]) else { return }
        var p = ReindexPolicy(name: SQLIdentifier.publicSchema, location: r.location(node))
        var name: SQLIdentifier?
        let ok = clean {
            name = f["name"].flatMap { r.name($0, "reindex policy name") }
            let what = "reindex policy \(name?.rawValue ?? "")"
            p.tables = policyObjects(f["tables"], r, key: "tables", section: "reindex", policy: name?.rawValue ?? "")
            p.indexes = policyObjects(f["indexes"], r, key: "indexes", section: "reindex", policy: name?.rawValue ?? "")
            if f["tables"] == nil && f["indexes"] == nil {
                r.problem(.missingKey, node, "\(what) needs 'tables' or 'indexes'")
            } else if [f["tables"], f["indexes"]].compactMap({ $0 }).allSatisfy({ $0.sequence?.isEmpty == true }) {
                r.problem(.invalidValue, node, "\(what) lists no tables and no indexes")
            }
            if let n = f["bloat_ratio"], let v = r.ratio(n, "\(what) bloat_ratio") { p.bloatRatio = v }
            if let n = f["time_budget"], let v = r.duration(n, "\(what) time_budget") { p.timeBudget = v }
            p.targets = targetList(f["targets"], r)
        }
        guard ok, sink.problems.count == start, let name, let n = f["name"], claim("reindex", name.rawValue, at: r.location(n), "reindex policy \(name)")
        else { return }
        p.name = name
        reindexPolicies.append(p)
    }

    func cleanupPolicy(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["name", "table", "column", "age", "key", "match", "batch_size", "pause", "time_budget", "targets"]
        guard let f = r.fields(node, "a cleanup policy", allowed: keys, required: ["name", "table", "column", "age"]) else { return }
        var name: SQLIdentifier?
        var table: QualifiedName?
        var column: SQLIdentifier?
        var age: CalendarInterval?
        var key: [SQLIdentifier] = []
        var match: [CleanupPolicy.Match] = []
        var batchSize = CleanupPolicy.defaultBatchSize
        var pause = CleanupPolicy.defaultPause
        var budget = CleanupPolicy.defaultTimeBudget
        var targets: [String] = []
        let ok = clean {
            name = f["name"].flatMap { r.name($0, "cleanup policy name") }
            let what = "cleanup policy \(name?.rawValue ?? "")"
            table = f["table"].flatMap { r.qualifiedName($0, "\(what) table", systemSchemaAllowed: false) }
            column = f["column"].flatMap { r.identifier($0, "\(what) column") }
            age = f["age"].flatMap { r.interval($0, "\(what) age") }
            if let n = f["key"] { key = r.identifiers(n, "\(what) key") }
            if let n = f["match"] { match = matchList(n, r, what) }
            if let n = f["batch_size"], let v = r.int(n, "\(what) batch_size", in: 1...CleanupPolicy.maxBatchSize) { batchSize = v }
            if let n = f["pause"], let v = r.duration(n, "\(what) pause", allowZero: true) { pause = v }
            if let n = f["time_budget"], let v = r.duration(n, "\(what) time_budget") { budget = v }
            targets = targetList(f["targets"], r)
        }
        guard ok, sink.problems.count == start, let name, let table, let column, let age, let n = f["name"],
            claim("cleanup", name.rawValue, at: r.location(n), "cleanup policy \(name)")
        else { return }
        cleanupPolicies.append(CleanupPolicy(
            name: name, table: table, column: column, age: age, key: key, match: match, batchSize: batchSize,
            pause: pause, timeBudget: budget, targets: targets, location: r.location(node)))
    }

    /// `match: {column: value}` or `{column: [value, …]}`.
    func matchList(_ node: Node, _ r: YAMLReader, _ what: String) -> [CleanupPolicy.Match] {
        var out: [CleanupPolicy.Match] = []
        for (name, key, value) in r.namedEntries(node, "\(what) match") {
            guard let column = SQLIdentifier(name) else {
                r.problem(.invalidIdentifier, key, "\(what) match column \(SQLIdentifier.check(name)!)")
                continue
            }
            var values: [String] = []
            if case .sequence(let sequence) = value {
                values = sequence.compactMap { r.scalarText($0, "\(what) match value") }
                if sequence.isEmpty { r.problem(.invalidValue, value, "\(what) match \(name) lists no values") }
            } else if let v = r.scalarText(value, "\(what) match value") {
                values = [v]
            }
            out.append(CleanupPolicy.Match(column: column, values: values))
        }
        return out
    }
}
