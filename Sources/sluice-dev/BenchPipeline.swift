// `sluice bench throughput` and `sluice bench latency`: the whole pipeline end to end with
// no-op jobs: enqueue with confirms (ledger insert, publish), a worker in its own process
// (claim, ack, run, finish, Redis status), observed from outside. Each run uses its own schema,
// queue prefix and Redis prefix and removes them afterwards. Prints figures; never fails on
// them. Build with `-c release` for meaningful numbers. `bench latency --stages` splits the
// latency at the ledger's claim and finish times (`now()` of those transactions, i.e. before
// their commit; same host clock as the bench).

import ArgumentParser
import CBenchLoops
import SluiceCLI
import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCore
import SluiceRuntime

struct BenchThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "End-to-end no-op jobs/s: enqueue with confirms → worker process(es) → result in Redis; CPU µs per job per process.")

    @Option(help: "Jobs to run (per worker count).") var jobs = 20_000
    @Option(help: "Jobs per enqueue batch.") var batch = 500
    @Option(help: "Enqueue batches in flight.") var inFlight = 4
    @Option(help: "Worker slots (per worker process).") var concurrency = 256
    @Option(help: "Worker prefetch (per worker process).") var prefetch = 1000
    @Option(help: "The workers' --short-job-threshold (default theirs: 250ms, the short path; 0s claims every job before it runs).")
    var shortJobThreshold: String?
    @Option(parsing: .upToNextOption, help: "Worker process counts to run, one line each (e.g. --workers 1 2 4).")
    var workers: [Int] = [1]
    @Option(parsing: .upToNextOption,
            help: "Jobs per message of a batch enqueue (JobPack), one run each per worker count: --pack-jobs 500 0 compares packed with a message per job (0) in the same run.")
    var packJobs: [Int] = [Producer.defaultPackJobs]
    @Flag(help: "Print one JSON document.") var json = false

    func validate() throws {
        guard !workers.isEmpty, workers.allSatisfy({ (1...64).contains($0) }) else {
            throw ValidationError("--workers takes process counts between 1 and 64")
        }
        guard !packJobs.isEmpty, packJobs.allSatisfy({ (0...10_000).contains($0) }) else {
            throw ValidationError("--pack-jobs takes jobs per message between 0 (a message per job) and 10000")
        }
    }

    func run() async throws {
        SluiceLogging.bootstrap()
        var runs: [[String: Any]] = []
        for n in workers {
            for pack in packJobs {
                let report = try await runOnce(workers: n, packJobs: pack)
                runs.append(report)
                if !json { Self.printLine(report) }
            }
        }
        if json {
            Output.json(["build": PipelineBench.build, "ledger_async_commit": PipelineBench.asyncCommit, "runs": runs])
        }
    }

    static func printLine(_ r: [String: Any]) {
        if PipelineBench.build == "debug" { print("note: debug build; use `swift build -c release` for real figures") }
        let n = r["workers"] as? Int ?? 0
        let pack = r["pack_jobs"] as? Int ?? 0
        let packing = pack > 1 && (r["batch"] as? Int ?? 0) > 1 ? "up to \(pack) jobs per message" : "a message per job"
        print("workers \(n), \(packing): enqueued \(r["jobs"]!) no-op jobs at \(r["enqueue_jobs_per_s"]!) jobs/s; end to end (enqueue → worker → completed in ledger and Redis) \(r["end_to_end_jobs_per_s"]!) jobs/s in \(r["seconds"]!) s")
        if let cpu = r["cpu_us_per_job"] as? [String: Any] {
            let workers = (cpu["workers"] as? [Double] ?? []).map { String(format: "%.1f", $0) }.joined(separator: " + ")
            func f(_ key: String) -> String { String(format: "%.1f", cpu[key] as? Double ?? 0) }
            print("  CPU µs/job: producer \(f("producer")), worker\(n == 1 ? "" : "s") \(workers), rabbitmq \(f("rabbitmq")), "
                  + "postgres \(f("postgres")), redis \(f("redis")), total \(f("total"))")
        }
        if let count = r["bench_count_redis_cpu_ms"] as? Double {
            print(String(format: "  not in these: Redis's CPU for the bench's own count of the completed statuses, %.0f ms", count))
        }
        if let idle = r["idle_cpu_ms_per_s"] as? [String: Any] {
            print(String(format: "  servers' CPU before the run (others' load), ms/s: rabbitmq %.1f, postgres %.1f, redis %.1f",
                         idle["rabbitmq"] as? Double ?? 0, idle["postgres"] as? Double ?? 0, idle["redis"] as? Double ?? 0))
        }
    }

    func runOnce(workers workerCount: Int, packJobs: Int) async throws -> [String: Any] {
        let bench = try await PipelineBench.start(concurrency: concurrency, prefetch: prefetch, workers: workerCount, packJobs: packJobs,
                                                  workerArguments: shortJobThreshold.map { ["--short-job-threshold", $0] } ?? [])
        defer { bench.cleanUpSync() }
        let jobs = self.jobs, batch = self.batch, inFlight = self.inFlight
        // What the servers spend with nothing of ours running (others' load on shared servers).
        let idleProcesses = bench.processes()
        let idleBefore = ProcessCPU.snapshot()
        try await Task.sleep(for: .seconds(1))
        let idle = idleProcesses.delta(idleBefore, ProcessCPU.snapshot())

        let clock = ContinuousClock()
        let cpuBefore = ProcessCPU.snapshot()
        let start = clock.now
        var enqueueDone = start
        let failures = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            var running = 0
            while next < jobs {
                if running >= inFlight {
                    try await group.next()
                    running -= 1
                }
                let n = min(batch, jobs - next)
                next += n
                running += 1
                group.addTask {
                    let results = try await bench.producer.enqueue(batch: (0..<n).map { _ in JobRequest(kind: .noop, args: ["b": 1]) })
                    failures.add(results.filter { if case .failure = $0 { return true } else { return false } }.count)
                }
            }
            try await group.waitForAll()
            enqueueDone = clock.now
        }
        // Completion: every job final in the ledger (the live leaf empty: a cheap probe, where a
        // count of the completed rows every 20 ms cost Postgres 6-25 µs per job of the bench's
        // own), then counted once, and its status in Redis.
        while try await bench.liveJobs(), clock.now - start < .seconds(600) {
            try bench.checkWorkers()
            try await Task.sleep(for: .milliseconds(20))
        }
        let completed = try await bench.completedCount()
        let ledgerDone = clock.now
        var redisDone = ledgerDone
        // The count scans every job hash in one script (4–6 µs a job of Redis's time here): its CPU is
        // the bench's, not the pipeline's, so it is taken out of Redis's figure below.
        let processes = bench.processes()
        var countCPU = 0.0
        while true {
            let before = processes.redis.compactMap(ProcessCPU.seconds).reduce(0, +)
            let counted = try await bench.redisCompletedEvents()
            countCPU += processes.redis.compactMap(ProcessCPU.seconds).reduce(0, +) - before
            if counted >= jobs - failures.value || clock.now - ledgerDone >= .seconds(60) { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        redisDone = clock.now
        let cpuAfter = ProcessCPU.snapshot()
        var spent = processes.delta(cpuBefore, cpuAfter)
        spent["redis"] = max(0, (spent["redis"] as? Double ?? 0) - countCPU)
        let total = (redisDone - start).seconds
        let report: [String: Any] = [
            "workers": workerCount, "jobs": jobs, "failed_enqueues": failures.value, "completed": completed,
            "concurrency": concurrency, "prefetch": prefetch, "batch": batch, "pack_jobs": packJobs,
            "enqueue_jobs_per_s": (Double(jobs) / (enqueueDone - start).seconds).rounded(),
            "end_to_end_jobs_per_s": (Double(completed) / total).rounded(),
            "seconds": (total * 1000).rounded() / 1000,
            "cpu_us_per_job": microsecondsPerJob(spent, jobs: completed),
            "cpu_seconds": spent,
            "bench_count_redis_cpu_ms": (countCPU * 1000).rounded(),
            "idle_cpu_ms_per_s": [
                "rabbitmq": ((idle["rabbitmq"] as? Double ?? 0) * 10_000).rounded() / 10,
                "postgres": ((idle["postgres"] as? Double ?? 0) * 10_000).rounded() / 10,
                "redis": ((idle["redis"] as? Double ?? 0) * 10_000).rounded() / 10,
            ],
            "pids": ["producer": processes.producer, "workers": processes.workers, "rabbitmq": processes.rabbitmq,
                     "postgres": processes.postgres, "redis": processes.redis],
        ]
        await bench.stop()
        return report
    }
}

