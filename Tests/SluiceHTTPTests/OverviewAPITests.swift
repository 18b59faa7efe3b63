// The dashboard's read-only routes against the real servers: `GET /v1/overview/series` counts
// exactly the jobs that completed and failed, per class and bucket, with their run-time
// percentiles and the queue samples; `GET /v1/maintenance/{target}` joins the catalog with the
// stored health reports. Every answer is checked against the OpenAPI document.

import Foundation
import SluiceCore
import SluiceJobs
import TestSupport
import Testing

private let read = APIFixture.readToken

@Suite(.serialized) struct OverviewAPITests {
    @Test func seriesCountsWhatFinished() async throws {
        try await withAPI(configure: { $0.queueSampleInterval = .milliseconds(200) }) { api in
            let ids = try await api.withWorker {
                var ids: [String] = []
                for i in 0..<5 {
                    let r = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "args": ["i": .int(Int64(i))]], token: APIFixture.adminToken)
                    ids.append(r.json["id"]?.stringValue ?? "")
                }
                for _ in 0..<2 {
                    let r = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.sleep", "args": ["ms": 3000], "timeout_s": 1, "max_attempts": 1],
                                                      token: APIFixture.adminToken)
                    ids.append(r.json["id"]?.stringValue ?? "")
                }
                for id in ids {
                    let j = try await api.waitJob(id, seconds: 60) { ["completed", "discarded"].contains($0["state"]?.stringValue) }
                    #expect(["completed", "discarded"].contains(j["state"]?.stringValue), "\(id): \(j)")
                }
                return ids
            }
            #expect(ids.count == 7)
            for window in ["1h", "24h"] {
                let r = try await api.client.json("GET", "/v1/overview/series?window=\(window)", token: read)
                #expect(r.status == 200)
                expectDocumented("get", "/v1/overview/series", r)
                let axis = r.json["t"]?.arrayItems ?? []
                #expect(axis.count == (window == "1h" ? 60 : 144))
                let analytics = r.json["classes"]?["analytics"]
                func sum(_ key: String) -> Int64 { (analytics?[key]?.arrayItems ?? []).compactMap(\.intValue).reduce(0, +) }
                #expect(sum("completed") == 5, "\(window): \(analytics?["completed"] ?? .null)")
                #expect(sum("failed") == 2)
                #expect(analytics?["totals"]?["completed"] == .int(5))
                #expect(analytics?["totals"]?["failed"] == .int(2))
                // The failed jobs ran about a second (their timeout), the no-ops far less: p95 above p50.
                let p50 = analytics?["totals"]?["p50_ms"], p95 = analytics?["totals"]?["p95_ms"]
                #expect(p50 != nil && p50 != .null && p95 != nil && p95 != .null)
                if case .double(let a)? = p50, case .double(let b)? = p95 { #expect(b > a && b >= 500, "p50 \(a) p95 \(b)") }
                #expect((analytics?["completed"]?.arrayItems ?? []).count == axis.count)
                #expect(r.json["classes"]?["import"]?["totals"]?["completed"] == .int(0))
                // The sampler ran: the queue series has values.
                #expect((r.json["samples"]?.intValue ?? 0) >= 1)
                #expect((analytics?["depth"]?.arrayItems ?? []).contains { $0 != .null })
            }
            let bad = try await api.client.json("GET", "/v1/overview/series?window=7d", token: read)
            #expect(bad.status == 400)
            #expect(bad.json["error"]?["field"]?.stringValue == "window")
            expectDocumented("get", "/v1/overview/series", bad)
        }
    }

    @Test func maintenanceJoinsCatalogAndReports() async throws {
        try await withAPI(extraCatalog: DashboardCatalog.yaml) { api in
            try await api.createContactsTable()
            try await api.pool.withConnection { c in _ = try await c.simpleQuery(DashboardCatalog.sql(schema: api.schema)) }
            // Before any report: the catalog's declarations, nothing measured.
            let before = try await api.client.json("GET", "/v1/maintenance/main", token: read)
            #expect(before.status == 200)
            expectDocumented("get", "/v1/maintenance/{target}", before)
            let events = before.json["partitions"]?.arrayItems?.first { $0["table"]?.stringValue == "\(api.schema).events" }
            #expect(events?["premake"] == .int(3))
            #expect(events?["ahead"] == nil)
            _ = try await HealthRun.run(.partitions, pool: api.pool, catalog: api.catalog, target: "main",
                                        alerts: AlertTracker(redis: api.redis, prefix: api.redisPrefix))
            let r = try await api.client.json("GET", "/v1/maintenance/main", token: read)
            #expect(r.status == 200)
            let rows = r.json["partitions"]?.arrayItems ?? []
            let e = rows.first { $0["table"]?.stringValue == "\(api.schema).events" }
            #expect(e?["ahead"] == .int(3))
            #expect(e?["default_rows"] == .int(0))
            #expect(e?["partitions"] == .int(7))
            // The oldest partition is two months back; it is dropped twelve months after it ends.
            let calendar: Calendar = { var c = Calendar(identifier: .gregorian); c.timeZone = TimeZone(identifier: "UTC")!; return c }()
            let thisMonth = calendar.date(from: calendar.dateComponents([.year, .month], from: Date()))!
            let oldestEnd = calendar.date(byAdding: .month, value: -1, to: thisMonth)!
            let due = calendar.date(byAdding: .month, value: 12, to: oldestEnd)!
            #expect(e?["next_retention_at"]?.stringValue == Timestamp.format(due))
            #expect(e?["oldest_partition"]?.stringValue?.hasPrefix("events_p") == true)
            let audit = rows.first { $0["table"]?.stringValue == "\(api.schema).audit" }
            #expect(audit?["ahead"] == .int(0))
            #expect(audit?["premake"] == .int(2))
            #expect(audit?["retention"] == .null)
            let view = r.json["views"]?.arrayItems?.first
            #expect(view?["view"]?.stringValue == "\(api.schema).contact_counts")
            #expect(view?["every_s"]?.intValue == 300)
            #expect(view?["dependent_queries"] == .array(["contact_count"]))
            let other = try await api.client.json("GET", "/v1/maintenance/elsewhere", token: read)
            #expect(other.status == 200)
            #expect(other.json["partitions"]?.arrayItems?.count == 2)  // declarations without targets apply to every target
            let badTarget = try await api.client.json("GET", "/v1/maintenance/a:b", token: read)
            #expect(badTarget.status == 400)
            expectDocumented("get", "/v1/maintenance/{target}", badTarget)
        }
    }
}
