// DatabaseJobs.run: JSON arguments decoded per kind, undeclared names and malformed arguments
// rejected before any connection is made, reports returned as JSON.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
@testable import SluiceJobs
import Testing

@Suite struct MaintenanceDispatchTests {
    @Test func rejectsBeforeConnecting() async throws {
        let catalog = try TestCatalog.demo()
        let cases: [(JobKind, [String: JSONValue], JobError.Code)] = [
            ("maintenance.partitions", ["table": "demo.leads; --"], .undeclared),
            ("maintenance.partitions", [:], .invalidArguments),
            ("maintenance.vacuum", ["table": "demo.nope"], .undeclared),
            ("maintenance.vacuum", ["table": "demo.leads", "full": "yes"], .invalidArguments),
            ("maintenance.analyze", ["table": 42], .invalidArguments),
            ("maintenance.reindex", ["index": "pg_catalog.pg_class_oid_index"], .undeclared),
            ("maintenance.cleanup", ["policy": "everything"], .undeclared),
            ("maintenance.plan", ["budget": "soon"], .invalidArguments),
            ("refresh.matview", ["view": "demo.leads"], .undeclared),
            ("sys.noop", [:], .invalidArguments),
        ]
        for (kind, args, code) in cases {
            let error = await expectJobError {
                _ = try await DatabaseJobs.run(kind: kind, args: args, catalog: catalog, pool: TestCatalog.deadPool(),
                                               progress: { _ in }, logger: .init(label: "test"))
            }
            #expect(error?.code == code, "\(kind) \(args)")
        }
        #expect(DatabaseJobs.kinds.count == 7 && DatabaseJobs.kinds[MatviewRefreshJob.kind] == .refresh)
    }

    @Test func returnsTheReportAsJSON() async throws {
        let catalog = try TestCatalog.demo()
        try await ScratchDatabase.with("jobs_dispatch") { db in
            let result = try await DatabaseJobs.run(
                kind: "refresh.matview", args: ["view": "campaign_analytics"], catalog: catalog, pool: db.pool, progress: { _ in },
                logger: db.logger)
            #expect(result["view"] == "demo.campaign_analytics")
            #expect(result["mode"] == "concurrent")
            #expect(result["rows"] == 15)
            #expect(result["duration_seconds"]?.objectValue == nil && result["duration_seconds"] != nil)
            let refreshedAt = try #require(result["refreshed_at"]?.stringValue)
            #expect(ISO8601DateFormatter().date(from: refreshedAt) != nil)
        }
    }
}
