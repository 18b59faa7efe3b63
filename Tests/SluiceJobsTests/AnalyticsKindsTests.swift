// The analytics kinds through the real runtime (RabbitMQ, the ledger, Redis, a scratch target):
// bad input refused at enqueue naming the field; a cached query read, refreshed once for a crowd
// of readers of a stale output; refresh.matview refreshing the outputs that depend on its view;
// a stored segment; a health report in Redis.

import Foundation
import Logging
import Postgres
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime
import Synchronization
import TestSupport
import Testing

@Suite(.serialized) struct AnalyticsKindsTests {
    /// A process whose worker runs the analytics and refresh classes on `db`.
    func assemble(_ fixture: RuntimeFixture, _ db: ScratchDatabase) throws -> AssembledProcess {
        var analytics = ClassSettings.defaults(for: .analytics)
        analytics.concurrency = 4
        var refresh = ClassSettings.defaults(for: .refresh)
        refresh.concurrency = 1
        let base = fixture.workerConfiguration(targets: ["main": .configured(db.configuration)])
        var configuration = base
        configuration.classes = [analytics, refresh]
        return try fixture.assemble(configuration)
    }

    func finished(_ fixture: RuntimeFixture, _ id: JobID) async throws -> LedgerJob {
        try await fixture.waitFor(id, "finished") { [.completed, .discarded, .cancelled].contains($0.state) }
    }

    @Test("bad analytics jobs are refused at enqueue, naming the field")
    func refusedAtEnqueue() async throws {
        let fixture = try RuntimeFixture.make()
        let runtime = fixture.runtime
        try await runtime.ledger.migrate()
        let ws = "8f7c6a2e-0000-4000-8000-000000000001"
        let cases: [(JobRequest, String)] = [
            (JobRequest(kind: "analytics.query", args: ["name": "no_such_query"]), "args.name"),
            (JobRequest(kind: "analytics.query", args: ["name": "workspace_usage"]), "args.params.workspace_id"),
            (JobRequest(kind: "analytics.query", args: ["name": "workspace_usage", "params": ["workspace_id": 42]]), "args.params.workspace_id"),
            (JobRequest(kind: "analytics.query", args: ["name": "workspace_campaigns", "params": ["workspace_id": .string(ws), "limit": "x"]]), "args.params.limit"),
            (JobRequest(kind: "analytics.query", args: ["name": "workspace_usage", "sql": "DROP TABLE x"]), "args.sql"),
            (JobRequest(kind: "analytics.segment", args: ["workspace_id": .string(ws), "rules": [
                ["field": "email", "operator": "contains", "value": "a"],
                ["operator": "or", "rules": [["field": "email') OR true --", "operator": "equals", "value": "x"]]]]]),
             "args.rules[1].rules[0].field"),
            (JobRequest(kind: "analytics.segment", args: ["workspace_id": .string(ws), "rules": [["field": "tags", "operator": "like", "value": "a"]]]),
             "args.rules[0].operator"),
            (JobRequest(kind: "analytics.segment", args: ["workspace_id": "nope", "rules": []]), "args.workspace_id"),
            (JobRequest(kind: "analytics.health", args: ["report": "everything"]), "args.report"),
        ]
        for (request, field) in cases {
            do {
                _ = try await runtime.producer.enqueue(request)
                Issue.record("\(request.kind) \(request.args): expected a refusal")
            } catch let error as EnvelopeError {
                #expect(error.field == field, "\(error)")
            }
        }
        #expect(try await runtime.ledger.statusCounts().isEmpty, "nothing in the ledger")
        await runtime.close()
        await fixture.cleanUp()
    }

