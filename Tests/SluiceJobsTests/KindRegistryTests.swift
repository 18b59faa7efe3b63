// The registry of database kinds: JSON arguments decoded per kind, undeclared names, unknown
// keys and malformed arguments refused against the catalog before any connection is made (the
// producer and the worker both call this), reports encoded as JSON with snake_case keys.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
@testable import SluiceJobs
import SluiceRuntime
import Testing

@Suite struct KindRegistryTests {
    @Test func refusesBeforeConnecting() throws {
        let registry = JobRegistry.standard(catalog: try TestCatalog.demo())
        let cases: [(JobKind, [String: JSONValue], String)] = [
            ("maintenance.partitions", ["table": "demo.leads; --"], "args.table"),
            ("maintenance.partitions", [:], "args.table"),
            ("maintenance.vacuum", ["table": "demo.nope"], "args.table"),
            ("maintenance.vacuum", ["table": "demo.leads; drop table demo.leads"], "args.table"),
            ("maintenance.vacuum", ["tabel": "demo.leads"], "args.table"),
            ("maintenance.vacuum", ["table": "demo.leads", "tabel": "demo.leads"], "args.tabel"),
            ("maintenance.vacuum", ["table": "demo.leads", "full": "yes"], "args.full"),
            ("maintenance.vacuum", ["table": "demo.leads", "full": true], "args.full"),
            ("maintenance.analyze", ["table": 42], "args.table"),
            ("maintenance.reindex", ["index": "pg_catalog.pg_class_oid_index"], "args.index"),
            ("maintenance.reindex", ["index": "demo.leads_pkey", "table": "demo.leads"], "args"),
            ("maintenance.cleanup", ["policy": "everything"], "args.policy"),
            ("maintenance.plan", ["budget": "soon"], "args.budget"),
            ("refresh.matview", ["view": "demo.leads"], "args.view"),
            ("sys.sleep", [:], "args.ms"),
            ("import.file", ["spec": "contacts", "source": ["upload": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"]], "args.spec"),
            ("import.file", ["spec": "leads", "source": ["upload": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"], "optons": [:]], "args.optons"),
            ("import.statement", ["name": "schedule_campaign_sends", "params": ["campaign_id": 42]], "args.params"),
        ]
        for (kind, args, field) in cases {
            #expect(throws: EnvelopeError.self, "\(kind) \(args)") { try registry.validate(kind: kind, args: args) }
            do {
                try registry.validate(kind: kind, args: args)
            } catch {
                #expect(error.code == .invalidArguments, "\(kind) \(args)")
                #expect(error.field == field, "\(kind) \(args): \(error)")
            }
        }
        #expect(throws: EnvelopeError.self) { try registry.validate(kind: "maintenance.vacum", args: ["table": "demo.leads"]) }
        // Declared names pass, bare or qualified.
        try registry.validate(kind: "maintenance.vacuum", args: ["table": "demo.leads", "analyze": true])
        try registry.validate(kind: "refresh.matview", args: ["view": "campaign_analytics"])
        try registry.validate(kind: "maintenance.plan", args: ["budget": "30m"])
        #expect(registry.defaultClass(of: MatviewRefreshJob.kind) == .refresh)
        #expect(registry.defaultClass(of: VacuumJob.kind) == .maintenance)
        try registry.validate(kind: "import.file", args: ["spec": "leads", "source": ["path": "leads.csv"], "options": ["dry_run": true]])
        #expect(registry.defaultClass(of: ImportFileJob.kind) == .import)
        #expect(registry.kinds.count == 14)  // sys.noop, sys.sleep, 7 database kinds, 3 analytics kinds, 2 import kinds
    }

    @Test func refusesAnUndeclaredTarget() throws {
        let registry = JobRegistry.standard(catalog: try TestCatalog.demo())
        do {
            try registry.validate(kind: "maintenance.vacuum", args: ["table": "demo.leads"], target: "tenant_x")
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "target")
            #expect(error.description.contains("tenant_x"))
        }
        try registry.validate(kind: "maintenance.vacuum", args: ["table": "demo.leads"], target: "main")
    }

    @Test func anObjectDeclaredForOneTargetIsRefusedForAnother() throws {
        var catalog = try TestCatalog.demo()
        catalog.targets.append(CatalogTarget(name: "tenant_b", source: .environment("SLUICE_TEST_TENANT_B_URL")))
        let i = try #require(catalog.materializedViews.firstIndex { $0.view.description == "demo.campaign_analytics" })
        catalog.materializedViews[i].targets = ["main"]
        let registry = JobRegistry.standard(catalog: catalog)
        try registry.validate(kind: "refresh.matview", args: ["view": "demo.campaign_analytics"], target: "main")
        do {
            try registry.validate(kind: "refresh.matview", args: ["view": "demo.campaign_analytics"], target: "tenant_b")
            Issue.record("expected a refusal for tenant_b")
        } catch {
            // The view is declared, for other targets: the target is what is wrong.
            #expect(error.field == "target")
            #expect(error.reason.contains("args.view"), "\(error)")
        }
        // Views declared for every target pass on both.
        try registry.validate(kind: "refresh.matview", args: ["view": "demo.lead_engagement_scores"], target: "tenant_b")
    }

    @Test func aMisspelledKeyIsNamedWithTheOneMeant() throws {
        let registry = JobRegistry.standard(catalog: try TestCatalog.demo())
        do {
            try registry.validate(kind: "maintenance.vacuum", args: ["tabel": "demo.leads"])
            Issue.record("expected an error")
        } catch {
            #expect(error.field == "args.table")
            #expect(error.reason.contains("did you mean 'table'"), "\(error)")
        }
    }

    @Test func returnsTheReportAsJSON() async throws {
        let catalog = try TestCatalog.demo()
        try await ScratchDatabase.with("jobs_dispatch") { db in
            let report = try await MatviewRefreshJob.run(
                catalog: catalog, pool: db.pool, arguments: .init(view: "campaign_analytics"), progress: { _ in }, logger: db.logger)
            let result = try JobReportEncoding.json(report)
            #expect(result["view"] == "demo.campaign_analytics")
            #expect(result["mode"] == "concurrent")
            #expect(result["rows"] == 15)
            #expect(result["duration_seconds"]?.objectValue == nil && result["duration_seconds"] != nil)
            let refreshedAt = try #require(result["refreshed_at"]?.stringValue)
            #expect(ISO8601DateFormatter().date(from: refreshedAt) != nil)
        }
    }
}
