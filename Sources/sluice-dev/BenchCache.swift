// `sluice bench cache`: a reader GETs one cached output in a loop while a writer refreshes it
// continuously with the real query (read p50/p99, misses, torn reads); then 100 concurrent
// readers of an expired output through the real pipeline (an in-process worker on private
// queues): computations. Over the demo loaded in SLUICE_POSTGRES_URL; prints figures, never
// fails on them.

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

struct BenchCache: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Read one cached output in a loop while it is refreshed; then 100 readers of an expired output.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Seconds of reading while refreshing.") var seconds = 5
    @Option(help: "Concurrent readers of the expired output.") var readers = 100

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let (logger, catalog, query, pool) = try BenchSupport.demoQuery(settings, named: "workspace_campaigns", logger: "sluice.bench.cache")
        defer { Task { await pool.close() } }
        let ws = try requireBench(try await BenchSupport.workspaces(pool, limit: 1).first, "no workspace in the demo")
        let names = "bench_cache_\(ProcessInfo.processInfo.processIdentifier)"
        let redisConfiguration = try RedisConfiguration(url: settings.redisURL)
        let redis = RedisPool(connection: redisConfiguration, size: 2)
        defer { Task { await redis.close() } }
        let cache = QueryCache(redis: redis, prefix: names + ":")
        let params = try QueryParameters.normalise(["workspace_id": .string(ws.uuidString)], for: query)
        let key = cache.key(query: query.name.rawValue, params: params)

        // 1. Reads while refreshing.
        _ = try await QueryRefresh.run(query: query, params: params, pool: pool, cache: cache, jobID: "bench", ifVersion: nil, logger: logger)
        let stop = Atomic<Bool>(false)
        async let refreshes: Int = {
            var n = 0
            while !stop.load(ordering: .relaxed) {
                _ = try await QueryRefresh.run(query: query, params: params, pool: pool, cache: cache, jobID: "bench-\(n)",
                                               ifVersion: nil, logger: logger)
                n += 1
            }
            return n
        }()
        var latencies: [Double] = []
        var misses = 0, torn = 0
        let deadline = ContinuousClock.now + .seconds(seconds)
        let reader = RedisPool(connection: redisConfiguration, size: 1)
        while ContinuousClock.now < deadline {
            let start = ContinuousClock.now
            let reply = try await reader.send(["GET", RedisArgument(key)])
            guard let bytes = reply.bytes else { misses += 1; continue }
            let parsed = try? JSONValue.parse(bytes)
            latencies.append(BenchSupport.ms(ContinuousClock.now - start))
            guard let parsed, let out = CachedOutput(json: parsed), case .array(let rows) = out.rows, rows.count == out.rowCount else {
                torn += 1
                continue
            }
        }
        stop.store(true, ordering: .relaxed)
        let refreshCount = try await refreshes
        await reader.close()
        latencies.sort()

        // 2. Readers of an expired output, through the real pipeline.
        let stampede = try await self.stampede(settings: settings, catalog: catalog, query: query, ws: ws, names: names, logger: logger)
        _ = try? await redis.send(["DEL", RedisArgument(key), RedisArgument(key + ":version")])

        let p50 = BenchSupport.round3(BenchSupport.percentile(latencies, 0.5)), p99 = BenchSupport.round3(BenchSupport.percentile(latencies, 0.99))
        if json {
            printJSON(["reads": .int(Int64(latencies.count)), "read_p50_ms": .double(p50), "read_p99_ms": .double(p99),
                       "misses": .int(Int64(misses)), "torn": .int(Int64(torn)), "refreshes": .int(Int64(refreshCount)),
                       "readers": .int(Int64(readers)), "jobs": .int(Int64(stampede.jobs)), "computations": .int(Int64(stampede.computed)),
                       "stale_reads": .int(Int64(stampede.staleServed))])
            return
        }
        print("reads while refreshing (\(seconds) s): \(latencies.count) reads (GET + JSON parse), p50 \(p50) ms, p99 \(p99) ms; \(misses) misses, \(torn) torn; \(refreshCount) refreshes meanwhile")
        print("\(readers) readers of an expired output: \(stampede.staleServed) got the stale output at once, \(stampede.jobs) job(s) enqueued, \(stampede.computed) computation(s)")
    }

    func stampede(settings: Settings, catalog: Catalog, query: CatalogQuery, ws: UUID, names: String, logger: Logger)
        async throws -> (jobs: Int, computed: Int, staleServed: Int)
    {
        let configuration = RuntimeConfiguration(
            postgres: try PostgresConfiguration(url: settings.postgresURL), amqp: try AMQPConfiguration(url: settings.amqpURL),
            redis: try RedisConfiguration(url: settings.redisURL), schema: names, topology: TopologyConfiguration(prefix: names),
            redisPrefix: names + ":")
        let runtime = Runtime(configuration: configuration, registry: .standard(catalog: catalog), logger: logger)
        var analytics = catalog.settings(for: .analytics)
        analytics.concurrency = 8
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: WorkerConfiguration(
            classes: [analytics], postgres: configuration.postgres, amqp: configuration.amqp, name: names, shutdownGrace: .seconds(5))))
        try await process.prepare()
        let worker = process.worker!
        let cache = QueryCache(redis: runtime.redis, prefix: names + ":")
        let reader = CacheReader(cache: cache, catalog: catalog)
        let producer = runtime.producer
        let enqueue: @Sendable (JobRequest) async throws -> EnqueueResult = { try await producer.enqueue($0) }
        let params: [String: JSONValue] = ["workspace_id": .string(ws.uuidString)]
        let result: (Int, Int, Int) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await process.run(signals: []) }
            defer { worker.stop() }
            // A first output, then expired.
            let first = try await reader.read(name: query.name.rawValue, params: params, enqueue: enqueue)
            if let r = first.refresh { _ = try await wait(runtime, r.id) }
            guard var output = try await cache.read(key: first.key) else { throw CommandFailure(description: "the first refresh wrote nothing") }
            output.staleAfter = Date().addingTimeInterval(-1)
            output.version += 1
            try await cache.write(output, key: first.key, ttl: .seconds(600))
            let reads = try await withThrowingTaskGroup(of: CacheReader.Read.self) { g in
                for _ in 0..<readers { g.addTask { try await reader.read(name: query.name.rawValue, params: params, enqueue: enqueue) } }
                return try await g.reduce(into: []) { $0.append($1) }
            }
            let ids = Set(reads.compactMap { $0.refresh?.id })
            var computed = 0
            for id in ids where try await wait(runtime, id)?.result?["outcome"] == "computed" { computed += 1 }
            worker.stop()
            try await group.waitForAll()
            return (ids.count, computed, reads.filter { $0.output != nil }.count)
        }
        await BenchSupport.cleanUp(configuration, names: names, logger: logger)
        return result
    }

    func wait(_ runtime: Runtime, _ id: JobID) async throws -> LedgerJob? {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let job = try await runtime.ledger.job(id), job.state.isFinal { return job }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