struct BenchLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency", abstract: "Enqueue → result in Redis latency of no-op jobs at a fixed rate (p50/p95/p99).")

    @Option(help: "Jobs per second.") var rate = 200
    @Option(help: "Jobs to run.") var jobs = 2000
    @Option(help: "Worker slots.") var concurrency = 16
    @Flag(help: "Print one JSON document.") var json = false
    @Flag(help: "Also split the latency into stages (p50/p99) at the ledger's claim and finish times.") var stages = false
    @Option(help: "The workers' --short-job-threshold (default theirs: 250ms, the short path; 0s claims every job before it runs).")
    var shortJobThreshold: String?
    @Flag(help: "Start the workers with --no-pruner (no partition DDL during the run), to see what the pruner costs the tail.")
    var noPruner = false
    @Option(help: "Where to measure the fsync floor (a scratch file, removed): put it on the servers' disk.")
    var fsyncDirectory = "."

    func validate() throws {
        guard rate >= 1 else { throw ValidationError("--rate must be at least 1 job per second, not \(rate)") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1, not \(jobs)") }
    }

    func run() async throws {
        SluiceLogging.bootstrap()
        let interval = Duration.seconds(1.0 / Double(rate))
        let micros = max(1, Int(interval.seconds * 1_000_000))
        let wake = try Self.floor("wake-up floor", samples: min(jobs, 1_000)) { sluice_c_wake_latency($0, micros, $1, $2, $3) }
        let fsync = try Self.floor("fsync floor in \(fsyncDirectory)", samples: min(jobs, 200)) {
            sluice_c_fsync_latency(fsyncDirectory, $0, micros, $1, $2, $3)
        }
        let workerArguments = (shortJobThreshold.map { ["--short-job-threshold", $0] } ?? []) + (noPruner ? ["--no-pruner"] : [])
        let bench = try await PipelineBench.start(concurrency: concurrency, prefetch: max(concurrency, 50),
                                                  workerArguments: workerArguments)
        defer { bench.cleanUpSync() }
        // Warm up: connections, prepared paths.
        for _ in 0..<20 { _ = try await bench.producer.enqueue(JobRequest(kind: .noop)) }
        try await Task.sleep(for: .milliseconds(300))
        let watcher = RedisBlockingConnection(configuration: bench.redisConfiguration, logger: bench.logger)
        let starts = Starts()
        let latencies = Latencies()
        let walls = Walls()
        let clock = ContinuousClock()
        let switchesBefore = bench.processes().switches()
        let cpuBefore = ProcessCPU.snapshot()
        let origin = clock.now
        let streamStart = try await watcher.send(["XADD", RedisArgument(bench.results.eventsKey), "*", "bench", "start"]).string ?? "$"
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The watcher: completed events, matched to their enqueue time.
            group.addTask {
                var last = streamStart
                while latencies.count < jobs {
                    let batches = try await watcher.xread(streams: [(bench.results.eventsKey, last)], count: 1000, block: .seconds(1))
                    for (_, entries) in batches {
                        for e in entries {
                            last = e.id
                            guard e[string: "state"] == "completed", let id = e[string: "id"], let t0 = starts.take(id) else { continue }
                            latencies.add((clock.now - t0).seconds * 1000)
                            walls.set(id, 2, Date().timeIntervalSince1970)
                        }
                    }
                    if clock.now - origin > .seconds(Double(jobs) / Double(rate) + 60) { break }
                }
            }
            // The producer: one job every 1/rate s, each enqueue on its own task.
            for i in 0..<jobs {
                let due = origin + interval * i
                try await clock.sleep(until: due, tolerance: .microseconds(100))
                group.addTask {
                    var request = JobRequest(kind: .noop)
                    let id = JobID.make()
                    request.id = id
                    walls.set(id.description, 0, Date().timeIntervalSince1970)
                    starts.put(id.description, clock.now)
                    _ = try await bench.producer.enqueue(request)
                    walls.set(id.description, 1, Date().timeIntervalSince1970)
                }
            }
            try await group.waitForAll()
        }
        // CPU per job at this rate, every process of the chain (the bench's own reads of the
        // event stream count as the producer's and Redis's: the observation Celery's harness
        // makes by polling its results).
        let cpuAfter = ProcessCPU.snapshot()
        // The processes again: a connection opened during the run has a new backend, all of
        // whose CPU and switches belong to the run.
        let ended = bench.processes()
        let switches = ended.switchesPerJob(switchesBefore, ended.switches(), jobs: jobs)
        let elapsed = (clock.now - origin).seconds
        let spent = ended.delta(cpuBefore, cpuAfter)
        let busy = totalSeconds(spent)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        await watcher.close()
        var stageReport: [String: Any] = [:]
        if stages { stageReport = try await bench.stages(walls.snapshot) }
        await bench.stop()
        let sorted = latencies.values.sorted()
        func pct(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let v = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            return (v * 1000).rounded() / 1000
        }
        var report: [String: Any] = [
            "build": PipelineBench.build, "ledger_async_commit": PipelineBench.asyncCommit, "rate": rate, "jobs": jobs, "observed": sorted.count,
            "latency_ms": ["p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": sorted.last.map { ($0 * 1000).rounded() / 1000 } ?? .nan],
        ]
        if stages { report["stages_ms_p50_p99"] = stageReport }
        let perJob = microsecondsPerJob(spent, jobs: jobs)
        report["cpu_us_per_job"] = perJob
        report["cpu_busy_percent"] = (busy / (elapsed * cores) * 1000).rounded() / 10
        report["context_switches_per_job"] = switches
        report["thread_wake_us"] = ["p50": wake.p50, "p99": wake.p99]
        report["fdatasync_us"] = ["p50": fsync.p50, "p99": fsync.p99]
        if json {
            Output.json(report)
        } else {
            if PipelineBench.build == "debug" { print("note: debug build; use `swift build -c release` for real figures") }
            print("\(sorted.count)/\(jobs) no-op jobs at \(rate)/s, enqueue → completed status in Redis:")
            print("p50 \(pct(0.5)) ms  p95 \(pct(0.95)) ms  p99 \(pct(0.99)) ms  max \(sorted.last.map { String(format: "%.3f", $0) } ?? "-") ms")
            for (k, v) in stageReport.sorted(by: { $0.key < $1.key }) { print("  \(k): p50/p99 \(v) ms") }
            func f(_ key: String) -> String { String(format: "%.1f", perJob[key] as? Double ?? 0) }
            print("CPU µs/job: producer (and the watcher) \(f("producer")), worker \(f("workers_total")), rabbitmq \(f("rabbitmq")), "
                  + "postgres \(f("postgres")), redis \(f("redis")), total \(f("total")); these processes kept "
                  + String(format: "%.1f", report["cpu_busy_percent"] as? Double ?? 0) + " % of \(Int(cores)) cores busy")
            let hops = ended.groups.map { g in
                let v = switches[g.name] ?? [0, 0]
                return "\(g.name) \(String(format: "%.1f", v[0])) + \(String(format: "%.1f", v[1]))"
            }
            print("context switches per job (voluntary + involuntary): " + hops.joined(separator: ", "))
            print("the machine's floors: a sleeping thread woken \(interval) apart p50 \(wake.p50) µs, p99 \(wake.p99) µs; "
                  + "an 8 kB write + fdatasync in \(fsyncDirectory) p50 \(fsync.p50) µs, p99 \(fsync.p99) µs")
        }
    }

    /// p50 and p99 of one of the machine's floors, measured by a C probe (CBenchLoops) paced as
    /// the jobs are. `sluice_c_wake_latency`: every hop of a job (a client's I/O thread, a server
    /// process, the cooperative pool) starts with such a wake. `sluice_c_fsync_latency`: every
    /// durable step (the ledger's commit, a persistent publish's confirm) waits for one such
    /// flush. A chain of hops cannot beat the sum of its floors; their p99s say how often a hop
    /// stalls on this machine whatever the code does.
    static func floor(_ what: String, samples: Int,
                      _ probe: (Int, UnsafeMutablePointer<Double>, UnsafeMutablePointer<CChar>, Int) -> Int32) throws
        -> (p50: Double, p99: Double) {
        var values = [Double](repeating: 0, count: max(1, samples))
        var err = [CChar](repeating: 0, count: 256)
        guard probe(values.count, &values, &err, err.count) == 0 else {
            throw ValidationError("\(what): \(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        values.sort()
        return ((BenchSupport.percentile(values, 0.50) * 10).rounded() / 10, (BenchSupport.percentile(values, 0.99) * 10).rounded() / 10)
    }
}

/// One benchmark run's private slice of the servers and its worker process.
final class PipelineBench: Sendable {
    #if DEBUG
    static let build = "debug"
    #else
    static let build = "release"
    #endif

    static var asyncCommit: Bool { Settings.fromEnvironment().ledgerAsyncCommit }

    let name: String
    let settings: Settings
    let logger: Logger
    let pool: PostgresPool
    let ledger: Ledger
    let redis: RedisPool
    let redisConfiguration: RedisConfiguration
    let results: ResultStore
    let publisher: JobPublisher
    let producer: Producer
    let topology: TopologyConfiguration
    let amqp: AMQPConfiguration
    let postgresPort: Int
    let workers: [Process]

    private init(name: String, settings: Settings, logger: Logger, pool: PostgresPool, ledger: Ledger, redis: RedisPool,
                 redisConfiguration: RedisConfiguration, results: ResultStore, publisher: JobPublisher, producer: Producer,
                 topology: TopologyConfiguration, amqp: AMQPConfiguration, postgresPort: Int, workers: [Process]) {
        self.name = name
        self.settings = settings
        self.logger = logger
        self.pool = pool
        self.ledger = ledger
        self.redis = redis
        self.redisConfiguration = redisConfiguration
        self.results = results
        self.publisher = publisher
        self.producer = producer
        self.topology = topology
        self.amqp = amqp
        self.postgresPort = postgresPort
        self.workers = workers
    }

    /// Starts `workers` production `sluice worker` processes on this run's private names.
    /// The caller bootstraps logging (once per process).
    /// `environment` is added to the workers' (e.g. `SLUICE_CATALOG` for a bench's own catalog).
    /// `statusTTL` (nil: the default) is how long the bench's and its workers' status hashes live
    /// in Redis, so a long bench does not leave millions of them behind.
    static func start(concurrency: Int, prefetch: Int, workers workerCount: Int = 1, packJobs: Int = Producer.defaultPackJobs,
                      statusTTL: Duration? = nil,
                      environment: [String: String] = [:], workerArguments: [String] = []) async throws -> PipelineBench {
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.bench")
        let name = "sluice_bench_\(getpid())_\(runCounter.next())"
        let postgres = try PostgresConfiguration(url: settings.postgresURL)
        let amqp = try AMQPConfiguration(url: settings.amqpURL)
        let redisConfiguration = try RedisConfiguration(url: settings.redisURL)
        // The queue type the `sluice worker`s started below will declare (quorum on a cluster URL).
        let topology = TopologyConfiguration(prefix: name, queueType: try RuntimeOptions.queueType(nil, settings: settings))
        // The same assembly as `sluice worker` / `sluice enqueue`, on private names.
        var configuration = RuntimeConfiguration(
            postgres: postgres, amqp: amqp, redis: redisConfiguration, schema: name,
            topology: topology, redisPrefix: name + ":",
            ledgerAsyncCommit: Settings.fromEnvironment().ledgerAsyncCommit)
        configuration.packJobs = packJobs
        if let statusTTL { configuration.statusTTL = statusTTL }
        let runtime = Runtime(configuration: configuration, registry: .builtIn, logger: logger)
        let (pool, ledger, redis, results, publisher, producer) =
            (runtime.pool, runtime.ledger, runtime.redis, runtime.results, runtime.publisher, runtime.producer)
        try await ledger.migrate()
        // Declare the topology before the worker starts consuming.
        _ = try await producer.enqueue(JobRequest(kind: .noop))
        // The production `sluice` beside this `sluice-dev`.
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var env = ProcessInfo.processInfo.environment
        env["SLUICE_REDIS_PREFIX"] = name + ":"
        if let statusTTL { env["SLUICE_STATUS_TTL"] = "\(statusTTL.components.seconds)s" }
        env.merge(environment) { _, new in new }
        var workers: [Process] = []
        for _ in 0..<workerCount {
            let worker = Process()
            worker.executableURL = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("sluice")
            worker.arguments = ["worker", "--schema", name, "--queue-prefix", name, "--classes", "analytics",
                                "--concurrency", String(concurrency), "--prefetch", String(prefetch), "--grace", "5s"] + workerArguments
            worker.environment = env
            worker.standardOutput = FileHandle.nullDevice
            worker.standardError = FileHandle.nullDevice
            try worker.run()
            workers.append(worker)
        }
        let bench = PipelineBench(name: name, settings: settings, logger: logger, pool: pool, ledger: ledger, redis: redis,
                                  redisConfiguration: redisConfiguration, results: results, publisher: publisher,
                                  producer: producer, topology: topology, amqp: amqp, postgresPort: postgres.port,
                                  workers: workers)
        // Wait for the worker to consume the declaring job.
        for _ in 0..<200 where try await bench.completedCount() < 1 { try await Task.sleep(for: .milliseconds(25)) }
        return bench
    }

    /// This run's processes, the servers found by their ports (see BenchCPU.swift).
    func processes() -> PipelineProcesses {
        PipelineProcesses.find(
            producer: getpid(), workers: workers.map(\.processIdentifier), amqpPort: amqp.port,
            postgresPort: postgresPort, redisPort: redisConfiguration.port)
    }

    struct WorkerExited: Error, CustomStringConvertible {
        var status: Int32
        var description: String { "a worker process exited (status \(status)) before the run completed" }
    }

    /// Throws when a worker process has died: the run cannot complete, so do not wait for it.
    func checkWorkers() throws {
        if let dead = workers.first(where: { !$0.isRunning }) { throw WorkerExited(status: dead.terminationStatus) }
    }

    /// Whether any job of the run is not final yet (its live leaf holds a row).
    func liveJobs() async throws -> Bool {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT EXISTS (SELECT 1 FROM \(PostgresIdentifier.quote(schema: name, "jobs_live")))")
        }
        return try rows[0].decode(0, as: Bool.self)
    }

    func completedCount() async throws -> Int {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT count(*) FROM \(PostgresIdentifier.quote(schema: name, "jobs")) WHERE state = 'completed'")
        }
        return try rows[0].decode(0, as: Int.self) - 1
    }

    /// Jobs whose Redis status is `completed` (minus the topology job).
    func redisCompletedEvents() async throws -> Int {
        // Count the job hashes whose state is completed (server-side, one round trip).
        let rows = try await redis.send(["EVAL", """
            local n = 0
            local cursor = "0"
            repeat
              local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 5000)
              cursor = r[1]
              for _, k in ipairs(r[2]) do
                if redis.call('HGET', k, 'state') == 'completed' then n = n + 1 end
              end
            until cursor == "0"
            return n
            """, "0", RedisArgument(name + ":job:*")])
        return (rows.int ?? 0) - 1
    }

    /// p50 and p99 (ms) of each stage, per completed job: `walls[id]` holds the wall times of
    /// the enqueue call's start and return and of the completed event's arrival; the ledger
    /// gives `started_at` (the run's start: a short job's, or the claim) and `finished_at` (the
    /// record or the finish). a: the enqueue call (ledger insert ∥ publish with confirm ∥
    /// producer status flush); b: enqueue start → run start (delivery, the worker's read, or its
    /// claim); c: run start → finish statement (the run; the claim commit and ack too on the
    /// claim-first path); d: finish statement → completed event read from Redis (its commit,
    /// the ack, the status flush, XREAD).
    func stages(_ walls: [String: [Double]]) async throws -> [String: Any] {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT id::text, extract(epoch from started_at)::float8, extract(epoch from finished_at)::float8 FROM \(PostgresIdentifier.quote(schema: name, "jobs")) WHERE state = 'completed'")
        }
        var parts: [String: [Double]] = [:]
        for row in rows {
            let id = try row.decode(0, as: String.self)
            guard let w = walls[id], w.count == 3, w[0] > 0, w[1] > 0, w[2] > 0 else { continue }
            let started = try row.decode(1, as: Double.self), finished = try row.decode(2, as: Double.self)
            parts["a_enqueue_call", default: []].append((w[1] - w[0]) * 1000)
            parts["b_start_to_claim_tx", default: []].append((started - w[0]) * 1000)
            parts["c_claim_tx_to_finish_tx", default: []].append((finished - started) * 1000)
            parts["d_finish_tx_to_observed", default: []].append((w[2] - finished) * 1000)
            parts["e_total", default: []].append((w[2] - w[0]) * 1000)
        }
        var out: [String: Any] = [:]
        for (k, v) in parts {
            let s = v.sorted()
            out[k] = [(s[s.count / 2] * 1000).rounded() / 1000, (s[min(s.count - 1, s.count * 99 / 100)] * 1000).rounded() / 1000]
        }
        return out
    }

    func stop() async {
        for worker in workers { kill(worker.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(15)
        while workers.contains(where: \.isRunning) && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
        await publisher.close()
        if let connection = try? await AMQPConnection.connect(configuration: amqp, logger: logger),
           let channel = try? await connection.openChannel() {
            await Topology.delete(on: channel, topology)
            await connection.close()
        }
        try? await ledger.dropSchema()
        _ = try? await redis.send(["EVAL", """
            local cursor = "0"
            repeat
              local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 5000)
              cursor = r[1]
              for _, k in ipairs(r[2]) do redis.call('DEL', k) end
            until cursor == "0"
            return 1
            """, "0", RedisArgument(name + ":*")])
        await redis.close()
        await pool.close()
    }

    /// Last resort if the command throws: do not leave the worker process behind.
    func cleanUpSync() {
        for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
    }

    /// Distinguishes the runs of one process (`--workers 1 2 4`).
    static let runCounter = Counter()
}

final class Counter: @unchecked Sendable {
    // @unchecked Sendable: `n` only under `lock`.
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.lock(); n += k; lock.unlock() }
    /// Adds one and returns the value before.
    func next() -> Int { lock.lock(); defer { n += 1; lock.unlock() }; return n }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

final class Starts: @unchecked Sendable {
    // @unchecked Sendable: the dictionary only under `lock`.
    private let lock = NSLock()
    private var map: [String: ContinuousClock.Instant] = [:]
    func put(_ id: String, _ t: ContinuousClock.Instant) { lock.lock(); map[id] = t; lock.unlock() }
    func take(_ id: String) -> ContinuousClock.Instant? { lock.lock(); defer { lock.unlock() }; return map.removeValue(forKey: id) }
}

final class Latencies: @unchecked Sendable {
    // @unchecked Sendable: the array only under `lock`.
    private let lock = NSLock()
    private var list: [Double] = []
    func add(_ ms: Double) { lock.lock(); list.append(ms); lock.unlock() }
    var values: [Double] { lock.lock(); defer { lock.unlock() }; return list }
    var count: Int { lock.lock(); defer { lock.unlock() }; return list.count }
}

final class Walls: @unchecked Sendable {
    // @unchecked Sendable: the dictionary only under `lock`.
    private let lock = NSLock()
    private var map: [String: [Double]] = [:]
    func set(_ id: String, _ i: Int, _ t: Double) { lock.lock(); map[id, default: [0, 0, 0]][i] = t; lock.unlock() }
    var snapshot: [String: [Double]] { lock.lock(); defer { lock.unlock() }; return map }
}
