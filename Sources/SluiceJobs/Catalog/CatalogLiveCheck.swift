// CatalogLiveCheck: validates a loaded catalog against one target's live database.
//
// The static loader proves names are well formed; this check proves they mean what the
// catalog says in the database jobs will run against: partitioned tables are RANGE-partitioned
// on the declared column with a DEFAULT partition and partitions named as the partitions job
// names them; archive schemas exist; views exist and, for `refresh: concurrent`, have a unique
// index REFRESH … CONCURRENTLY can use; policy tables, indexes and columns exist with usable
// types; reindex never points at system catalogs or exclusion-constraint indexes; class roles
// exist; pg_stat_statements is installed. Every finding is located at its declaration. Each
// `CatalogSection` says what it checks (`check(_:_:_:)`).
// It only reads the system catalogs (names are bound as parameters, never spliced into SQL);
// the connection must not be in a failed transaction.

import Foundation
import Postgres
import SluiceCatalog

public struct CatalogLiveCheck: Sendable {
    public var catalog: Catalog
    /// The target whose declarations are checked (objects with `targets:` not naming it are skipped).
    public var target: String

    public init(catalog: Catalog, target: String = CatalogTarget.defaultName) {
        self.catalog = catalog
        self.target = target
    }

    /// Runs every check over `connection` (a session on the target's database).
    public func run(on connection: PostgresConnection) async throws(PostgresError) -> CatalogLiveReport {
        var report = CatalogLiveReport(target: target)
        let db = Database(connection: connection)
        for section in CatalogSection.allCases {
            try await check(section, db, &report)
        }
        report.problems.sort { $0.location < $1.location }
        report.warnings.sort { $0.location < $1.location }
        return report
    }

    /// What one section's declarations for this target must be in the live database. Exhaustive:
    /// a new `CatalogSection` case says here what, if anything, a live database can prove of it.
    func check(_ section: CatalogSection, _ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        switch section {
        case .version, .targets, .schedules, .retention, .producers:
            break  // nothing in a database: a target's connection is proved by connecting
        case .classes:
            try await checkRoles(db, &report)
        case .partitionedTables:
            for table in catalog.partitionedTables where table.applies(to: target) {
                try await checkPartitionedTable(table, db, &report)
            }
        case .materializedViews:
            for view in catalog.materializedViews where view.applies(to: target) {
                try await checkView(view, db, &report)
            }
        case .vacuum:
            for policy in catalog.vacuumPolicies where policy.applies(to: target) {
                for table in policy.tables {
                    try await checkTable(table, kinds: Self.maintainableKinds, policy: "vacuum policy \(policy.name)",
                                         at: policy.location, db, &report)
                }
            }
        case .analyze:
            for policy in catalog.analyzePolicies where policy.applies(to: target) {
                for table in policy.tables {
                    try await checkTable(table, kinds: Self.maintainableKinds, policy: "analyze policy \(policy.name)",
                                         at: policy.location, db, &report)
                }
            }
        case .reindex:
            for policy in catalog.reindexPolicies where policy.applies(to: target) {
                try await checkReindex(policy, db, &report)
            }
        case .cleanup:
            for policy in catalog.cleanupPolicies where policy.applies(to: target) {
                try await checkCleanup(policy, db, &report)
            }
        case .imports:
            for spec in catalog.imports where spec.applies(to: target) {
                try await checkImport(spec, db, &report)
            }
        case .statements, .queries:
            break  // their SQL is checked when it runs (bound parameters, the class's role)
        case .segments:
            // Rules compile to SQL when they run; what a live database can prove is that every
            // field and lookup has an index that serves it (warnings, not problems).
            if let segments = catalog.segments { try await checkSegments(segments, db, &report) }
        case .health:
            if try await !db.hasExtension("pg_stat_statements") {
                report.problems.append(CatalogProblem(.missingExtension, at: targetLocation,
                    "extension pg_stat_statements is not installed in the target's database "
                    + "(CREATE EXTENSION pg_stat_statements as a superuser; health reports need it)"))
            }
        }
    }

    /// Where findings about the target as a whole are reported: its declaration, or a pseudo-file
    /// naming the built-in target.
    var targetLocation: SourceLocation {
        catalog.target(named: target)?.location ?? SourceLocation(file: "target \(target)", line: 0)
    }

