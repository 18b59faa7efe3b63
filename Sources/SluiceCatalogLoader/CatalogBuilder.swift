// CatalogBuilder: turns catalog files into a Catalog, file by file, then checks what spans
// files (duplicate names, references to targets). Every problem is recorded; a declaration
// with a problem is left out of the catalog. Internal to the loader; one builder per load.

import ClientSupport
import Foundation
import SluiceCatalog
import SluiceCore
import Yams

final class CatalogBuilder {
    let sink = ProblemSink()
    private var files: [String] = []
    private var targets: [CatalogTarget] = []
    private var classes: [WorkloadClass: ClassSettings] = [:]
    private var partitionedTables: [PartitionedTable] = []
    private var materializedViews: [MaterializedView] = []
    private var vacuumPolicies: [VacuumPolicy] = []
    private var analyzePolicies: [AnalyzePolicy] = []
    private var reindexPolicies: [ReindexPolicy] = []
    private var cleanupPolicies: [CleanupPolicy] = []
    private var schedules: [CatalogSchedule] = []
    /// `imports:` and `statements:` (CatalogBuilder+Imports.swift).
    var imports: [ImportSpec] = []
    var statements: [CatalogStatement] = []
    /// `retention:` (CatalogBuilder+Retention.swift); nil until declared.
    var retention: RetentionSettings?
    private let analytics = AnalyticsDeclarations()
    /// First declaration of each name, per namespace, so a duplicate can say where the first is.
    private var seen: [String: [String: SourceLocation]] = [:]
    /// Target names used by declarations, checked once every file has declared its targets.
    private var targetReferences: [(name: String, location: SourceLocation)] = []

    /// The keys a catalog file may hold: one per `CatalogSection`.
    static let sections = CatalogSection.allCases.map(\.key)

    // MARK: Files

    func add(_ source: CatalogSource) {
        files.append(source.path)
        let reader = YAMLReader(file: source.path, sink: sink)
        do {
            let parser = try Parser(yaml: source.text)
            while let root = try parser.nextRoot() {
                document(root, reader)
            }
        } catch let error as YamlError {
            syntaxProblem(error, file: source.path)
        } catch {
            sink.add(.syntax, SourceLocation(file: source.path, line: 0), "cannot parse: \(error)")
        }
    }

