// The dashboard in a real browser: Debian's headless Chromium driven by selenium
// (Browser/dashboard_check.py) against a live `sluice api` with workers of two classes. Logs in;
// checks the overview's charts plot exactly the jobs that completed and failed; sees a job
// enqueued through the API complete without a reload; replays a dead letter; imports a CSV;
// reads the maintenance tab (a firing health check naming its table and threshold, the
// partitions table's months ahead against the catalog's ask, the views table); checks the page
// at phone width and in dark mode; saves a screenshot of every tab under .build/ and prints
// their paths; and fails on any JavaScript error. scripts/test installs chromium,
// chromium-driver and selenium.

import Foundation
import SluiceJobs
import TestSupport
import Testing

/// Runs dashboard_check.py against the API on `port`; returns its exit status and output.
func runBrowserScript(port: Int, scenario: String, screenshot: String, schema: String = "") async throws -> (Int32, String) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/dashboard_check.py").path
    var env = ProcessInfo.processInfo.environment
    env["SLUICE_API_URL"] = "http://127.0.0.1:\(port)"
    env["SLUICE_TEST_TOKEN"] = APIFixture.adminToken
    env["SLUICE_SCREENSHOT"] = screenshot
    env["SLUICE_SCENARIO"] = scenario
    env["SLUICE_TEST_SCHEMA"] = schema
    return try await runProcess("python3", [script], environment: env)
}

/// The maintenance tab's objects: a partitioned table with the months ahead the catalog asks
/// for, one without (the provoked health problem), and a materialized view refreshed by a
/// schedule with a cached query depending on it.
enum DashboardCatalog {
    static func yaml(schema: String) -> String {
        """
        partitioned_tables:
          - table: \(schema).events
            column: created_at
            interval: monthly
            premake: 3
            retention: 12 months
            retention_mode: drop
          - table: \(schema).audit
            column: created_at
            interval: monthly
            premake: 2
        materialized_views:
          - view: \(schema).contact_counts
            refresh: plain
        queries:
          - name: contact_count
            sql: "SELECT n FROM \(schema).contact_counts"
            depends_on: [\(schema).contact_counts]
        schedules:
          - name: refresh_contact_counts
            every: 5m
            kind: refresh.matview
            args: {view: \(schema).contact_counts}
        """
    }

    /// `events`: two past months, this one, three ahead and an empty DEFAULT; `audit`: this
    /// month only (premake 2: the partitions check fires); the view, analyzed so it is fresh.
    static func sql(schema: String) -> String {
        """
        CREATE TABLE \(schema).events (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
        CREATE TABLE \(schema).events_default PARTITION OF \(schema).events DEFAULT;
        CREATE TABLE \(schema).audit (id bigint, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);
        DO $$
        DECLARE m timestamptz;
        BEGIN
          FOR i IN -2..3 LOOP
            m := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => i);
            EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.events FOR VALUES FROM (%L) TO (%L)', '\(schema)',
                           'events_p' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM'), '\(schema)', m, m + interval '1 month');
            IF i = 0 THEN
              EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.audit FOR VALUES FROM (%L) TO (%L)', '\(schema)',
                             'audit_p' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM'), '\(schema)', m, m + interval '1 month');
            END IF;
          END LOOP;
        END $$;
        CREATE MATERIALIZED VIEW \(schema).contact_counts AS SELECT count(*) AS n FROM \(schema).contacts;
        ANALYZE \(schema).contact_counts;
        """
    }
}

@Suite(.serialized) struct DashboardBrowserTests {
    @Test func dashboardSaysRedisIsDown() async throws {
        let closed = try freeLoopbackPort()
        let screenshot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/dashboard-redis-down.png").standardized.path
        try await withAPI(redisURL: "redis://127.0.0.1:\(closed)/0") { api in
            let (status, output) = try await runBrowserScript(port: api.client.port, scenario: "redis-down", screenshot: screenshot)
            #expect(status == 0, "dashboard_check.py (redis-down) failed:\n\(output)")
        }
    }

    @Test func dashboardInHeadlessChromium() async throws {
        let screenshot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/dashboard-overview.png").standardized.path
        try? FileManager.default.removeItem(atPath: screenshot)
        try await withAPI(extraCatalog: DashboardCatalog.yaml) { api in
            try await api.createContactsTable()
            try await api.pool.withConnection { c in _ = try await c.simpleQuery(DashboardCatalog.sql(schema: api.schema)) }
            // The health reports the maintenance tab reads, as analytics.health stores them.
            let alerts = AlertTracker(redis: api.redis, prefix: api.redisPrefix)
            // Every report (the tab shows each as a check); `audit` lacks the months ahead it asks for.
            _ = try await HealthRun.run(.all, pool: api.pool, catalog: api.catalog, target: "main", alerts: alerts)
            // The view's ANALYZE reaches pg_stat_user_tables when its backend flushes statistics:
            // run the views report until it sees it (bounded).
            for _ in 0..<40 {
                let (report, _) = try await HealthRun.run(.matviews, pool: api.pool, catalog: api.catalog, target: "main", alerts: alerts)
                if report.findings == 0 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            let (status, output) = try await api.withWorker { try await api.withWorker(workloadClass: .import) {
                try await runBrowserScript(port: api.client.port, scenario: "full", screenshot: screenshot, schema: api.schema)
            } }
            print(output)
            #expect(status == 0, "dashboard_check.py failed:\n\(output)")
            #expect(output.contains("ok"))
            #expect(FileManager.default.fileExists(atPath: screenshot))
        }
    }
}