    static let maintainableKinds: Set<String> = ["r", "p", "m"]
    static let tableKinds: Set<String> = ["r", "p"]
    static let indexKinds: Set<String> = ["i", "I"]
    /// date, timestamp, timestamptz: the types `column < now() - age` works on.
    static let timeTypeOIDs: Set<Int> = [1082, 1114, 1184]

    static func kindName(_ relkind: String) -> String {
        switch relkind {
        case "r": "table"
        case "p": "partitioned table"
        case "v": "view"
        case "m": "materialized view"
        case "i": "index"
        case "I": "partitioned index"
        case "S": "sequence"
        case "f": "foreign table"
        case "c": "composite type"
        case "t": "TOAST table"
        default: "relation of kind '\(relkind)'"
        }
    }

    // MARK: Partitioned tables

    func checkPartitionedTable(
        _ table: PartitionedTable, _ db: Database, _ report: inout CatalogLiveReport
    ) async throws(PostgresError) {
        let at = table.location
        let name = table.table
        if table.retentionMode == .archive, let archive = table.archiveSchema, try await !db.schemaExists(archive) {
            report.problems.append(CatalogProblem(.missingObject, at: at,
                "archive schema \(archive) of \(name) does not exist (CREATE SCHEMA \(archive.quoted))"))
        }
        guard let relation = try await db.relation(name) else {
            report.problems.append(CatalogProblem(.missingObject, at: at, "partitioned table \(name) does not exist"))
            return
        }
        guard relation.kind == "p" else {
            report.problems.append(CatalogProblem(.wrongKind, at: at,
                "\(name) is a \(Self.kindName(relation.kind)), not a partitioned table (PARTITION BY RANGE (\(table.column)))"))
            return
        }
        guard let key = try await db.partitionKey(oid: relation.oid) else { return }
        if key.strategy != "r" || key.columns != 1 || key.column != table.column.rawValue {
            let strategy = ["r": "RANGE", "l": "LIST", "h": "HASH"][key.strategy] ?? key.strategy
            report.problems.append(CatalogProblem(.partitionKey, at: at,
                "\(name) is partitioned by \(strategy) (\(key.definition)), but the catalog declares RANGE (\(table.column))"))
            return
        }
        guard Self.timeTypeOIDs.contains(key.baseTypeOID) else {
            report.problems.append(CatalogProblem(.partitionKey, at: at,
                "\(name) is partitioned on \(table.column) of type \(key.typeName); the partitions job needs a date or timestamp column"))
            return
        }
        let partitions = try await db.partitions(oid: relation.oid)
        if !partitions.contains(where: \.isDefault) {
            report.warnings.append(CatalogProblem(.noDefaultPartition, at: at,
                "\(name) has no DEFAULT partition: a row outside every partition's range fails to insert "
                + "(CREATE TABLE \(name.schema.quoted).\(table.defaultPartitionName.quoted) PARTITION OF \(name.quoted) DEFAULT)"))
        }
        for partition in partitions {
            if let problem = Self.namingProblem(partition, of: table) {
                report.problems.append(CatalogProblem(.partitionNaming, at: at, problem))
            }
        }
    }