    private func syntaxProblem(_ error: YamlError, file: String) {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            let text = context.map { "\($0.text) (line \($0.mark.line)): " } ?? ""
            sink.add(.syntax, at(mark), "invalid YAML: \(text)\(problem)")
        case let .duplicatedKeysInMapping(duplicates, context):
            sink.add(.syntax, at(context.mark),
                "invalid YAML: a mapping repeats the key(s) \(duplicates.sorted().map { CatalogText.display($0) }.joined(separator: ", "))")
        case let .reader(problem, _, _, _):
            sink.add(.syntax, SourceLocation(file: file, line: 0), "unreadable text: \(problem)")
        default:
            sink.add(.syntax, SourceLocation(file: file, line: 0), "invalid YAML: \(error)")
        }
    }

    private func document(_ root: Node, _ r: YAMLReader) {
        if root.tagName == .null { return }  // an empty file or document
        guard let f = r.fields(root, "a catalog file", allowed: Self.sections) else { return }
        for section in CatalogSection.allCases {
            if let node = f[section.key] { read(section, node, r) }
        }
    }

    /// Reads one section of one file. Exhaustive: a new `CatalogSection` case must say here how
    /// it is read.
    private func read(_ section: CatalogSection, _ n: Node, _ r: YAMLReader) {
        switch section {
        case .version:
            if let v = r.int(n, "version", in: 1...Int.max), v != 1 {
                r.problem(.invalidValue, n, "catalog version \(v) is not supported; this Sluice reads version 1")
            }
        case .targets: targetsSection(n, r)
        case .classes: classesSection(n, r)
        case .partitionedTables: for item in r.items(n, section.key) { partitionedTable(item, r) }
        case .materializedViews: for item in r.items(n, section.key) { materializedView(item, r) }
        case .vacuum: for item in r.items(n, section.key) { vacuumPolicy(item, r) }
        case .analyze: for item in r.items(n, section.key) { analyzePolicy(item, r) }
        case .reindex: for item in r.items(n, section.key) { reindexPolicy(item, r) }
        case .cleanup: for item in r.items(n, section.key) { cleanupPolicy(item, r) }
        case .schedules: for item in r.items(n, section.key) { schedule(item, r) }
        case .imports: for item in r.items(n, section.key) { importSpec(item, r) }
        case .statements: for item in r.items(n, section.key) { statement(item, r) }
        case .queries, .segments, .health: analytics.read(section, n, r)
        case .retention: retentionSection(n, r)
        }
    }

    // MARK: Shared checks

    /// Records the first declaration of `key` in `namespace`; reports a duplicate (and returns
    /// false) when it was declared before.
    @discardableResult
    func claim(_ namespace: String, _ key: String, at location: SourceLocation, _ what: String) -> Bool {
        if let first = seen[namespace]?[key] {
            sink.add(.duplicate, location, "\(what) is declared twice; the first is at \(first)")
            return false
        }
        seen[namespace, default: [:]][key] = location
        return true
    }

    func targetList(_ node: Node?, _ r: YAMLReader) -> [String] {
        guard let node else { return [] }
        guard case .sequence(let sequence) = node else {
            r.wrongType(node, "targets", expected: "a list of target names")
            return []
        }
        var names: [String] = []
        for item in sequence {
            guard let name = r.name(item, "an entry of targets") else { continue }
            names.append(name.rawValue)
            targetReferences.append((name.rawValue, r.location(item)))
        }
        return names
    }

    /// Runs `body`, and says whether it added no problem: a declaration is kept only then.
    func clean(_ body: () -> Void) -> Bool {
        let before = sink.problems.count
        body()
        return sink.problems.count == before
    }

    // MARK: targets / classes

    private func targetsSection(_ node: Node, _ r: YAMLReader) {
        for (name, key, value) in r.namedEntries(node, "targets") {
            let what = "target \(CatalogText.display(name))"
            if let error = SQLIdentifier.check(name) {
                r.problem(.invalidIdentifier, key, "target name \(error)")
                continue
            }
            let start = sink.problems.count
            guard let f = r.fields(value, what, allowed: ["url", "url_env"]) else { continue }
            var source: CatalogTarget.Source?
            switch (f["url"], f["url_env"]) {
            case (nil, nil):
                r.problem(.missingKey, value.tagName == .null ? key : value,
                    "\(what) needs 'url_env' (the environment variable holding its URL) or 'url'")
            case (.some, .some(let env)):
                r.problem(.conflict, env, "\(what) has both 'url' and 'url_env'; keep one")
            case (let urlNode?, nil):
                guard let url = r.string(urlNode, "\(what) url") else { break }
                do {
                    let parsed = try ConnectionURL(parsing: url, schemes: ["postgresql", "postgres"])
                    if parsed.password != nil || parsed.queryValue("password") != nil {
                        r.problem(.invalidValue, urlNode,
                            "\(what) url holds a password; the catalog is reviewed and committed, so put the URL in an environment variable and name it with url_env")
                    } else {
                        source = .url(url)
                    }
                } catch {
                    r.problem(.invalidValue, urlNode, "\(what) url: \(error)")
                }
            case (nil, let envNode?):
                guard let variable = r.string(envNode, "\(what) url_env") else { break }
                let valid = !variable.isEmpty && variable.utf8.count <= 128
                    && variable.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
                    && !(variable.utf8.first! >= 48 && variable.utf8.first! <= 57)
                if valid {
                    source = .environment(variable)
                } else {
                    r.problem(.invalidValue, envNode,
                        "\(what) url_env \(CatalogText.display(variable)) is not an environment variable name (A-Z, 0-9, _)")
                }
            }
            guard let source, sink.problems.count == start, claim("target", name, at: r.location(key), what) else { continue }
            targets.append(CatalogTarget(name: name, source: source, location: r.location(key)))
        }
    }

    private func classesSection(_ node: Node, _ r: YAMLReader) {
        let keys = ["pool_size", "role", "read_only", "statement_timeout", "lock_timeout", "concurrency", "prefetch", "short_job_threshold", "settings"]
        for (name, key, value) in r.namedEntries(node, "classes") {
            guard let workloadClass = WorkloadClass(rawValue: name) else {
                let known = WorkloadClass.allCases.map(\.rawValue)
                var message = "unknown class \(CatalogText.display(name)); the classes are \(known.joined(separator: ", "))"
                if let hint = CatalogText.suggestion(for: name, among: known) { message += "; did you mean '\(hint)'?" }
                r.problem(.unknownClass, key, message)
                continue
            }
            let what = "class \(name)"
            let start = sink.problems.count
            let f: [String: Node]
            if value.tagName == .null {
                f = [:]
            } else {
                guard let fields = r.fields(value, what, allowed: keys) else { continue }
                f = fields
            }
            var s = ClassSettings.defaults(for: workloadClass)
            s.location = r.location(key)
            let ok = clean {
                if let n = f["concurrency"], let v = r.int(n, "\(what) concurrency", in: 1...256) { s.concurrency = v }
                if let n = f["pool_size"] {
                    if let v = r.int(n, "\(what) pool_size", in: 1...256) {
                        s.poolSize = v
                        if v < s.concurrency {
                            r.problem(.conflict, n,
                                "\(what) pool_size \(v) is smaller than its concurrency \(s.concurrency); every slot needs a connection")
                        }
                    }
                } else {
                    s.poolSize = max(s.poolSize, s.concurrency)
                }
                if let n = f["role"], let v = r.identifier(n, "\(what) role") { s.role = v }
                if let n = f["read_only"], let v = r.bool(n, "\(what) read_only") { s.readOnly = v }
                if let n = f["statement_timeout"], let v = r.duration(n, "\(what) statement_timeout") { s.statementTimeout = v }
                if let n = f["lock_timeout"], let v = r.duration(n, "\(what) lock_timeout") { s.lockTimeout = v }
                if let n = f["prefetch"], let v = r.int(n, "\(what) prefetch", in: 1...10_000) { s.prefetch = v }
                if let n = f["short_job_threshold"], let v = r.duration(n, "\(what) short_job_threshold", allowZero: true) {
                    s.shortJobThreshold = v
                }
                if let n = f["settings"] { s.sessionSettings.merge(sessionSettings(n, r, what)) { $1 } }
            }
            if ok, sink.problems.count == start, claim("class", name, at: r.location(key), what) { classes[workloadClass] = s }
        }
    }

    /// A class's `settings:`: Postgres setting names (`jit`, `work_mem`, `pg_trgm.similarity_threshold`)
    /// to scalar values. Names the class's own fields set are refused; unknown names fail on connect
    /// and in `catalog check`.
    private func sessionSettings(_ node: Node, _ r: YAMLReader, _ what: String) -> [String: String] {
        var out: [String: String] = [:]
        for (name, key, value) in r.namedEntries(node, "\(what) settings") {
            let lower = name.lowercased()
            guard !lower.isEmpty, lower.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2E }),
                  lower.utf8.first.map({ $0 >= 0x61 && $0 <= 0x7A }) == true
            else {
                r.problem(.invalidValue, key, "\(what) settings: \(CatalogText.display(name)) is not a Postgres setting name")
                continue
            }
            if let field = ClassSettings.reservedSessionSettings[lower] {
                r.problem(.conflict, key, "\(what) settings: \(lower) is set by the class's \(field), not here")
                continue
            }
            // `jit: off` reads as a YAML boolean; its text is what Postgres takes.
            guard let text = r.scalarText(value, "\(what) setting \(lower)") else { continue }
            out[lower] = text
        }
        return out
    }

    // MARK: Objects

    private func partitionedTable(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["table", "column", "interval", "premake", "retention", "retention_mode", "archive_schema", "targets"]
        guard let f = r.fields(node, "a partitioned_tables entry", allowed: keys, required: ["table", "column"]) else { return }
        var table: QualifiedName?
        var column: SQLIdentifier?
        var interval = PartitionedTable.Interval.monthly
        var premake = PartitionedTable.defaultPremake
        var retention: CalendarInterval?
        var mode = PartitionedTable.RetentionMode.detach
        var archive: SQLIdentifier?
        var targets: [String] = []
        let ok = clean {
            table = f["table"].flatMap { r.qualifiedName($0, "table", systemSchemaAllowed: false) }
            let what = table.map { "partitioned table \($0)" } ?? "partitioned table"
            column = f["column"].flatMap { r.identifier($0, "\(what) column") }
            if let n = f["interval"], let v = r.word(n, "\(what) interval", as: PartitionedTable.Interval.self) { interval = v }
            if let n = f["premake"], let v = r.int(n, "\(what) premake", in: 1...366) { premake = v }
            if let n = f["retention"] { retention = r.interval(n, "\(what) retention") }
            if let n = f["retention_mode"], let v = r.word(n, "\(what) retention_mode", as: PartitionedTable.RetentionMode.self) {
                mode = v
                if f["retention"] == nil {
                    r.problem(.conflict, n, "\(what) has a retention_mode but no retention; say how old a partition must be")
                }
            }
            if let n = f["archive_schema"] {
                archive = r.identifier(n, "\(what) archive_schema", systemSchemaAllowed: false)
                if mode != .archive {
                    r.problem(.conflict, n, "\(what) has an archive_schema but retention_mode is \(mode.rawValue), not archive")
                } else if let archive, archive == table?.schema {
                    r.problem(.conflict, n, "\(what) archive_schema must differ from the table's own schema")
                }
            } else if mode == .archive {
                r.problem(.missingKey, f["retention_mode"] ?? node, "\(what) retention_mode archive needs an 'archive_schema'")
            }
            if let table, let n = f["table"] {
                let limit = SQLIdentifier.maxLength - PartitionedTable.partitionSuffixLength(interval)
                if table.name.rawValue.utf8.count > limit {
                    r.problem(.invalidIdentifier, n,
                        "\(what): a \(interval.rawValue) partition name adds \(PartitionedTable.partitionSuffixLength(interval)) bytes to the table name, so it must be at most \(limit) bytes")
                }
            }
            targets = targetList(f["targets"], r)
        }
        guard ok, sink.problems.count == start, let table, let column, let n = f["table"],
            claim("partitioned_table", table.description, at: r.location(n), "partitioned table \(table)")
        else { return }
        partitionedTables.append(PartitionedTable(
            table: table, column: column, interval: interval, premake: premake, retention: retention,
            retentionMode: mode, archiveSchema: archive, targets: targets, location: r.location(node)))
    }

    private func materializedView(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        guard let f = r.fields(node, "a materialized_views entry", allowed: ["view", "refresh", "targets"], required: ["view"])
        else { return }
        var view: QualifiedName?
        var refresh = MaterializedView.RefreshMode.auto
        var targets: [String] = []
        let ok = clean {
            view = f["view"].flatMap { r.qualifiedName($0, "view") }
            let what = view.map { "materialized view \($0)" } ?? "materialized view"
            if let n = f["refresh"], let v = r.word(n, "\(what) refresh", as: MaterializedView.RefreshMode.self) { refresh = v }
            targets = targetList(f["targets"], r)
        }
        guard ok, sink.problems.count == start, let view, let n = f["view"],
            claim("materialized_view", view.description, at: r.location(n), "materialized view \(view)")
        else { return }
        materializedViews.append(MaterializedView(view: view, refresh: refresh, targets: targets, location: r.location(node)))
    }

    // MARK: Policies

    /// Reads a policy's `tables:` (or `indexes:`), refusing an object that another policy of the
    /// same section already lists: a job must find exactly one policy for it.
    private func policyObjects(_ node: Node?, _ r: YAMLReader, key: String, section: String, policy: String) -> [QualifiedName] {
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

    private func vacuumPolicy(_ node: Node, _ r: YAMLReader) {
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

    private func analyzePolicy(_ node: Node, _ r: YAMLReader) {
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

    private func reindexPolicy(_ node: Node, _ r: YAMLReader) {
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

    private func cleanupPolicy(_ node: Node, _ r: YAMLReader) {
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
    private func matchList(_ node: Node, _ r: YAMLReader, _ what: String) -> [CleanupPolicy.Match] {
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

    // MARK: Schedules

    private func schedule(_ node: Node, _ r: YAMLReader) {
        let start = sink.problems.count
        let keys = ["name", "cron", "every", "time_zone", "kind", "args", "target", "unique_key", "missed", "enabled"]
        guard let f = r.fields(node, "a schedule", allowed: keys, required: ["name", "kind"]) else { return }
        var name: SQLIdentifier?
        var trigger: CatalogSchedule.Trigger?
        var timeZone = "UTC"
        var kind: JobKind?
        var args = JSONValue.object([:])
        var target: String?
        var uniqueKey: String?
        var missed = MissedRunPolicy.skip
        var enabled = true
        let ok = clean {
            name = f["name"].flatMap { r.name($0, "schedule name") }
            let what = "schedule \(name?.rawValue ?? "")"
            switch (f["cron"], f["every"]) {
            case (nil, nil): r.problem(.missingKey, node, "\(what) needs 'cron' or 'every'")
            case (.some, .some(let n)): r.problem(.conflict, n, "\(what) has both 'cron' and 'every'; keep one")
            case (let n?, nil):
                if let text = r.string(n, "\(what) cron") {
                    do {
                        _ = try CronExpression(text)
                        trigger = .cron(text)
                    } catch {
                        r.problem(.invalidValue, n,
                            "\(what) cron \(CatalogText.display(text)) is not valid: \(error) (five fields minute hour day-of-month month day-of-week, or @hourly, @daily, @weekly, @monthly)")
                    }
                }
            case (nil, let n?):
                if let d = r.duration(n, "\(what) every") {
                    if d < .seconds(1) {
                        r.problem(.invalidDuration, n, "\(what) every must be at least 1s")
                    } else {
                        trigger = .every(d)
                    }
                }
            }
            if let n = f["time_zone"], let text = r.string(n, "\(what) time_zone") {
                if TimeZone(identifier: text) != nil {
                    timeZone = text
                } else {
                    r.problem(.invalidValue, n, "\(what) time_zone \(CatalogText.display(text)) is not a known IANA time zone")
                }
            }
            if let n = f["kind"], let text = r.string(n, "\(what) kind") {
                if JobKind(text).isWellFormed {
                    kind = JobKind(text)
                } else {
                    r.problem(.invalidValue, n, "\(what) kind \(CatalogText.display(text)) is not namespace.name in lower case")
                }
            }
            if let n = f["args"] {
                if n.mapping == nil {
                    r.wrongType(n, "\(what) args", expected: "a mapping")
                } else if let v = r.json(n, "\(what) args") {
                    args = v
                }
            }
            if let n = f["target"], let v = r.name(n, "\(what) target") {
                target = v.rawValue
                targetReferences.append((v.rawValue, r.location(n)))
            }
            if let n = f["unique_key"], let text = r.string(n, "\(what) unique_key") {
                if text.isEmpty || text.utf8.count > 200 {
                    r.problem(.invalidValue, n, "\(what) unique_key must be 1 to 200 bytes")
                } else {
                    uniqueKey = text
                }
            }
            if let n = f["enabled"], let v = r.bool(n, "\(what) enabled") { enabled = v }
            if let n = f["missed"], let text = r.string(n, "\(what) missed") {
                if let v = Self.missed(text) {
                    missed = v
                } else {
                    r.problem(.invalidValue, n, "\(what) missed must be skip, once or each:N (N from 1 to 1000), not \(CatalogText.display(text))")
                }
            }
        }
        guard ok, sink.problems.count == start, let name, let trigger, let kind, let n = f["name"],
            claim("schedule", name.rawValue, at: r.location(n), "schedule \(name)")
        else { return }
        let schedule = CatalogSchedule(
            name: name.rawValue, trigger: trigger, timeZone: timeZone, kind: kind, args: args, target: target,
            uniqueKey: uniqueKey, missed: missed, enabled: enabled, location: r.location(node))
        do {
            _ = try schedule.definition()
        } catch {
            r.problem(.invalidValue, node, "schedule \(name): \(error)")
            return
        }
        schedules.append(schedule)
    }

    /// Five whitespace-separated fields of digits, letters (JAN, MON), `*`, `,`, `-`, `/`.
    static func isCron(_ text: String) -> Bool {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        return fields.count == 5 && fields.allSatisfy { field in
            field.unicodeScalars.allSatisfy { c in
                (c.isASCII && (CharacterSet.alphanumerics.contains(c))) || "*,-/".unicodeScalars.contains(c)
            }
        }
    }

    /// The catalog's words for a missed-run policy: `skip`, `once`, `each:N` (the scheduler's
    /// own spellings `run_once` and `run_each:N` are accepted too).
    static func missed(_ text: String) -> MissedRunPolicy? {
        switch text {
        case "once": return .runOnce
        default:
            if text.hasPrefix("each:") { return try? MissedRunPolicy(parsing: "run_" + text) }
            return try? MissedRunPolicy(parsing: text)
        }
    }

    // MARK: Finish

    func finish() -> CatalogCheck {
        var allTargets = targets
        if !allTargets.contains(where: { $0.name == CatalogTarget.defaultName }) {
            allTargets.insert(Catalog.builtInMainTarget, at: 0)
        }
        let names = Set(allTargets.map(\.name))
        for reference in targetReferences where !names.contains(reference.name) {
            sink.add(.unknownTarget, reference.location,
                "target \(CatalogText.display(reference.name)) is not declared; targets are \(allTargets.map(\.name).sorted().joined(separator: ", "))")
        }
        var allClasses = Catalog.defaultClasses
        for (c, s) in classes { allClasses[c] = s }
        var catalog = Catalog(
            targets: allTargets, classes: allClasses, partitionedTables: partitionedTables,
            materializedViews: materializedViews, vacuumPolicies: vacuumPolicies, analyzePolicies: analyzePolicies,
            reindexPolicies: reindexPolicies, cleanupPolicies: cleanupPolicies, schedules: schedules, files: files)
        catalog.imports = imports
        catalog.statements = statements
        if let retention { catalog.retention = retention }
        analytics.apply(to: &catalog)
        let problems = sink.problems.enumerated().sorted { a, b in
            a.element.location == b.element.location ? a.offset < b.offset : a.element.location < b.element.location
        }.map(\.element)
        return CatalogCheck(catalog: catalog, problems: problems)
    }
}
