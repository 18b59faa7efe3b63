// `sluice bench soak --jobs N [--step S] [--json]`: a long run of no-op jobs through the whole
// pipeline (enqueue with confirms → `sluice worker` process(es) → completed) with the catalog's
// retention shortened (`--keep`), so the workers' pruner removes finished jobs while jobs flow.
// The question it answers: does the pipeline keep its speed as history accumulates, and does
// the ledger stay the same size once retention starts?
//
// Per step (default one million jobs, or a tenth of N when N is smaller) it prints the step's
// throughput (its jobs over the time from its first enqueue to its last job finished; steps are
// drained one by one), the p50/p99 of enqueue → finish (the ledger's `finished_at -
// enqueued_at`, sampled every half second through the (class, state, finished_at) index, before
// the pruner can remove the rows), and the ledger's rows (exact), bytes, dead tuples, rows
// deleted by batches, partitions (all summed over its partitions), and autovacuum runs on it.
// The producer keeps at most `--window` jobs unfinished, so the latency measures the pipeline,
// not a backlog. Never fails on figures.

import ArgumentParser
import ClientSupport
import Foundation
import Postgres
import SluiceCLI
import SluiceCore
import SluiceRuntime
import Synchronization

struct BenchSoak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "N no-op jobs with retention shortened so the pruner works during the run: throughput, p99, ledger size and autovacuum per step.")

    @Option(help: "Jobs to run.") var jobs = 1_000_000
    @Option(help: "Jobs per step (default 1,000,000, or a tenth of --jobs when smaller).") var step: Int?
    @Option(help: "Retention of completed jobs during the run.") var keep = "20s"
    @Option(help: "Pause between two pruner passes.") var pruneInterval = "2s"
    @Option(help: "Rows per pruner batch.") var pruneBatch = 5000
    @Option(help: "Jobs enqueued but not yet finished, at most.") var window = 5000
    @Option(help: "Jobs per enqueue batch.") var batch = 500
    @Option(help: "Worker slots (per worker process).") var concurrency = 256
    @Option(help: "Worker prefetch (per worker process).") var prefetch = 1000
    @Option(help: "Worker processes.") var workers = 1
    @Flag(help: "Print one JSON document.") var json = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        if let step, step < 1 { throw ValidationError("--step must be at least 1") }
        guard DurationSyntax.parse(keep) != nil else { throw ValidationError("--keep: \(DurationSyntax.expectedForm)") }
        guard DurationSyntax.parse(pruneInterval) != nil else { throw ValidationError("--prune-interval: \(DurationSyntax.expectedForm)") }
        guard (1...100_000).contains(pruneBatch) else { throw ValidationError("--prune-batch must be between 1 and 100000") }
        guard window >= batch, batch >= 1 else { throw ValidationError("--window must be at least --batch (and --batch at least 1)") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be between 1 and 64") }
    }

    func run() async throws {
        SluiceLogging.bootstrap()
        let stepSize = step ?? (jobs >= 10_000_000 ? 1_000_000 : max(1, jobs / 10))
        // The workers' own catalog: retention shortened, so their pruner works during the run.
        let catalog = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-soak-\(getpid())")
        try FileManager.default.createDirectory(at: catalog, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: catalog) }
        try Data("""
            version: 1
            retention:
              completed: \(keep)
              cancelled: \(keep)
              discarded: \(keep)
              batch_size: \(pruneBatch)
              interval: \(pruneInterval)
            """.utf8).write(to: catalog.appendingPathComponent("soak.yaml"))

        // Status hashes live as long as the shortened retention (at least a minute): a 10M run
        // would otherwise leave 10M hashes in Redis for a week, and Redis slows as they pile up.
        let keepDuration = DurationSyntax.parse(keep)!
        let bench = try await PipelineBench.start(concurrency: concurrency, prefetch: prefetch, workers: workers,
                                                  statusTTL: max(keepDuration, .seconds(60)),
                                                  environment: ["SLUICE_CATALOG": catalog.path])
        defer { bench.cleanUpSync() }
        let probe = SoakProbe(bench: bench)
        if !json {
            if PipelineBench.build == "debug" { print("note: debug build; use `swift build -c release` for real figures") }
            print("soak: \(jobs) no-op jobs in steps of \(stepSize), retention of finished jobs \(keep) (pruner every \(pruneInterval), batches of \(pruneBatch)), \(workers) worker process(es), at most \(window) unfinished")
            print("step      jobs     jobs/s   p50 ms   p99 ms   ledger rows   MiB    dead tuples  deleted      autovacuum(+analyze)")
        }
        let before = try await probe.tableStats()
        var steps: [[String: Any]] = []
        var done = 0
        var index = 0
        let clock = ContinuousClock()
        let sampler = Task { await probe.sampleForever() }
        defer { sampler.cancel() }
        while done < jobs {
            index += 1
            let n = min(stepSize, jobs - done)
            probe.startStep()
            let start = clock.now
            let failed = try await enqueue(n, bench: bench, probe: probe)
            // Drained: nothing of this step is still live.
            while try await probe.live() > 0 {
                try bench.checkWorkers()
                try await Task.sleep(for: .milliseconds(20))
            }
            let seconds = (clock.now - start).seconds
            // Let the sampler read the last finishes (it lags one second behind commits).
            try await Task.sleep(for: .milliseconds(1600))
            let latencies = probe.endStep().sorted()
            done += n
            let stats = try await probe.tableStats()
            func pct(_ p: Double) -> Double {
                guard !latencies.isEmpty else { return .nan }
                return (latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 100).rounded() / 100
            }
            let report: [String: Any] = [
                "step": index, "jobs_total": done, "jobs": n, "failed_enqueues": failed,
                "seconds": (seconds * 1000).rounded() / 1000, "jobs_per_s": (Double(n - failed) / seconds).rounded(),
                "latency_ms": ["p50": pct(0.5), "p99": pct(0.99), "samples": latencies.count],
                "ledger": ["rows": stats.rows, "bytes": stats.bytes, "dead_tuples": stats.dead,
                           "deleted_total": stats.deleted - before.deleted, "partitions": stats.partitions],
                "autovacuum": ["runs": stats.autovacuum - before.autovacuum, "analyze_runs": stats.autoanalyze - before.autoanalyze,
                               "running_now": stats.vacuumRunning],
            ]
            steps.append(report)
            if !json {
                func col(_ v: String, _ w: Int) -> String { v.count >= w ? v + " " : v + String(repeating: " ", count: w - v.count) }
                print(col("\(index)", 6) + col("\(done)", 10) + col("\(report["jobs_per_s"]!)", 9) + col("\(pct(0.5))", 9)
                      + col("\(pct(0.99))", 9) + col("\(stats.rows)", 14) + col("\(stats.bytes / 1_048_576)", 7)
                      + col("\(stats.dead)", 13) + col("\(stats.deleted - before.deleted)", 13)
                      + "\(stats.autovacuum - before.autovacuum)(+\(stats.autoanalyze - before.autoanalyze))"
                      + " parts \(stats.partitions)" + (stats.vacuumRunning ? " vacuum running" : ""))
            }
        }
        sampler.cancel()
        var summary: [String: Any] = [:]
        if let first = steps.first, let last = steps.last, steps.count > 1 {
            func rate(_ s: [String: Any]) -> Double { s["jobs_per_s"] as? Double ?? .nan }
            func p99(_ s: [String: Any]) -> Double { (s["latency_ms"] as? [String: Any])?["p99"] as? Double ?? .nan }
            func bytes(_ s: [String: Any]) -> Double { Double((s["ledger"] as? [String: Any])?["bytes"] as? Int ?? 0) }
            // Size from the second step on: the first one fills the ledger up to the retention.
            let second = steps[1]
            summary = [
                "throughput_last_over_first": (rate(last) / rate(first) * 1000).rounded() / 1000,
                "p99_last_over_first": (p99(last) / p99(first) * 1000).rounded() / 1000,
                "bytes_last_over_second": (bytes(last) / max(1, bytes(second)) * 1000).rounded() / 1000,
            ]
            if !json {
                print("last step / first: throughput \(summary["throughput_last_over_first"]!)×, p99 \(summary["p99_last_over_first"]!)×; ledger bytes last / second step \(summary["bytes_last_over_second"]!)×")
            }
        }
        await bench.stop()
        if json {
            Output.json(["build": PipelineBench.build, "jobs": jobs, "step": stepSize, "keep": keep, "prune_interval": pruneInterval,
                         "prune_batch": pruneBatch, "window": window, "workers": workers, "steps": steps, "summary": summary])
        }
    }

    /// Enqueues `n` jobs in batches, never more than `window` unfinished; returns failed enqueues.
    func enqueue(_ n: Int, bench: PipelineBench, probe: SoakProbe) async throws -> Int {
        let failures = Counter()
        let batch = self.batch, window = self.window
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            var running = 0
            var live = 0
            var checked = ContinuousClock.now - .seconds(1)
            while next < n {
                if running >= 4 {
                    try await group.next()
                    running -= 1
                }
                // Room in the window? (re-read at most every 50 ms)
                while live + (running + 1) * batch > window {
                    if ContinuousClock.now - checked < .milliseconds(50) { try await Task.sleep(for: .milliseconds(10)) }
                    live = try await probe.live()
                    checked = ContinuousClock.now
                    if live + (running + 1) * batch > window, running > 0 {
                        try await group.next()
                        running -= 1
                    }
                }
                let k = min(batch, n - next)
                next += k
                running += 1
                live += k
                group.addTask {
                    let results = try await bench.producer.enqueue(batch: (0..<k).map { _ in JobRequest(kind: .noop) })
                    failures.add(results.filter { if case .failure = $0 { return true } else { return false } }.count)
                }
            }
            try await group.waitForAll()
        }
        return failures.value
    }
}

