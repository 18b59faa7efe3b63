import Foundation
import SluiceCore
import Testing
@testable import SluiceCatalog
@testable import SluiceCatalogLoader

@Suite struct DemoCatalogTests {
    @Test func theRepositoryCatalogLoadsWithoutProblems() throws {
        let check = CatalogLoader.check(directory: Fixtures.jobsFolder)
        #expect(check.problems.isEmpty, "\(check.problems.map(\.description).joined(separator: "\n"))")
        #expect(check.catalog.files == ["demo/analytics.yaml", "demo/catalog.yaml", "sluice.yaml"])
        _ = try CatalogLoader.load(directory: Fixtures.jobsFolder)
    }

    /// The format reference in jobs/README.md must itself be a valid catalog.
    @Test func theReadmeExampleIsValid() throws {
        let readme = try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("jobs/README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\n"))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let check = Fixtures.check(String(readme[start.upperBound..<end.lowerBound]), path: "README.md")
        #expect(check.problems.isEmpty, "\(check.problems.map(\.description).joined(separator: "\n"))")
        #expect(check.catalog.target(named: "reporting")?.source == .url("postgresql://app@reports.internal/reports"))
        #expect(check.catalog.settings(for: .analytics).role?.rawValue == "sluice_reader")
        #expect(check.catalog.schedules.count == 1)
    }

    @Test func declaresTheDemoObjects() throws {
        let catalog = try CatalogLoader.load(directory: Fixtures.jobsFolder)
        #expect(catalog.partitionedTables.map(\.table.description).sorted()
            == ["demo.email_events", "demo.email_sends", "demo.lead_activities"])
        #expect(catalog.materializedViews.map(\.view.name.rawValue).sorted()
            == ["campaign_analytics", "email_deliverability_metrics", "lead_engagement_scores", "workspace_usage_analytics"])

        let events = try #require(catalog.partitionedTable(named: "demo.email_events"))
        #expect(events.column.rawValue == "created_at")
        #expect(events.interval == .monthly)
        #expect(events.premake == 3)
        #expect(events.retention == CalendarInterval(count: 12, unit: .month))
        #expect(events.retention?.postgresInterval == "12 months")
        #expect(events.retentionMode == .archive)
        #expect(events.archiveSchema?.rawValue == "demo_archive")
        #expect(events.location.file == "demo/catalog.yaml")
        #expect(events.partitionName(year: 2026, month: 3, day: 1).rawValue == "email_events_p2026_03")
        #expect(events.defaultPartitionName.rawValue == "email_events_default")

        let sends = try #require(catalog.partitionedTable(named: "email_sends"))
        #expect(sends.retentionMode == .drop)
        #expect(sends.premake == PartitionedTable.defaultPremake)

        let stale = try #require(catalog.cleanupPolicy(named: "stale_email_sends"))
        #expect(stale.table.quoted == #""demo"."email_sends""#)
        #expect(stale.age.postgresInterval == "30 days")
        #expect(stale.match == [CleanupPolicy.Match(column: SQLIdentifier("status")!, values: ["queued", "failed", "cancelled"])])
        #expect(stale.key.map(\.rawValue) == ["id", "created_at"])
        #expect(stale.batchSize == 5000)
        #expect(stale.pause == .milliseconds(100))

        #expect(catalog.vacuumPolicy(forTable: "demo.leads")?.name.rawValue == "hot_tables")
        #expect(catalog.vacuumPolicy(forTable: "leads")?.name.rawValue == "hot_tables")
        #expect(catalog.analyzePolicy(forTable: "demo.email_events")?.name.rawValue == "planner_statistics")
        #expect(catalog.reindexPolicy(forTable: "demo.leads")?.name.rawValue == "leads_indexes")
        #expect(catalog.reindexPolicy(forIndex: "demo.idx_campaigns_workspace_status")?.name.rawValue == "campaign_indexes")
    }

    @Test func classesAndTargetsFollowTheDesignDefaults() throws {
        let catalog = try CatalogLoader.load(directory: Fixtures.jobsFolder)
        for c in WorkloadClass.allCases {
            var configured = catalog.settings(for: c)
            configured.location = nil
            #expect(configured == ClassSettings.defaults(for: c), "class \(c)")
        }
        let analytics = catalog.settings(for: .analytics)
        #expect(analytics.concurrency == 8 && analytics.prefetch >= 50 && analytics.readOnly)
        #expect(catalog.settings(for: .maintenance).lockTimeout == .seconds(2))
        let main = try #require(catalog.target(named: "main"))
        #expect(main.source == .environment("SLUICE_POSTGRES_URL"))
        #expect(main.resolveURL(environment: ["SLUICE_POSTGRES_URL": "postgresql://h/db"]) == "postgresql://h/db")
        #expect(main.resolveURL(environment: [:]) == nil)
    }

    @Test func schedulesCarryTheirFields() throws {
        let catalog = try CatalogLoader.load(directory: Fixtures.jobsFolder)
        let hourly = try #require(catalog.schedule(named: "refresh_campaign_analytics"))
        #expect(hourly.trigger == .every(.seconds(3600)))
        #expect(hourly.kind == "refresh.matview")
        #expect(hourly.args == .object(["view": .string("demo.campaign_analytics")]))
        #expect(hourly.missed == .runOnce)
        #expect(hourly.timeZone == "UTC")
        let nightly = try #require(catalog.schedule(named: "partitions_email_events"))
        #expect(nightly.trigger == .cron("0 1 * * *"))
        // Every schedule's view or table argument names a declared object.
        for s in catalog.schedules {
            if let view = s.args["view"]?.stringValue { #expect(catalog.materializedView(named: view) != nil, "\(s.name)") }
            if let table = s.args["table"]?.stringValue { #expect(catalog.partitionedTable(named: table) != nil, "\(s.name)") }
            if let policy = s.args["policy"]?.stringValue { #expect(catalog.cleanupPolicy(named: policy) != nil, "\(s.name)") }
        }
    }

    @Test func lookupsReturnNilForUndeclaredOrHostileNames() throws {
        let catalog = try CatalogLoader.load(directory: Fixtures.jobsFolder)
        #expect(catalog.materializedView(named: "campaign_analytics")?.view.description == "demo.campaign_analytics")
        #expect(catalog.materializedView(named: "public.campaign_analytics") == nil)
        #expect(catalog.materializedView(named: "demo.nope") == nil)
        #expect(catalog.materializedView(named: "campaign_analytics; drop table x") == nil)
        #expect(catalog.materializedView(named: "\"demo\".\"campaign_analytics\"") == nil)
        #expect(catalog.partitionedTable(named: "demo.leads") == nil)
        #expect(catalog.partitionedTable(named: "DEMO.EMAIL_EVENTS") == nil)
        #expect(catalog.cleanupPolicy(named: "nope") == nil)
        #expect(catalog.vacuumPolicy(forTable: "demo.unknown") == nil)
        #expect(catalog.target(named: "elsewhere") == nil)
        #expect(catalog.schedule(named: "nope") == nil)
    }
}
