// maintenance.plan against the demo schema: due jobs from real statistics, most urgent first,
// cut to the budget; a transaction holding a snapshot is reported and no vacuum is planned.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
@testable import SluiceJobs
import Testing
import SluiceRuntime

@Suite struct MaintenancePlanTests {
    @Test func plansDueJobsAndFlagsAHeldBackHorizon() async throws {
        var catalog = try TestCatalog.demo()
        let hot = try #require(catalog.vacuumPolicies.firstIndex { $0.name.rawValue == "hot_tables" })
        catalog.vacuumPolicies[hot].minDeadTuples = 100
        let events = try #require(catalog.partitionedTables.firstIndex { $0.table.name.rawValue == "email_events" })
        catalog.partitionedTables[events].premake = 6
        let sends = try #require(catalog.partitionedTables.firstIndex { $0.table.name.rawValue == "email_sends" })
        catalog.partitionedTables[sends].retention = CalendarInterval(count: 3, unit: .month)
        catalog.partitionedTables[sends].premake = 1  // the schema made +1: only retention is due
        try await ScratchDatabase.with("jobs_plan") { db in
            // 600 dead tuples in demo.leads (300 live); autovacuum kept out of the way.
            try await db.run("""
                ALTER TABLE demo.leads SET (autovacuum_enabled = false);
                UPDATE demo.leads SET open_count = open_count + 1;
                UPDATE demo.leads SET open_count = open_count + 1;
                """)
            try await db.waitUntil(
                "SELECT coalesce((SELECT n_dead_tup >= 600 FROM pg_stat_user_tables WHERE relid = 'demo.leads'::regclass), false)",
                "the statistics to show the dead tuples")

            let report = try await PlanJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(budget: .seconds(3600)), progress: { _ in }, logger: db.logger)
            #expect(report.horizonHeldBackBy.isEmpty)
            let vacuum = try #require(report.jobs.first { $0.kind == VacuumJob.kind && $0.args["table"] == "demo.leads" })
            #expect(vacuum.priority >= 50 && vacuum.priority < 90)
            #expect(vacuum.reason.contains("dead tuples"))
            let partitions = try #require(report.jobs.first { $0.kind == PartitionsJob.kind && $0.args["table"] == "demo.email_events" })
            #expect(partitions.priority == 90)
            // email_sends (3 months kept here) has months past retention: due, less urgent.
            let retention = try #require(report.jobs.first { $0.kind == PartitionsJob.kind && $0.args["table"] == "demo.email_sends" })
            #expect(retention.priority == 40)
            #expect(report.jobs.map(\.priority) == report.jobs.map(\.priority).sorted(by: >))
            #expect(report.jobs.firstIndex(of: partitions)! < report.jobs.firstIndex(of: vacuum)!)
            // JSON for the runtime.
            let json = try JSONEncoder().encode(report)
            #expect(try JSONDecoder().decode(PlanJob.Report.self, from: json) == report)

            // A tight budget keeps the most urgent that fit and defers the rest.
            let tight = try await PlanJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(budget: .seconds(3)), progress: { _ in }, logger: db.logger)
            #expect(tight.plannedSeconds <= 3)
            #expect(tight.jobs.first == partitions)
            #expect(!tight.deferred.isEmpty && tight.deferred.allSatisfy { $0.reason.contains("over the time budget") })

            // A transaction that took a snapshot holds the horizon back.
            let holder = try await db.connect("test long transaction")
            try await holder.simpleQuery("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
            let held = try await PlanJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(budget: .seconds(3600)), progress: { _ in }, logger: db.logger,
                options: .init(longTransaction: .zero))
            #expect(held.horizonHeldBackBy.map(\.name) == ["pid \(holder.backendPID)"])
            #expect(held.horizonHeldBackBy.first?.kind == "transaction")
            #expect(!held.jobs.contains { $0.kind == VacuumJob.kind })
            #expect(held.deferred.contains { $0.kind == VacuumJob.kind && $0.reason.contains("horizon is held back") })
            #expect(held.jobs.contains(partitions))
            #expect(held.notes.contains { $0.contains("held back") })
            try await holder.simpleQuery("COMMIT")
            await holder.close()
        }
    }

    @Test func budgetArgumentsDecode() throws {
        #expect(try JobArguments.decode(PlanJob.Arguments.self, from: ["budget": "30m"]).budget == .seconds(1800))
        #expect(try JobArguments.decode(PlanJob.Arguments.self, from: ["budget": 90]).budget == .seconds(90))
        #expect(try JobArguments.decode(PlanJob.Arguments.self, from: [:]).budget == .seconds(3600))
        #expect(throws: JobError.self) { try JobArguments.decode(PlanJob.Arguments.self, from: ["budget": "5 minutes"]) }
        let e = try? JobArguments.decode(PartitionsJob.Arguments.self, from: [:])
        #expect(e == nil)
        do {
            _ = try JobArguments.decode(PartitionsJob.Arguments.self, from: ["table": 5])
            Issue.record("expected invalidArguments")
        } catch {
            #expect(error.code == .invalidArguments)
        }
    }
}
