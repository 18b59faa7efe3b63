// `sluice bench query`: analytics.query jobs/s end to end next to the same work done directly
// (the struct below says how). Prints figures, never fails on them.

import ArgumentParser
import SluiceCLI
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCatalogLoader
import SluiceCore
import SluiceJobs
import SluiceRuntime
import Synchronization

/// `sluice bench query`: analytics.query end to end (enqueue → worker → query → Redis → completed
/// in the ledger) in jobs/s, next to the same queries and Redis writes run directly on two
/// connections without Sluice. The query is the demo's `lead_growth` (an aggregate over
/// demo.leads through the (workspace_id, created_at) index), its params varied so no two jobs
/// share a cache key.
struct BenchQuery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "analytics.query jobs/s end to end, next to the same work done directly.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Jobs (and direct runs).") var jobs = 1000

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let (logger, catalog, query, pool) = try BenchSupport.demoQuery(settings, named: "lead_growth", logger: "sluice.bench.query")
        let analytics = catalog.settings(for: .analytics)
        let postgres = try PostgresConfiguration(url: settings.postgresURL)
        defer { Task { await pool.close() } }
        let ws = try await BenchSupport.workspaces(pool, limit: 50)
        guard !ws.isEmpty else { throw CommandFailure(description: "no workspace in the demo") }
        let leads = try await pool.withConnection { c in try await c.query("SELECT count(*) FROM demo.leads")[0].decode(0, as: Int.self) }
        let names = "bench_query_\(ProcessInfo.processInfo.processIdentifier)"
        func params(_ i: Int) -> [String: JSONValue] {
            ["workspace_id": .string(ws[i % ws.count].uuidString.lowercased()), "months": .int(Int64(1 + (i / ws.count) % 24))]
        }

        // Direct: two connections, each runs its share: query, rows as JSON, SET in Redis.
        let redis = RedisPool(connection: try RedisConfiguration(url: settings.redisURL), size: 2)
        defer { Task { await redis.close() } }
        let direct = PostgresPool(configuration: .init(connection: postgres, maxConnections: 2), logger: logger)
        defer { Task { await direct.close() } }
        let directStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<2 {
                group.addTask {
                    try await direct.withConnection { c in
                        var i = lane
                        while i < jobs {
                            let normalised = try QueryParameters.normalise(params(i), for: query)
                            let (rows, _) = try await QueryRefresh.execute(query, params: normalised, on: c)
                            _ = try await redis.send(["SET", RedisArgument("\(names):direct:\(i)"), RedisArgument(rows.encoded()), "EX", 60])
                            i += 2
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let directSeconds = BenchSupport.ms(ContinuousClock.now - directStart) / 1000
        if let keys = try? await redis.send(["KEYS", RedisArgument("\(names):direct:*")]).array {
            for k in keys { _ = try? await redis.send(["DEL", RedisArgument(k.string ?? "")]) }
        }

        // Sluice: an in-process worker on private queues, ledger schema and Redis prefix.
        let configuration = RuntimeConfiguration(
            postgres: postgres, amqp: try AMQPConfiguration(url: settings.amqpURL), redis: try RedisConfiguration(url: settings.redisURL),
            schema: names, topology: TopologyConfiguration(prefix: names), redisPrefix: names + ":")
        let runtime = Runtime(configuration: configuration, registry: .standard(catalog: catalog), logger: logger)
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: WorkerConfiguration(
            classes: [analytics], postgres: postgres, amqp: configuration.amqp, name: names, shutdownGrace: .seconds(5))))
        try await process.prepare()
        let worker = process.worker!
        let (sluiceSeconds, failed): (Double, Int) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await process.run(signals: []) }
            defer { worker.stop() }
            let start = ContinuousClock.now
            var requests: [JobRequest] = []
            for i in 0..<jobs {
                var r = JobRequest(kind: AnalyticsQueryJob.kind, args: ["name": "lead_growth", "params": .object(params(i))])
                r.producer = "bench"
                requests.append(r)
            }
            var sent = 0
            while sent < requests.count {
                let chunk = Array(requests[sent..<min(requests.count, sent + 500)])
                for result in try await runtime.producer.enqueue(batch: chunk) { _ = try result.get() }
                sent += chunk.count
            }
            let deadline = ContinuousClock.now + .seconds(600)
            while ContinuousClock.now < deadline {
                let counts = try await runtime.ledger.statusCounts()
                let done = counts.values.reduce(0) { $0 + $1.completedLastHour + $1.failedLastHour }
                if done >= jobs { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let seconds = BenchSupport.ms(ContinuousClock.now - start) / 1000
            let failed = try await runtime.ledger.statusCounts().values.reduce(0) { $0 + $1.failedLastHour }
            worker.stop()
            try await group.waitForAll()
            return (seconds, failed)
        }
        await BenchSupport.cleanUp(configuration, names: names, logger: logger)
        let sluiceRate = Double(jobs) / sluiceSeconds, directRate = Double(jobs) / directSeconds
        let ratio = (sluiceRate / directRate * 1000).rounded() / 10
        if json {
            printJSON(["leads": .int(Int64(leads)), "jobs": .int(Int64(jobs)), "failed": .int(Int64(failed)),
                       "sluice_jobs_per_s": .double(BenchSupport.round3(sluiceRate)), "direct_per_s": .double(BenchSupport.round3(directRate)),
                       "percent_of_direct": .double(ratio), "slots": .int(Int64(analytics.concurrency)), "direct_connections": 2])
            return
        }
        print("lead_growth over \(leads) leads, \(jobs) jobs: Sluice \(BenchSupport.round3(sluiceRate)) jobs/s (\(analytics.concurrency) slots, \(failed) failed); direct \(BenchSupport.round3(directRate))/s on 2 connections: \(ratio) % of direct (target >= 90 %)")
    }
}
