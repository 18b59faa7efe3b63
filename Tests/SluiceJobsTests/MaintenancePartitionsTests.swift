// maintenance.partitions against the demo schema in a scratch database: partitions made ahead
// and retired in each retention mode, rows in the DEFAULT partition, the per-table lock, lock
// timeouts that never block a reader for longer than lock_timeout, missing and undeclared tables.

import Foundation
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import Testing
import SluiceRuntime

@Suite struct MaintenancePartitionsTests {
    /// The demo catalog with 3 months of retention and 6 months made ahead on every table.
    static func catalog(lockTimeout: Duration = .seconds(1)) throws -> Catalog {
        var catalog = try TestCatalog.demo(lockTimeout: lockTimeout)
        for i in catalog.partitionedTables.indices {
            catalog.partitionedTables[i].retention = CalendarInterval(count: 3, unit: .month)
            catalog.partitionedTables[i].premake = 6
        }
        return catalog
    }

    static func attached(_ db: ScratchDatabase, _ parent: String) async throws -> Set<String> {
        let c = try await db.connect()
        let rows = try await c.query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
            [.text(parent)])
        await c.close()
        return Set(try rows.map { try $0.decode(0, as: String.self) })
    }

    @Test func createsAheadAndRetiresInEachMode() async throws {
        let catalog = try Self.catalog()
        try await ScratchDatabase.with("jobs_part") { db in
            let now = Date()
            for table in catalog.partitionedTables {
                let log = ProgressLog()
                let report = try await PartitionsJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: table.table.description), progress: log.reporter,
                    logger: db.logger, now: now)
                let current = PartitionPeriod.containing(now, table: table)
                // The schema made months up to +1; the job adds +2 … +6.
                let expectedNew = (2...6).map { "demo." + current.advanced(by: $0, table: table).name.rawValue }
                #expect(report.created == expectedNew, "\(table.table)")
                #expect(report.existing.count == 2)
                #expect(report.analyzed)
                #expect(report.skipped.isEmpty)
                #expect(report.defaultPartitionRows == 0)
                #expect(report.defaultPartition == "demo.\(table.defaultPartitionName)")
                #expect(report.detachMode.hasPrefix("plain"))
                // Months -14 … -4 end at or before now - 3 months; month -3 does not.
                let oldest = PartitionPeriod.containing(now, table: table).advanced(by: 0, table: table)
                let calendar = PartitionPeriod.calendar
                let retiredNames = (4...14).map { k in
                    PartitionPeriod.containing(calendar.date(byAdding: .month, value: -k, to: oldest.start)!, table: table).name.rawValue
                }
                #expect(Set(report.retired.map(\.name)) == Set(retiredNames.map { "demo.\($0)" }), "\(table.table)")
                let attached = try await Self.attached(db, table.table.description)
                for name in retiredNames { #expect(!attached.contains(name)) }
                let kept = PartitionPeriod.containing(calendar.date(byAdding: .month, value: -3, to: oldest.start)!, table: table)
                #expect(attached.contains(kept.name.rawValue))
                for name in expectedNew { #expect(attached.contains(String(name.dropFirst(5)))) }
                #expect(log.all.contains { $0["step"] == "create" })

                let sample = retiredNames[0]
                switch table.retentionMode {
                case .detach:
                    #expect(report.retired.allSatisfy { $0.action == "detached" })
                    #expect(try await db.value("SELECT to_regclass('demo.\(sample)') IS NOT NULL", as: Bool.self))
                case .drop:
                    #expect(report.retired.allSatisfy { $0.action == "dropped" })
                    #expect(try await db.value("SELECT to_regclass('demo.\(sample)') IS NULL", as: Bool.self))
                case .archive:
                    #expect(report.retired.allSatisfy { $0.action == "archived" && $0.nowAt == "demo_archive.\(String($0.name.dropFirst(5)))" })
                    #expect(try await db.value("SELECT to_regclass('demo_archive.\(sample)') IS NOT NULL", as: Bool.self))
                    // The archived month (-4) still holds its rows.
                    #expect(try await db.value("SELECT count(*) > 0 FROM demo_archive.\(sample)", as: Bool.self))
                }

                // Idempotent: a second run finds nothing to do.
                let again = try await PartitionsJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: table.table.description), progress: { _ in },
                    logger: db.logger, now: now)
                #expect(again.created.isEmpty && again.retired.isEmpty && !again.analyzed)
                #expect(again.existing.count == 7)
            }
        }
    }

    @Test func rowsInTheDefaultPartitionBlockThatPeriodOnly() async throws {
        let catalog = try Self.catalog()
        let table = try #require(catalog.partitionedTable(named: "demo.email_events"))
        try await ScratchDatabase.with("jobs_partdef") { db in
            let now = Date()
            let sixth = PartitionPeriod.containing(now, table: table).advanced(by: 6, table: table)
            // Two rows dated in month +6, which has no partition yet: they land in the DEFAULT partition.
            let c = try await db.connect()
            try await c.execute(
                """
                INSERT INTO demo.email_events (workspace_id, campaign_id, lead_id, event_type, created_at)
                SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'opened', $1::timestamptz + i * interval '1 hour'
                FROM generate_series(1, 2) i
                """, [.timestamp(sixth.start)])
            await c.close()
            let report = try await PartitionsJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "email_events"), progress: { _ in }, logger: db.logger, now: now)
            #expect(report.skipped.map(\.name) == ["demo.\(sixth.name)"])
            #expect(report.skipped.first?.rowsInDefault == 2)
            #expect(report.created == (2...5).map { "demo." + PartitionPeriod.containing(now, table: table).advanced(by: $0, table: table).name.rawValue })
            #expect(report.defaultPartitionRows == 2)
            #expect(!(try await Self.attached(db, "demo.email_events")).contains(sixth.name.rawValue))
        }
    }

    @Test func withoutADefaultPartitionRetentionDetachesConcurrently() async throws {
        let catalog = try Self.catalog()
        let table = try #require(catalog.partitionedTable(named: "demo.lead_activities"))
        try await ScratchDatabase.with("jobs_partconc", seed: false) { db in
            try await db.run("DROP TABLE demo.lead_activities_default")
            let now = Date()
            let report = try await PartitionsJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.lead_activities"), progress: { _ in }, logger: db.logger,
                now: now)
            #expect(report.detachMode == "concurrently")
            #expect(report.defaultPartition == nil)
            #expect(report.retired.count == 11 && report.retired.allSatisfy { $0.action == "detached" })
            #expect(report.created.count == 5)
            // Detached for good (no pending detach), and still there as plain tables.
            #expect(try await db.value("SELECT count(*) FROM pg_inherits WHERE inhdetachpending", as: Int.self) == 0)
            let oldest = PartitionPeriod.containing(now, table: table).advanced(by: 0, table: table)
            let month4 = PartitionPeriod.containing(PartitionPeriod.calendar.date(byAdding: .month, value: -4, to: oldest.start)!, table: table)
            #expect(try await db.value("SELECT relispartition = false FROM pg_class WHERE oid = 'demo.\(month4.name)'::regclass", as: Bool.self))
        }
    }

    @Test func twoRunsAtOnceNeverBothAct() async throws {
        let catalog = try Self.catalog()
        try await ScratchDatabase.with("jobs_parttwo", seed: false) { db in
            async let a = Self.outcome(catalog, db)
            async let b = Self.outcome(catalog, db)
            let outcomes = await [a, b]
            let reports = outcomes.compactMap { if case .success(let r) = $0 { r } else { nil } }
            let errors = outcomes.compactMap { if case .failure(let e) = $0 { e } else { nil } }
            #expect(errors.allSatisfy { $0.code == .busy }, "\(errors)")
            // Whether the runs overlapped or not, each partition was created and retired once.
            #expect(reports.flatMap(\.created).count == 5)
            #expect(reports.flatMap(\.retired).count == 11)
        }
    }

    static func outcome(_ catalog: Catalog, _ db: ScratchDatabase) async -> Result<PartitionsJob.Report, JobError> {
        do {
            return .success(try await PartitionsJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.email_sends"), progress: { _ in }, logger: db.logger))
        } catch {
            return .failure(error)
        }
    }

    @Test func aSecondRunOnTheSameTableIsBusy() async throws {
        let catalog = try Self.catalog()
        try await ScratchDatabase.with("jobs_partbusy") { db in
            let holder = try await db.connect()
            try await holder.execute("SELECT pg_advisory_lock(hashtext($1))", [.text(PartitionsJob.lockKey(TestCatalog.name("demo.email_sends")))])
            let error = await expectJobError {
                _ = try await PartitionsJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: "demo.email_sends"), progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .busy)
            #expect(error?.isRetryable == true)
            // Nothing was created while the other run held the table.
            #expect(try await db.value("SELECT count(*) FROM pg_inherits WHERE inhparent = 'demo.email_sends'::regclass", as: Int.self) == 17)
            // Release on the server before closing: a closed connection's backend drops its
            // advisory locks a moment later, and a run in that moment is (rightly) busy.
            try await holder.execute("SELECT pg_advisory_unlock(hashtext($1))", [.text(PartitionsJob.lockKey(TestCatalog.name("demo.email_sends")))])
            await holder.close()
            // Once released, a run goes through.
            let report = try await PartitionsJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(table: "demo.email_sends"), progress: { _ in }, logger: db.logger)
            #expect(report.created.count == 5)
        }
    }

    @Test func aHeldLockFailsFastAndNeverBlocksAReaderLongerThanLockTimeout() async throws {
        let lockTimeout = Duration.seconds(1)
        let catalog = try Self.catalog(lockTimeout: lockTimeout)
        try await ScratchDatabase.with("jobs_partlock") { db in
            // A long-running reader transaction: its ACCESS SHARE lock conflicts with the
            // ACCESS EXCLUSIVE lock that creating a partition needs.
            let blocker = try await db.connect("test blocker")
            try await blocker.simpleQuery("BEGIN; SELECT count(*) FROM demo.email_events")
            let start = ContinuousClock.now
            let job = Task {
                try await PartitionsJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: "demo.email_events"), progress: { _ in }, logger: db.logger)
            }
            // Once the job waits for its lock, a new reader queues behind the job's request.
            try await db.waitUntil(
                "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = 'demo.email_events'::regclass", timeout: .seconds(10),
                "the job to wait for its lock")
            let reader = try await db.connect("test reader")
            let readStart = ContinuousClock.now
            _ = try await reader.query("SELECT count(*) FROM demo.email_events")
            let readerWait = ContinuousClock.now - readStart
            let result = await job.result
            let jobElapsed = ContinuousClock.now - start
            guard case .failure(let error as JobError) = result else {
                Issue.record("expected a lock timeout, got \(result)")
                return
            }
            #expect(error.code == .lockTimeout)
            #expect(error.isRetryable)
            #expect(error.object == "demo.email_events")
            #expect(readerWait <= lockTimeout + .seconds(3), "reader waited \(readerWait)")
            #expect(jobElapsed <= lockTimeout + .seconds(5), "job took \(jobElapsed)")
            try await blocker.simpleQuery("ROLLBACK")
            await blocker.close()
            await reader.close()
        }
    }

    @Test func aDeclaredTableMissingFromTheDatabaseIsNamed() async throws {
        var catalog = try Self.catalog()
        catalog.partitionedTables.append(PartitionedTable(
            table: TestCatalog.name("demo.ghost_events"), column: SQLIdentifier("created_at")!, location: TestCatalog.here))
        try await ScratchDatabase.with("jobs_partmiss", seed: false) { db in
            let error = await expectJobError {
                _ = try await PartitionsJob.run(
                    catalog: catalog, pool: db.pool, arguments: .init(table: "demo.ghost_events"), progress: { _ in }, logger: db.logger)
            }
            #expect(error?.code == .missingObject)
            #expect(error?.object == "demo.ghost_events")
            #expect(error?.message.contains("demo.ghost_events") == true)
            #expect(error?.isRetryable == false)
        }
    }

    @Test(arguments: ["demo.email_events; DROP TABLE demo.leads", "\"demo\".\"email_events\"", "demo.leads", "pg_catalog.pg_class", "", "a.b.c"])
    func undeclaredOrInjectedNamesSendNoSQL(_ name: String) async throws {
        let error = await expectJobError {
            _ = try await PartitionsJob.run(
                catalog: try Self.catalog(), pool: TestCatalog.deadPool(), arguments: .init(table: name), progress: { _ in },
                logger: .init(label: "test"))
        }
        // A connection attempt would have failed with a database error: `.undeclared` means none was made.
        #expect(error?.code == .undeclared)
        #expect(error?.isRetryable == false)
    }
}