    @Test("cached queries: read, one refresh for 100 readers of a stale output, refreshed after their view")
    func cachedQueries() async throws {
        let fixture = try RuntimeFixture.make()
        try await ScratchDatabase.with("an_kinds") { db in
            let runtime = fixture.runtime
            try await runtime.ledger.migrate()
            for view in ["demo.campaign_analytics", "demo.workspace_usage_analytics"] { try await db.run("REFRESH MATERIALIZED VIEW \(view)") }
            let ws = try await db.value("SELECT id::text FROM demo.workspaces ORDER BY slug LIMIT 1", as: String.self)
            let process = try assemble(fixture, db)
            let worker = process.worker!
            let cache = QueryCache(redis: runtime.redis, prefix: fixture.names + ":")
            let reader = CacheReader(cache: cache, catalog: runtime.catalog)
            let producer = runtime.producer
            let enqueue: @Sendable (JobRequest) async throws -> EnqueueResult = { try await producer.enqueue($0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await process.run(signals: []) }
                defer { worker.stop() }
                let params: [String: JSONValue] = ["workspace_id": .string(ws), "limit": 7]

                // A miss enqueues a refresh; once it ran, the output is there and fresh.
                let miss = try await reader.read(name: "workspace_campaigns", params: params, enqueue: enqueue)
                #expect(miss.output == nil && miss.stale)
                let first = try await finished(fixture, try #require(miss.refresh).id)
                #expect(first.state == .completed && first.result?["outcome"] == "computed")
                let hit = try await reader.read(name: "workspace_campaigns", params: params, enqueue: enqueue)
                let output = try #require(hit.output)
                #expect(!hit.stale && hit.refresh == nil && output.rowCount == 5)

                // The output goes stale; 100 readers at once all get the stale rows and cause one computation.
                var stale = output
                stale.staleAfter = Date().addingTimeInterval(-1)
                stale.version += 1
                try await cache.write(stale, key: hit.key, ttl: .seconds(600))
                let reads = try await withThrowingTaskGroup(of: CacheReader.Read.self) { readers in
                    for _ in 0..<100 {
                        readers.addTask { try await reader.read(name: "workspace_campaigns", params: params, enqueue: enqueue) }
                    }
                    return try await readers.reduce(into: []) { $0.append($1) }
                }
                #expect(reads.allSatisfy { $0.output != nil }, "every reader got the stale output, none a miss")
                let ids = Set(reads.compactMap { $0.refresh?.id })
                var computed = 0
                for id in ids {
                    let job = try await finished(fixture, id)
                    if job.result?["outcome"] == "computed" { computed += 1 }
                }
                #expect(computed == 1, "100 readers, \(ids.count) job(s), \(computed) computation(s)")
                let refreshed = try #require(try await cache.read(key: hit.key))
                #expect(refreshed.version > stale.version && !refreshed.isStale())

                // refresh.matview of the view the query depends on refreshes the cached output.
                let before = refreshed.version
                let usage = try await reader.read(name: "workspace_usage", params: ["workspace_id": .string(ws)], enqueue: enqueue)
                _ = try await finished(fixture, try #require(usage.refresh).id)
                let usageBefore = try #require(try await cache.read(key: usage.key)).version
                let matview = try await runtime.producer.enqueue(JobRequest(kind: "refresh.matview", args: ["view": "demo.campaign_analytics"]))
                #expect(try await finished(fixture, matview.id).state == .completed)
                let deadline = ContinuousClock.now + .seconds(20)
                var after = before
                while ContinuousClock.now < deadline {
                    after = try await cache.read(key: hit.key)?.version ?? before
                    if after > before { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(after > before, "workspace_campaigns (depends_on demo.campaign_analytics) was refreshed")
                // A query over another view is left alone.
                #expect(try await cache.read(key: usage.key)?.version == usageBefore)

                // A segment, stored; a health report.
                let segment = try await runtime.producer.enqueue(JobRequest(kind: "analytics.segment", args: [
                    "workspace_id": .string(ws), "rules": [["field": "status", "operator": "in", "value": ["active", "verified"]]],
                    "limit": 5, "store": true]))
                let segmentJob = try await finished(fixture, segment.id)
                #expect(segmentJob.state == .completed, "\(segmentJob.error ?? "")")
                let expected = try await db.value(
                    "SELECT count(*)::int FROM demo.leads WHERE workspace_id = $1::uuid AND status IN ('active', 'verified')", [.text(ws)], as: Int.self)
                #expect(segmentJob.result?["count"]?.intValue == Int64(expected))
                if case .array(let leads)? = segmentJob.result?["leads"] { #expect(leads.count == 5) } else { Issue.record("no leads page") }
                let segmentID = try #require(segmentJob.result?["segment_id"]?.stringValue)
                let stored = try await runtime.pool.withConnection { c in
                    try await c.query("SELECT member_count, (SELECT count(*) FROM \(fixture.names).segment_members WHERE segment_id = $1::uuid) FROM \(fixture.names).segments WHERE id = $1::uuid", [.text(segmentID)])
                }
                #expect(try stored[0].decode(0, as: Int.self) == expected && stored[0].decode(1, as: Int.self) == expected)

                let health = try await runtime.producer.enqueue(JobRequest(kind: "analytics.health", args: ["report": "connections"]))
                #expect(try await finished(fixture, health.id).state == .completed)
                let report = try await runtime.redis.send(["GET", RedisArgument("\(fixture.names):health:main:connections")])
                #expect(try JSONValue.parse(try #require(report.bytes))["summary"]?["max_connections"] != nil)

                worker.stop()
                try await group.waitForAll()
            }
        }
        await fixture.cleanUp()
    }
}
