// The route families beside the jobs, in process against the in-memory backend: operators
// (queues, dead letters, schedules), the dashboard's Redis reads (cache, health, alerts,
// events), imports and the overview. Each refuses bad input with 400 naming the field, answers
// 404 for what is not there, and shapes its answer from what the backend holds.

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SluiceCore
import SluiceCatalog
@testable import SluiceHTTP
import SluiceJobs
import SluiceRuntime
import Testing

@Suite struct InProcessRouteTests {
    // MARK: Operators

    @Test func operatorRoutesValidateAndAnswer() async throws {
        try await InProcess.withClient { client, _ in
            for uri in ["/v1/dead?limit=0", "/v1/dead?limit=1001", "/v1/dead?limit=x"] {
                try InProcess.expectRefused(try await InProcess.get(client, uri), .badRequest, field: "limit", uri)
            }
            let dead = try await InProcess.get(client, "/v1/dead?limit=1000")
            #expect(dead.status == .ok)
            #expect(try InProcess.json(dead) == ["dead": []])
            try InProcess.expectRefused(try await InProcess.post(client, "/v1/dead/nope/replay"), .badRequest, field: "id", "replay")
            let replay = try await InProcess.post(client, "/v1/dead/\(JobID.make())/replay")
            try InProcess.expectRefused(replay, .notFound, field: nil, "replay of nothing")
            // No schedules loaded: an empty list, and running one is 404.
            #expect(try InProcess.json(try await InProcess.get(client, "/v1/schedules")) == ["schedules": []])
            try InProcess.expectRefused(try await InProcess.post(client, "/v1/schedules/nightly/run"), .notFound, field: nil, "run")
            // Every class is listed, with what the broker and the ledger said (here: nothing).
            let queues = try InProcess.json(try await InProcess.get(client, "/v1/queues"))
            for c in WorkloadClass.allCases {
                #expect(queues["classes"]?[c.rawValue]?["oldest_waiting_s"] == .null, "\(c)")
            }
        }
    }

    // MARK: Dashboard reads

    @Test func theCacheRouteNormalisesParamsAndNamesWhatIsWrong() async throws {
        try await InProcess.withClient { client, backend in
            let refusals: [(String, HTTPResponse.Status, String?)] = [
                ("/v1/cache/a:b", .badRequest, "name"),
                ("/v1/cache/nothing", .notFound, nil),
                ("/v1/cache/top_campaigns?params=%5B1%5D", .badRequest, "params"),
                ("/v1/cache/top_campaigns?params=nope", .badRequest, "params"),
                ("/v1/cache/top_campaigns?params=%7B%22workspace_id%22%3A%22x%22%7D", .badRequest, "params"),
                ("/v1/cache/q?target=tenant_x", .badRequest, "target"),
                ("/v1/cache/q", .notFound, nil),
            ]
            for (uri, status, field) in refusals {
                try InProcess.expectRefused(try await InProcess.get(client, uri), status, field: field, uri)
            }
            // `7` and `"7"` are one output once normalised by the query's declared types.
            let catalog = try InProcess.catalog()
            let query = try #require(catalog.query(named: "top_campaigns"))
            let params = try QueryParameters.normalise(["workspace_id": 7, "day": "2026-01-02"], for: query)
            let now = Date()
            backend.put(CachedOutput(query: "top_campaigns", params: params.json, version: 1, computedAt: now,
                                     staleAfter: now.addingTimeInterval(300), expiresAt: now.addingTimeInterval(3600),
                                     rows: [["n": 1]], rowCount: 1, durationMS: 2, jobID: JobID.make().description),
                        query: "top_campaigns", target: "main", params: params)
            let text = #"{"workspace_id":"7","day":"2026-01-02"}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let hit = try await InProcess.get(client, "/v1/cache/top_campaigns?params=\(text)")
            #expect(hit.status == .ok)
            let body = try InProcess.json(hit)
            #expect(body["stale"] == false && body["target"] == "main" && body["cache"]?["row_count"] == 1, "\(body)")
        }
    }

