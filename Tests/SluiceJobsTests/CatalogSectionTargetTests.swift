// Every catalog section whose entries take `targets:`: an entry declared for `main` only is
// refused at enqueue for another target, naming `target`, and accepted for `main`. The switch
// is exhaustive over CatalogSection, so a new section must say here how a job reaches it.

import SluiceCatalog
import SluiceCore
@testable import SluiceJobs
import SluiceRuntime
import Testing

@Suite struct CatalogSectionTargetTests {
    /// A job that reaches one declared entry of `section`, and the catalog with that entry
    /// limited to `targets`; nil for sections without `targets:` (and `health`, tested below).
    static func limited(_ section: CatalogSection, _ c: inout Catalog, to targets: [String]) throws -> (JobKind, [String: JSONValue])? {
        func only<T>(_ items: inout [T], _ match: (T) -> Bool, _ set: (inout T) -> Void) throws {
            let found = items.firstIndex(where: match)
            let i = try #require(found, "\(section.key): the demo catalog declares the entry")
            set(&items[i])
        }
        switch section {
        case .version, .targets, .classes, .schedules, .segments, .health, .retention, .producers:
            return nil
        case .partitionedTables:
            try only(&c.partitionedTables, { $0.table.description == "demo.email_events" }) { $0.targets = targets }
            return ("maintenance.partitions", ["table": "demo.email_events"])
        case .materializedViews:
            try only(&c.materializedViews, { $0.view.description == "demo.campaign_analytics" }) { $0.targets = targets }
            return ("refresh.matview", ["view": "demo.campaign_analytics"])
        case .vacuum:
            try only(&c.vacuumPolicies, { $0.name.rawValue == "hot_tables" }) { $0.targets = targets }
            return ("maintenance.vacuum", ["table": "demo.leads"])
        case .analyze:
            // Every demo table it lists is in a vacuum policy too (which analyze also accepts).
            try only(&c.analyzePolicies, { $0.name.rawValue == "planner_statistics" }) {
                $0.targets = targets
                $0.tables.append(TestCatalog.name("demo.analyzed_only"))
            }
            return ("maintenance.analyze", ["table": "demo.analyzed_only"])
        case .reindex:
            try only(&c.reindexPolicies, { $0.name.rawValue == "leads_indexes" }) { $0.targets = targets }
            return ("maintenance.reindex", ["table": "demo.leads"])
        case .cleanup:
            try only(&c.cleanupPolicies, { $0.name.rawValue == "stale_email_sends" }) { $0.targets = targets }
            return ("maintenance.cleanup", ["policy": "stale_email_sends"])
        case .queries:
            try only(&c.queries, { $0.name.rawValue == "workspace_usage" }) { $0.targets = targets }
            return ("analytics.query", ["name": "workspace_usage", "params": ["workspace_id": "8f7c6a2e-0000-4000-8000-000000000001"]])
        case .imports:
            try only(&c.imports, { $0.name.rawValue == "leads" }) { $0.targets = targets }
            return ("import.file", ["spec": "leads", "source": ["path": "leads.csv"]])
        case .statements:
            try only(&c.statements, { $0.name.rawValue == "schedule_campaign_sends" }) { $0.targets = targets }
            return ("import.statement", ["name": "schedule_campaign_sends", "params": ["campaign_id": "8f7c6a2e-0000-4000-8000-000000000002"]])
        }
    }

    @Test("an entry declared for main is refused for tenant_b, naming target", arguments: CatalogSection.allCases)
    func refusedForAnotherTarget(_ section: CatalogSection) throws {
        var catalog = try TestCatalog.demo()
        catalog.targets.append(CatalogTarget(name: "tenant_b", source: .environment("SLUICE_TEST_TENANT_B_URL")))
        var everyTarget = catalog
        _ = try Self.limited(section, &everyTarget, to: [])
        let open = JobRegistry.standard(catalog: everyTarget)
        guard let (kind, args) = try Self.limited(section, &catalog, to: ["main"]) else {
            #expect(!section.takesTargets || section == .health, "\(section.key) takes targets: it needs a case here")
            return
        }
        #expect(section.takesTargets)
        // Declared for every target, both pass.
        try open.validate(kind: kind, args: args, target: "tenant_b")
        let registry = JobRegistry.standard(catalog: catalog)
        try registry.validate(kind: kind, args: args, target: "main")
        do {
            try registry.validate(kind: kind, args: args, target: "tenant_b")
            Issue.record("\(section.key): expected a refusal for tenant_b")
        } catch {
            #expect(error.field == "target", "\(section.key): \(error)")
            #expect(error.description.contains("tenant_b"), "\(section.key): \(error)")
        }
        // An undeclared name is still the argument's fault, whatever the target.
        do {
            try registry.validate(kind: kind, args: args.merging(["zzz": 1]) { $1 }, target: "tenant_b")
            Issue.record("\(section.key): expected a refusal of args.zzz")
        } catch {
            #expect(error.field == "args.zzz", "\(section.key): \(error)")
        }
    }

    @Test func healthThresholdsAreTheTargetsOwn() throws {
        var catalog = try TestCatalog.demo()
        var strict = catalog.health.thresholds
        strict.deadTupleRatio = 0.01
        catalog.health.perTarget["tenant_b"] = strict
        #expect(catalog.scoped(to: "tenant_b").health.thresholds.deadTupleRatio == 0.01)
        #expect(catalog.scoped(to: "main").health.thresholds == catalog.health.thresholds)
    }
}
