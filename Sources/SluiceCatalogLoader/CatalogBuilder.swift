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
    var vacuumPolicies: [VacuumPolicy] = []
    var analyzePolicies: [AnalyzePolicy] = []
    var reindexPolicies: [ReindexPolicy] = []
    var cleanupPolicies: [CleanupPolicy] = []
    var schedules: [CatalogSchedule] = []
    // The policy sections and `schedules:` are read in CatalogBuilder+Policies.swift and
    // CatalogBuilder+Schedules.swift.
    /// `imports:` and `statements:` (CatalogBuilder+Imports.swift).
    var imports: [ImportSpec] = []
    var statements: [CatalogStatement] = []
    /// `retention:` (CatalogBuilder+Retention.swift); nil until declared.
    var retention: RetentionSettings?
    /// `producers:` (CatalogBuilder+Producers.swift).
    var producers: [ProducerGrant] = []
    private let analytics = AnalyticsDeclarations()
    /// First declaration of each name, per namespace, so a duplicate can say where the first is.
    private var seen: [String: [String: SourceLocation]] = [:]
    /// Target names used by declarations, checked once every file has declared its targets.
    var targetReferences: [(name: String, location: SourceLocation)] = []

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
        case .producers: producersSection(n, r)
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
        catalog.producers = producers
        analytics.apply(to: &catalog)
        let problems = sink.problems.enumerated().sorted { a, b in
            a.element.location == b.element.location ? a.offset < b.offset : a.element.location < b.element.location
        }.map(\.element)
        return CatalogCheck(catalog: catalog, problems: problems)
    }
}