    @Test func healthAlertsAndEventsValidateAndAnswer() async throws {
        try await InProcess.withClient { client, backend in
            for uri in ["/v1/health/a*b", "/v1/health/a:b", "/v1/maintenance/a*b"] {
                try InProcess.expectRefused(try await InProcess.get(client, uri), .badRequest, field: "target", uri)
            }
            backend.putHealth(target: "main", report: "bloat", ["tables": 3])
            let health = try InProcess.json(try await InProcess.get(client, "/v1/health/main"))
            #expect(health == ["target": "main", "reports": ["bloat": ["tables": 3]]])
            #expect(try InProcess.json(try await InProcess.get(client, "/v1/health/other"))["reports"] == [:])

            for uri in ["/v1/alerts?limit=0", "/v1/alerts?limit=1001"] {
                try InProcess.expectRefused(try await InProcess.get(client, uri), .badRequest, field: "limit", uri)
            }
            backend.putAlert(["alert": "bloat:main", "state": "firing"])
            backend.putAlert(["alert": "locks:main", "state": "firing"])
            backend.putAlert(["alert": "locks:main", "state": "resolved"])
            let alerts = try InProcess.json(try await InProcess.get(client, "/v1/alerts?limit=2"))
            #expect(InProcess.count(alerts["alerts"]) == 2)
            #expect(alerts["firing"] == 0, "the newest two: locks resolved, locks firing (older)")
            #expect(try InProcess.json(try await InProcess.get(client, "/v1/alerts"))["firing"] == 1)

            for after in ["abc", "1-2-3", "-1"] {
                try InProcess.expectRefused(try await InProcess.get(client, "/v1/events?after=\(after)"), .badRequest, field: "after", after)
            }
            backend.markDown(.redis)
            let down = try await InProcess.get(client, "/v1/events")
            #expect(down.status == .serviceUnavailable)
            #expect(try InProcess.error(down)["message"]?.stringValue?.contains("redis") == true)
        }
    }

    // MARK: Imports

    @Test func importsNameTheBadParameter() async throws {
        try await InProcess.withClient { client, _ in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                ("/v1/imports", .badRequest, "spec"),
                ("/v1/imports?spec=leads", .badRequest, "spec"),
                ("/v1/imports?spec=contacts&format=xml", .badRequest, "format"),
                ("/v1/imports?spec=contacts&dry_run=maybe", .badRequest, "dry_run"),
                ("/v1/imports?spec=contacts&target=tenant_x", .unprocessableContent, "target"),
            ]
            for (uri, status, field) in cases {
                try InProcess.expectRefused(try await InProcess.post(client, uri, "email\na@b.c\n", token: InProcess.enqueue),
                                            status, field: field, uri)
            }
            // Past the spec's max_file_size (64KB) by Content-Length: 413 before a byte is stored.
            let file = "email\n" + String(repeating: "someone@example.com\n", count: 70 * 1024 / 20)
            let big = try await InProcess.post(client, "/v1/imports?spec=contacts", file, token: InProcess.enqueue)
            #expect(big.status == .contentTooLarge)
            #expect(try InProcess.error(big)["code"] == "too_large")
            try InProcess.expectRefused(try await InProcess.get(client, "/v1/imports/nope/rejects.csv"), .badRequest, field: "id", "id")
            try InProcess.expectRefused(try await InProcess.get(client, "/v1/imports/\(JobID.make())/rejects.csv"), .notFound,
                                        field: nil, "unknown import")
        }
    }

    // MARK: Overview

    @Test func theOverviewSeriesTakesTwoWindows() async throws {
        try await InProcess.withClient { client, _ in
            try InProcess.expectRefused(try await InProcess.get(client, "/v1/overview/series?window=7d"), .badRequest, field: "window", "7d")
            for window in ["1h", "24h"] {
                let r = try await InProcess.get(client, "/v1/overview/series?window=\(window)")
                #expect(r.status == .ok, "\(window)")
                #expect(try InProcess.json(r)["window"]?.stringValue == window)
            }
            let maintenance = try InProcess.json(try await InProcess.get(client, "/v1/maintenance/main"))
            #expect(maintenance["target"] == "main" && maintenance["partitions"] == [] && maintenance["views"] == [])
        }
    }
}