/// Reads the bench's ledger: live jobs, finish latencies (sampled), and the table's statistics.
final class SoakProbe: Sendable {
    let bench: PipelineBench
    let table: String
    struct State {
        var latencies: [Double] = []
        var boundary: String?
    }
    let state = Mutex(State())

    init(bench: PipelineBench) {
        self.bench = bench
        table = PostgresIdentifier.quote(schema: bench.name, "jobs")
    }

    /// Jobs not yet final.
    func live() async throws -> Int {
        let rows = try await bench.pool.withConnection { c in
            try await c.query("SELECT count(*) FROM \(table) WHERE state IN ('available','scheduled','running','retryable')")
        }
        return try rows[0].decode(0, as: Int.self)
    }

    func startStep() { state.withLock { $0.latencies = [] } }
    func endStep() -> [Double] { state.withLock { s in defer { s.latencies = [] }; return s.latencies } }

    /// Every 500 ms: the enqueue → finish times of jobs that finished since the last read, up to
    /// one second ago (a finish's `now()` precedes its commit; a second covers the gap).
    func sampleForever() async {
        while !Task.isCancelled {
            do {
                let from = state.withLock { $0.boundary }
                let (values, to) = try await bench.pool.withConnection { c -> ([Double], String) in
                    let to = try await c.query("SELECT (now() - interval '1 second')::text")[0].decode(0, as: String.self)
                    guard let from else { return ([], to) }
                    let rows = try await c.query("""
                        SELECT (extract(epoch FROM finished_at - enqueued_at) * 1000)::float8 FROM \(table)
                        WHERE class = 'analytics' AND state = 'completed' AND finished_at > $1::timestamptz AND finished_at <= $2::timestamptz
                        """, [.text(from), .text(to)])
                    return (try rows.map { try $0.decode(0, as: Double.self) }, to)
                }
                state.withLock { s in
                    s.latencies += values
                    s.boundary = to
                }
            } catch {
                // A missed sample only thins the step's latencies.
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    struct TableStats {
        var rows: Int, bytes: Int, dead: Int, deleted: Int, autovacuum: Int, autoanalyze: Int, vacuumRunning: Bool, partitions: Int
    }

    func tableStats() async throws -> TableStats {
        try await bench.pool.withConnection { c in
            let count = try await c.query("SELECT count(*) FROM \(table)")[0].decode(0, as: Int.self)
            // Summed over the ledger's partitions (migration 7). `deleted`: rows deleted by the
            // pruner's batches from the history partitions that still exist (a finish's move
            // out of `jobs_live` counts there as a delete, so it is left out; rows of dropped
            // partitions count nowhere).
            let rows = try await c.query("""
                SELECT sum(pg_total_relation_size(s.relid))::bigint, sum(s.n_dead_tup)::bigint,
                       coalesce(sum(s.n_tup_del) FILTER (WHERE s.relname <> 'jobs_live'), 0)::bigint,
                       sum(s.autovacuum_count)::bigint, sum(s.autoanalyze_count)::bigint,
                       bool_or(EXISTS (SELECT 1 FROM pg_stat_progress_vacuum v WHERE v.relid = s.relid)), count(*)
                FROM pg_partition_tree(to_regclass($1)) t JOIN pg_stat_user_tables s ON s.relid = t.relid WHERE t.isleaf
                """, [.text(table)])
            let r = rows[0]
            return TableStats(rows: count, bytes: try r.decode(0, as: Int.self), dead: try r.decode(1, as: Int.self),
                              deleted: try r.decode(2, as: Int.self), autovacuum: try r.decode(3, as: Int.self),
                              autoanalyze: try r.decode(4, as: Int.self), vacuumRunning: try r.decode(5, as: Bool.self),
                              partitions: try r.decode(6, as: Int.self))
        }
    }
}
