// PlanJob (`maintenance.plan {budget}`): reads the statistics of the catalog's declared objects
// and returns the maintenance jobs that are due, most urgent first, cut to a time budget.
//
// Urgency: transaction-id wraparound risk (age(relfrozenxid) near autovacuum_freeze_max_age),
// then missing premade partitions, dead tuples over the vacuum policy's thresholds, stale
// planner statistics over the analyze policy's, partitions due for retention, and btree index
// bloat over the reindex policy's ratio (IndexBloatEstimate, from pg_stats widths). Costs are rough
// (size / assumed throughput). When a long transaction, an old prepared transaction or a
// replication slot holds back the xmin horizon, VACUUM cannot remove recent dead tuples and
// REINDEX CONCURRENTLY would wait for the old snapshot: the plan says so and leaves those out.
// Read-only; enqueueing is the runtime's part.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct PlanJob: Sendable {
    public init() {}

    public static let kind: JobKind = "maintenance.plan"

    public struct Arguments: Codable, Sendable, Equatable {
        /// The time the planned jobs may take together.
        public var budget: Duration

        public static let defaultBudget = Duration.seconds(3600)

        public init(budget: Duration = Arguments.defaultBudget) { self.budget = budget }

        enum CodingKeys: String, CodingKey { case budget }

        /// `budget` is a duration string (`30m`, `2h`) or whole seconds; absent means 1 h.
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let text = try? c.decode(String.self, forKey: .budget) {
                guard let d = DurationSyntax.parse(text), d > .zero else {
                    throw DecodingError.dataCorruptedError(forKey: .budget, in: c,
                        debugDescription: "budget must be \(DurationSyntax.expectedForm)")
                }
                budget = d
            } else if let seconds = try c.decodeIfPresent(Int.self, forKey: .budget) {
                guard seconds > 0 else {
                    throw DecodingError.dataCorruptedError(forKey: .budget, in: c, debugDescription: "budget must be positive")
                }
                budget = .seconds(seconds)
            } else {
                budget = Self.defaultBudget
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(DurationSyntax.format(budget), forKey: .budget)
        }
    }

    /// Thresholds that are not catalog policy.
    public struct Options: Sendable {
        /// A transaction holding a snapshot this long counts as holding back the horizon. Default 5 min.
        public var longTransaction: Duration
        /// A replication slot whose xmin is this many transactions old counts too. Default 1 000 000.
        public var slotXidAge: Int
        /// Wraparound risk when age(relfrozenxid) exceeds this fraction of autovacuum_freeze_max_age. Default 0.75.
        public var wraparoundFraction: Double
        /// Indexes smaller than this are not worth a bloat reindex. Default 8 MiB.
        public var minIndexBytes: Int
        /// Assumed throughputs for the cost estimates (bytes per second).
        public var vacuumBytesPerSecond: Double
        public var reindexBytesPerSecond: Double

        public init(
            longTransaction: Duration = .seconds(300), slotXidAge: Int = 1_000_000, wraparoundFraction: Double = 0.75,
            minIndexBytes: Int = 8 << 20, vacuumBytesPerSecond: Double = 100e6, reindexBytesPerSecond: Double = 30e6
        ) {
            self.longTransaction = longTransaction
            self.slotXidAge = slotXidAge
            self.wraparoundFraction = wraparoundFraction
            self.minIndexBytes = minIndexBytes
            self.vacuumBytesPerSecond = vacuumBytesPerSecond
            self.reindexBytesPerSecond = reindexBytesPerSecond
        }
    }

    /// Something holding back the xmin horizon.
    public struct HorizonHolder: Codable, Sendable, Equatable {
        /// `transaction`, `prepared` or `replication_slot`.
        public var kind: String
        /// pid, prepared transaction gid or slot name.
        public var name: String
        /// Seconds the transaction has been open (nil for slots).
        public var ageSeconds: Double?
        /// age() of the xmin it holds, in transactions.
        public var xidAge: Int
        public var detail: String
    }

    public struct Report: Codable, Sendable, Equatable {
        /// Due and within the budget, most urgent first.
        public var jobs: [PlannedJob]
        /// Due but left out: over the budget, or pointless while the horizon is held back.
        public var deferred: [PlannedJob]
        public var horizonHeldBackBy: [HorizonHolder]
        public var notes: [String]
        public var budgetSeconds: Double
        public var plannedSeconds: Double
        /// Set when run as a job: the planned jobs as enqueued.
        public var enqueued: [Enqueued]? = nil
    }

    /// One planned job as enqueued (`duplicate`: a live job already held its unique key).
    public struct Enqueued: Codable, Sendable, Equatable {
        public var id: String
        public var kind: String
        public var duplicate: Bool
    }

    public static func run(
        catalog: Catalog, pool: PostgresPool, arguments: Arguments, progress: @escaping ProgressReporter,
        logger: Logger, options: Options = Options(), now: Date = Date()
    ) async throws(JobError) -> Report {
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .maintenance)
        do {
            return try await guardrails.withSession(pool, logger: logger) { connection in
                try await plan(catalog, arguments: arguments, options: options, now: now, connection: connection, progress: progress)
            }
        } catch {
            throw JobError.wrap(error)
        }
    }

    private static func plan(
        _ catalog: Catalog, arguments: Arguments, options: Options, now: Date, connection: PostgresConnection,
        progress: ProgressReporter
    ) async throws -> Report {
        var due: [PlannedJob] = []
        var notes: [String] = []
        let holders = try await horizonHolders(options: options, connection: connection)
        let freezeMax = try await connection.query("SELECT current_setting('autovacuum_freeze_max_age')::bigint")[0].decode(0, as: Int.self)
        let wraparoundAge = Int(Double(freezeMax) * options.wraparoundFraction)

        // Tables: vacuum and analyze policies.
        var vacuumPlanned: Set<QualifiedName> = []
        for policy in catalog.vacuumPolicies {
            for table in policy.tables {
                guard let s = try await tableStatistics(table, connection: connection) else {
                    notes.append("\(table) is declared but missing from the database")
                    continue
                }
                let cost = 1 + Double(s.bytes) / options.vacuumBytesPerSecond
                let args: [String: JSONValue] = ["table": .string(table.description), "analyze": .bool(policy.analyze)]
                if s.xidAge >= wraparoundAge {
                    due.append(PlannedJob(kind: VacuumJob.kind, args: args,
                        reason: "age(relfrozenxid) \(s.xidAge) ≥ \(wraparoundAge) (\(Int(options.wraparoundFraction * 100)) % of autovacuum_freeze_max_age): wraparound risk",
                        priority: 100 + min(50, Int(Double(s.xidAge) / Double(max(freezeMax, 1)) * 50)), estimatedSeconds: cost))
                    vacuumPlanned.insert(table)
                    continue
                }
                let threshold = max(Double(policy.minDeadTuples), policy.deadTupleRatio * Double(s.live))
                if Double(s.dead) > threshold {
                    let ratio = s.live > 0 ? Double(s.dead) / Double(s.live) : 1
                    due.append(PlannedJob(kind: VacuumJob.kind, args: args,
                        reason: "\(s.dead) dead tuples (\(percent(ratio)) of \(s.live) live) over policy \(policy.name)'s threshold \(Int(threshold))"
                            + (s.lastVacuum.map { "; last vacuum \($0)" } ?? "; never vacuumed"),
                        priority: 50 + min(39, Int(ratio * 20)), estimatedSeconds: cost))
                    vacuumPlanned.insert(table)
                }
            }
        }
        for policy in catalog.analyzePolicies {
            for table in policy.tables {
                if vacuumPlanned.contains(table), catalog.vacuumPolicy(forTable: table.description)?.analyze == true { continue }
                guard let s = try await tableStatistics(table, connection: connection) else {
                    notes.append("\(table) is declared but missing from the database")
                    continue
                }
                let threshold = max(Double(policy.minModifiedRows), policy.modifiedRatio * Double(max(s.reltuples, 0)))
                let never = s.lastAnalyze == nil && s.live > 0
                if Double(s.modified) > threshold || never {
                    let ratio = s.reltuples > 0 ? Double(s.modified) / Double(s.reltuples) : 1
                    due.append(PlannedJob(kind: AnalyzeJob.kind, args: ["table": .string(table.description)],
                        reason: never ? "never analyzed, \(s.live) live rows"
                            : "\(s.modified) rows modified since the last analyze, over policy \(policy.name)'s threshold \(Int(threshold))",
                        priority: 30 + min(19, Int(ratio * 10)),
                        estimatedSeconds: 1 + Double(min(s.bytes, 30_000 * 8192)) / options.vacuumBytesPerSecond))
                }
            }
        }

        // Partitions.
        for table in catalog.partitionedTables {
            let rows = try await connection.query(
                """
                SELECT c.relname::text, n.nspname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = to_regclass($1) AND NOT i.inhdetachpending
                """, [.text(Catalog.quoted(table.table))])
            let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(Catalog.quoted(table.table))])
            guard try exists[0].decode(0, as: Bool.self) else {
                notes.append("\(table.table) is declared but missing from the database")
                continue
            }
            let names = Set(try rows.compactMap { r -> String? in
                try r.decode(1, as: String.self) == table.table.schema.rawValue ? try r.decode(0, as: String.self) : nil
            })
            let current = PartitionPeriod.containing(now, table: table)
            let missing = (0...table.premake).map { current.advanced(by: $0, table: table).name.rawValue }.filter { !names.contains($0) }
            var retire: [String] = []
            if let retention = table.retention {
                let cutoff = PartitionsJob.cutoffDate(now, minus: retention)
                retire = names.compactMap { PartitionPeriod.parse(name: $0, table: table) }.filter { $0.end <= cutoff }.map(\.name.rawValue).sorted()
            }
            if !missing.isEmpty || !retire.isEmpty {
                var reasons: [String] = []
                if !missing.isEmpty { reasons.append("missing \(missing.count) of the next \(table.premake + 1) partitions (\(missing.joined(separator: ", ")))") }
                if !retire.isEmpty { reasons.append("\(retire.count) partitions past retention (\(table.retentionMode.rawValue))") }
                due.append(PlannedJob(kind: PartitionsJob.kind, args: ["table": .string(table.table.description)],
                    reason: reasons.joined(separator: "; "), priority: missing.isEmpty ? 40 : 90, estimatedSeconds: 2))
            }
        }

        // Index bloat.
        for policy in catalog.reindexPolicies {
            for index in try await bloatedIndexes(policy, connection: connection) where index.bytes >= options.minIndexBytes {
                guard index.bloat > policy.bloatRatio else { continue }
                due.append(PlannedJob(kind: ReindexJob.kind, args: ["index": .string(index.name.description)],
                    reason: "estimated bloat \(percent(index.bloat)) of \(index.bytes / 1_048_576) MiB over policy \(policy.name)'s \(percent(policy.bloatRatio))",
                    priority: 20 + min(9, Int(index.bloat * 10)), estimatedSeconds: 1 + Double(index.bytes) / options.reindexBytesPerSecond))
            }
        }

        // Order, hold-back, budget.
        due.sort { ($0.priority, -$0.estimatedSeconds) > ($1.priority, -$1.estimatedSeconds) }
        var jobs: [PlannedJob] = []
        var deferred: [PlannedJob] = []
        var planned = 0.0
        let budget = Double(arguments.budget.components.seconds) + Double(arguments.budget.components.attoseconds) / 1e18
        for var job in due {
            if !holders.isEmpty && (job.kind == VacuumJob.kind || job.kind == ReindexJob.kind) && job.priority < 100 {
                job.reason += "; deferred: the xmin horizon is held back (\(holders.map { "\($0.kind) \($0.name)" }.joined(separator: ", ")))"
                deferred.append(job)
                continue
            }
            if planned + job.estimatedSeconds <= budget || job.priority >= 100 {
                if planned + job.estimatedSeconds > budget { job.reason += "; over the budget but wraparound cannot wait" }
                planned += job.estimatedSeconds
                jobs.append(job)
            } else {
                job.reason += "; deferred: over the time budget"
                deferred.append(job)
            }
        }
        if !holders.isEmpty {
            notes.append("the xmin horizon is held back by " + holders.map { "\($0.kind) \($0.name) (\($0.detail))" }.joined(separator: ", ")
                + ": vacuums would not remove recent dead tuples, so none is planned; end or fix that first")
        }
        await progress(["jobs": "\(jobs.count)", "deferred": "\(deferred.count)"])
        return Report(jobs: jobs, deferred: deferred, horizonHeldBackBy: holders, notes: notes,
                      budgetSeconds: budget, plannedSeconds: planned)
    }

    private static func percent(_ ratio: Double) -> String { "\(Int((ratio * 100).rounded())) %" }

    struct TableStatistics {
        var live: Int
        var dead: Int
        var modified: Int
        var reltuples: Int
        var lastVacuum: String?
        var lastAnalyze: String?
        var xidAge: Int
        var bytes: Int
    }

    /// Summed over a partitioned table's leaves; nil when the table does not exist.
    static func tableStatistics(_ table: QualifiedName, connection: PostgresConnection) async throws -> TableStatistics? {
        let exists = try await connection.query("SELECT to_regclass($1) IS NOT NULL", [.text(Catalog.quoted(table))])
        guard try exists[0].decode(0, as: Bool.self) else { return nil }
        let rows = try await connection.query(
            """
            SELECT coalesce(sum(s.n_live_tup), 0)::bigint, coalesce(sum(s.n_dead_tup), 0)::bigint,
                   coalesce(sum(s.n_mod_since_analyze), 0)::bigint, coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint,
                   max(greatest(s.last_vacuum, s.last_autovacuum))::text, max(greatest(s.last_analyze, s.last_autoanalyze))::text,
                   coalesce(max(age(c.relfrozenxid)), 0)::bigint, coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
            FROM \(CatalogObjects.relationTree) JOIN pg_class c ON c.oid = t.relid
            LEFT JOIN pg_stat_user_tables s ON s.relid = t.relid
            WHERE t.isleaf
            """, [.text(Catalog.quoted(table))])
        let r = rows[0]
        return TableStatistics(
            live: try r.decode(0), dead: try r.decode(1), modified: try r.decode(2), reltuples: try r.decode(3),
            lastVacuum: try r.decode(4), lastAnalyze: try r.decode(5), xidAge: try r.decode(6), bytes: try r.decode(7))
    }

    struct IndexBloat {
        var name: QualifiedName
        var bytes: Int
        var bloat: Double
    }

    /// Btree indexes the policy covers with their estimated bloat ratio (IndexBloatEstimate, the
    /// health report's too). Indexes without statistics for every key column are left out.
    static func bloatedIndexes(_ policy: ReindexPolicy, connection: PostgresConnection) async throws -> [IndexBloat] {
        let tables = policy.tables.map { Catalog.quoted($0) }
        let indexes = policy.indexes.map { Catalog.quoted($0) }
        let rows = try await connection.query(
            """
            SELECT n.nspname::text, c.relname::text, pg_relation_size(c.oid)::bigint,
                   \(IndexBloatEstimate.ratio(reltuples: "t.reltuples", width: "w.width", blockSize: "current_setting('block_size')::int", oid: "c.oid"))
                        AS bloat
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_am am ON am.oid = c.relam JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
            JOIN LATERAL (SELECT sum(s.avg_width)::float8 AS width, count(*) AS n FROM pg_attribute a
                          JOIN pg_stats s ON s.schemaname = tn.nspname AND s.tablename = t.relname AND s.attname = a.attname
                          WHERE a.attrelid = t.oid AND a.attnum = ANY(i.indkey)) w ON w.n = i.indnatts
            WHERE am.amname = 'btree' AND i.indisvalid AND i.indexprs IS NULL
              AND (i.indrelid = ANY(SELECT to_regclass(x) FROM unnest($1::text[]) x)
                   OR i.indexrelid = ANY(SELECT to_regclass(x) FROM unnest($2::text[]) x))
            """, [.textArray(tables), .textArray(indexes)])
        return try rows.compactMap { r in
            guard let s = SQLIdentifier(try r.decode(0, as: String.self)), let n = SQLIdentifier(try r.decode(1, as: String.self))
            else { return nil }
            guard let bloat = try r.decode(3, as: Double?.self) else { return nil }  // one page, or no statistics
            return IndexBloat(name: QualifiedName(schema: s, name: n), bytes: try r.decode(2), bloat: bloat)
        }
    }

    /// Sessions, prepared transactions and replication slots holding back this database's horizon.
    static func horizonHolders(options: Options, connection: PostgresConnection) async throws -> [HorizonHolder] {
        let limit = Double(options.longTransaction.components.seconds) + Double(options.longTransaction.components.attoseconds) / 1e18
        var holders: [HorizonHolder] = []
        let sessions = try await connection.query(
            """
            SELECT pid, coalesce(usename, '')::text, coalesce(application_name, '')::text, coalesce(state, '')::text,
                   coalesce(extract(epoch FROM now() - xact_start), 0)::float8, age(backend_xmin)::bigint
            FROM pg_stat_activity
            WHERE datname = current_database() AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid()
              AND backend_type = 'client backend' AND coalesce(application_name, '') <> 'sluice progress'
              AND now() - xact_start >= $1::float8 * interval '1 second'
            ORDER BY age(backend_xmin) DESC
            """, [.double(limit)])
        for r in sessions {
            let seconds = try r.decode(4, as: Double.self)
            holders.append(HorizonHolder(
                kind: "transaction", name: "pid \(try r.decode(0, as: Int.self))", ageSeconds: seconds, xidAge: try r.decode(5),
                detail: "user \(try r.decode(1, as: String.self)), application '\(try r.decode(2, as: String.self))', \(try r.decode(3, as: String.self)), open \(Int(seconds)) s"))
        }
        let prepared = try await connection.query(
            """
            SELECT gid, extract(epoch FROM now() - prepared)::float8, age(transaction)::bigint FROM pg_prepared_xacts
            WHERE database = current_database() AND now() - prepared >= $1::float8 * interval '1 second'
            """, [.double(limit)])
        for r in prepared {
            let seconds = try r.decode(1, as: Double.self)
            holders.append(HorizonHolder(kind: "prepared", name: try r.decode(0), ageSeconds: seconds, xidAge: try r.decode(2),
                                         detail: "prepared \(Int(seconds)) s ago; COMMIT PREPARED or ROLLBACK PREPARED it"))
        }
        let slots = try await connection.query(
            "SELECT slot_name::text, age(xmin)::bigint, active FROM pg_replication_slots WHERE xmin IS NOT NULL AND age(xmin) >= $1",
            [.int(options.slotXidAge)])
        for r in slots {
            holders.append(HorizonHolder(kind: "replication_slot", name: try r.decode(0), ageSeconds: nil, xidAge: try r.decode(1),
                                         detail: try r.decode(2, as: Bool.self) ? "active" : "inactive"))
        }
        return holders
    }
}

// MARK: As a job kind

extension PlanJob: JobWorker {
    public static var defaultClass: WorkloadClass { .maintenance }

    /// The plan, plus `enqueued`: the planned jobs enqueued most urgent first, each under a
    /// unique key per kind and arguments, so a plan run while the last one's jobs still wait
    /// adds nothing twice.
    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        var plan = try await Self.run(catalog: context.catalog, pool: context.pool, arguments: arguments,
                                      progress: context.progressReporter, logger: context.logger)
        var enqueued: [Enqueued] = []
        for job in plan.jobs {
            var request = JobRequest(kind: job.kind, args: job.args)
            request.target = context.envelope.target
            request.uniqueKey = "\(job.kind.rawValue):\(JSONValue.object(job.args).jsonString)"
            request.priority = min(9, max(0, job.priority / 12))
            request.producer = Self.kind.rawValue
            do {
                let r = try await context.enqueue(request)
                enqueued.append(Enqueued(id: r.id.description, kind: job.kind.rawValue, duplicate: r.duplicate))
            } catch {
                throw JobError("enqueueing planned \(job.kind.rawValue) failed: \(error)", retryable: true)
            }
        }
        plan.enqueued = enqueued
        return plan
    }
}