    /// Why `partition` does not follow the catalog's naming and ranges, or nil when it does.
    static func namingProblem(_ partition: Database.Partition, of table: PartitionedTable) -> String? {
        let qualified = "\(partition.schema).\(partition.name)"
        if partition.isDefault {
            if partition.name == table.defaultPartitionName.rawValue && partition.schema == table.table.schema.rawValue {
                return nil
            }
            return "the DEFAULT partition of \(table.table) is \(qualified); the catalog's naming expects "
                + "\(table.table.schema).\(table.defaultPartitionName)"
        }
        let expectedSpan: String = switch table.interval {
        case .monthly: "one calendar month"
        case .weekly: "one week from a Monday"
        case .daily: "one day"
        }
        guard let lower = partition.lower, let upper = partition.upper else {
            return "partition \(qualified) of \(table.table) has bounds \(partition.bound); partitions are \(table.interval) "
                + "ranges (\(expectedSpan), UTC boundaries) named <table>_pYYYY_MM\(table.interval == .monthly ? "" : "_DD")"
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond, .weekday], from: lower)
        let step: DateComponents = switch table.interval {
        case .monthly: DateComponents(month: 1)
        case .weekly: DateComponents(day: 7)
        case .daily: DateComponents(day: 1)
        }
        let startsOnBoundary = parts.hour == 0 && parts.minute == 0 && parts.second == 0 && (parts.nanosecond ?? 0) < 1000
            && (table.interval != .monthly || parts.day == 1) && (table.interval != .weekly || parts.weekday == 2)
        let expectedUpper = calendar.date(byAdding: step, to: lower)
        let lowerText = Self.dayText(parts)
        guard startsOnBoundary, let expectedUpper, abs(expectedUpper.timeIntervalSince(upper)) < 0.001 else {
            return "partition \(qualified) of \(table.table) covers \(partition.bound); partitions are \(table.interval) ranges "
                + "(\(expectedSpan), UTC boundaries)"
        }
        let expected = table.partitionName(year: parts.year!, month: parts.month!, day: parts.day!)
        if partition.name == expected.rawValue && partition.schema == table.table.schema.rawValue { return nil }
        return "partition \(qualified) of \(table.table) (from \(lowerText)) should be named \(table.table.schema).\(expected): "
            + "the partitions job would not recognise it"
    }

    static func dayText(_ parts: DateComponents) -> String {
        func two(_ n: Int?) -> String { let n = n ?? 0; return n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day))"
    }

    // MARK: Materialized views

    func checkView(_ view: MaterializedView, _ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        let at = view.location
        guard let relation = try await db.relation(view.view) else {
            report.problems.append(CatalogProblem(.missingObject, at: at, "materialized view \(view.view) does not exist"))
            return
        }
        guard relation.kind == "m" else {
            report.problems.append(CatalogProblem(.wrongKind, at: at,
                "\(view.view) is a \(Self.kindName(relation.kind)), not a materialized view"))
            return
        }
        let indexes = try await db.uniqueIndexes(oid: relation.oid)
        let usable = indexes.filter { $0.valid && !$0.partial && !$0.hasExpressions }
        switch view.refresh {
        case .concurrent:
            if usable.isEmpty {
                let why = indexes.isEmpty ? "it has no unique index"
                    : "its unique indexes cannot serve: " + indexes.map { $0.reason }.joined(separator: "; ")
                report.problems.append(CatalogProblem(.noUniqueIndex, at: at,
                    "materialized view \(view.view) is declared refresh: concurrent, but \(why) "
                    + "(REFRESH … CONCURRENTLY needs a valid unique index on plain columns without WHERE)"))
            } else if !relation.populated {
                report.warnings.append(CatalogProblem(.notPopulated, at: at,
                    "materialized view \(view.view) is not populated: its concurrent refresh fails until a plain REFRESH has run"))
            }
        case .auto:
            if usable.isEmpty {
                report.warnings.append(CatalogProblem(.noUniqueIndex, at: at,
                    "materialized view \(view.view) has no unique index REFRESH … CONCURRENTLY can use: every refresh "
                    + "will be plain and block its readers"))
            }
        case .plain:
            break
        }
    }

    // MARK: Policies

    /// Checks that `name` exists as one of `kinds` and is not a system object; returns it.
    @discardableResult
    func checkTable(
        _ name: QualifiedName, kinds: Set<String>, policy: String, at: SourceLocation,
        _ db: Database, _ report: inout CatalogLiveReport
    ) async throws(PostgresError) -> Database.Relation? {
        guard let relation = try await db.relation(name) else {
            report.problems.append(CatalogProblem(.missingObject, at: at, "\(policy): table \(name) does not exist"))
            return nil
        }
        guard kinds.contains(relation.kind) else {
            report.problems.append(CatalogProblem(.wrongKind, at: at,
                "\(policy): \(name) is a \(Self.kindName(relation.kind)), not a table"))
            return nil
        }
        if relation.isSystem {
            report.problems.append(CatalogProblem(.forbiddenObject, at: at,
                "\(policy): \(name) is a system catalog; Sluice never maintains those"))
            return nil
        }
        return relation
    }

    func checkReindex(_ policy: ReindexPolicy, _ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        let label = "reindex policy \(policy.name)"
        for table in policy.tables {
            guard let relation = try await checkTable(table, kinds: Self.maintainableKinds, policy: label,
                                                      at: policy.location, db, &report) else { continue }
            for index in try await db.exclusionIndexes(tableOID: relation.oid) {
                report.warnings.append(CatalogProblem(.forbiddenObject, at: policy.location,
                    "\(label): index \(table.schema).\(index) of \(table) backs an exclusion constraint; "
                    + "REINDEX CONCURRENTLY cannot rebuild it, so the reindex job skips it"))
            }
        }
        for index in policy.indexes {
            guard let relation = try await db.relation(index) else {
                report.problems.append(CatalogProblem(.missingObject, at: policy.location, "\(label): index \(index) does not exist"))
                continue
            }
            guard Self.indexKinds.contains(relation.kind) else {
                report.problems.append(CatalogProblem(.wrongKind, at: policy.location,
                    "\(label): \(index) is a \(Self.kindName(relation.kind)), not an index"))
                continue
            }
            if relation.isSystem {
                report.problems.append(CatalogProblem(.forbiddenObject, at: policy.location,
                    "\(label): \(index) is an index of a system catalog; Sluice never reindexes those"))
            } else if try await db.isExclusionIndex(oid: relation.oid) {
                report.problems.append(CatalogProblem(.forbiddenObject, at: policy.location,
                    "\(label): index \(index) backs an exclusion constraint; REINDEX CONCURRENTLY cannot rebuild it"))
            }
        }
    }

    func checkCleanup(_ policy: CleanupPolicy, _ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        let label = "cleanup policy \(policy.name)"
        let at = policy.location
        guard let relation = try await checkTable(policy.table, kinds: Self.tableKinds, policy: label, at: at, db, &report)
        else { return }
        let columns = try await db.columns(oid: relation.oid)
        if let column = columns[policy.column.rawValue] {
            if !Self.timeTypeOIDs.contains(column.baseTypeOID) {
                report.problems.append(CatalogProblem(.columnType, at: at,
                    "\(label): column \(policy.column) of \(policy.table) has type \(column.typeName); cleanup compares it "
                    + "with now() - \(policy.age), so it must be a date or timestamp column"))
            }
        } else {
            report.problems.append(CatalogProblem(.missingObject, at: at,
                "\(label): column \(policy.column) does not exist in \(policy.table)"))
        }
        for key in policy.key where columns[key.rawValue] == nil {
            report.problems.append(CatalogProblem(.missingObject, at: at,
                "\(label): key column \(key) does not exist in \(policy.table)"))
        }
        for match in policy.match where columns[match.column.rawValue] == nil {
            report.problems.append(CatalogProblem(.missingObject, at: at,
                "\(label): match column \(match.column) does not exist in \(policy.table)"))
        }
        if policy.key.isEmpty {
            if relation.kind == "p" {
                report.problems.append(CatalogProblem(.keyNotUnique, at: at,
                    "\(label): \(policy.table) is partitioned, so rows cannot be found by ctid; declare key: (its primary key columns)"))
            }
        } else if policy.key.allSatisfy({ columns[$0.rawValue] != nil }) {
            let key = Set(policy.key.map(\.rawValue))
            let unique = try await db.uniqueIndexes(oid: relation.oid)
                .filter { $0.valid && !$0.partial && !$0.hasExpressions && !$0.columns.isEmpty }
            if !unique.contains(where: { Set($0.columns).isSubset(of: key) }) {
                report.warnings.append(CatalogProblem(.keyNotUnique, at: at,
                    "\(label): no unique index of \(policy.table) covers key (\(policy.key.map(\.rawValue).joined(separator: ", "))): "
                    + "a batch may delete more rows than it selected"))
            }
        }
    }

    func checkRoles(_ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        for workloadClass in catalog.classes.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let settings = catalog.settings(for: workloadClass)
            guard let role = settings.role else { continue }
            let at = settings.location ?? targetLocation
            switch try await db.role(role.rawValue) {
            case nil:
                report.problems.append(CatalogProblem(.missingRole, at: at,
                    "class \(workloadClass.rawValue): role \(role) does not exist in target \(target)"))
            case false?:
                report.problems.append(CatalogProblem(.missingRole, at: at,
                    "class \(workloadClass.rawValue): the connecting user is not a member of role \(role), so SET ROLE fails"))
            case true?:
                break
            }
        }
    }
}
