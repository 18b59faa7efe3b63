// Pruner: applies the catalog's retention to Sluice's own tables in the home database, so the
// ledger keeps itself (River's job cleaner, Oban's Pruner). Any number of processes may run
// one (every `sluice worker` does); the holder of the `pruner` lease (`LeaseElector`) acts.
//
// A pass walks every (class, final state) with a retention, then schedule fires, idempotency
// keys and replaced segments, each as bounded batches (`Ledger+Prune`: one short transaction
// with a lock timeout each), until a batch comes back short. Between batches it checks that it
// should go on (shutdown, lease renewed every ttl/3), so a pass is never one long transaction
// and a stopped pruner leaves at a batch boundary; a pruner killed mid-batch loses nothing (the
// batch rolls back) and the next pass, here or in another process, starts again from the
// oldest row. After a pass it records what it removed and the ledger's size in
// `pruner_status` (for `sluice status`) and in the metrics. Finished jobs leave mostly by whole
// partitions (migration 7, `Ledger+Partitions`), which leaves no dead tuples; only the default
// partitions and the pre-partition history are deleted from by rows (docs/architecture.md,
// "The ledger's layout").

import Foundation
import Logging
import Postgres
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import SluiceMetrics
import Synchronization

public struct PrunerConfiguration: Sendable {
    public var retention: RetentionSettings
    /// This process in the lease (default host:pid:random).
    public var name: String
    public var leaseName: String
    /// Lease length; renewed every third of it while a pass runs. Default 30 s.
    public var leaseTTL: Duration
    /// `lock_timeout` of each batch: a batch that would wait longer for a lock fails and is
    /// taken again next pass. Default 2 s.
    public var lockTimeout: Duration
    /// Pause between two batches, leaving room to the hot path and to autovacuum. Default 20 ms.
    public var batchPause: Duration
    /// `lock_timeout` of partition DDL (attach, drop), at most `lockTimeout`: while it waits for
    /// its lock every statement on the state's table queues behind it, so it gives up soon and
    /// tries again next pass. Default 500 ms.
    public var ddlLockTimeout: Duration = .milliseconds(500)
    /// Where passes are counted (`sluice worker --metrics-port`).
    public var metrics: JobMetrics?

    public init(retention: RetentionSettings, name: String = WorkerConfiguration.defaultName(),
                leaseName: String = Pruner.defaultLeaseName, leaseTTL: Duration = .seconds(30),
                lockTimeout: Duration = .seconds(2), batchPause: Duration = .milliseconds(20), metrics: JobMetrics? = nil) {
        self.retention = retention
        self.name = name
        self.leaseName = leaseName
        self.leaseTTL = leaseTTL
        self.lockTimeout = lockTimeout
        self.batchPause = batchPause
        self.metrics = metrics
    }
}

public final class Pruner: Service, Sendable {
    public static let defaultLeaseName = "pruner"

    public let configuration: PrunerConfiguration
    let ledger: Ledger
    let elector: LeaseElector
    let logger: Logger

    struct State {
        var stopped = false
        var renewedAt: ContinuousClock.Instant?
        var passes = 0
    }
    let state = Mutex(State())

    public init(configuration: PrunerConfiguration, ledger: Ledger, logger: Logger) {
        self.configuration = configuration
        self.ledger = ledger
        self.elector = LeaseElector(pool: ledger.pool, schema: ledger.schema, name: configuration.leaseName,
                                    holder: configuration.name, ttl: configuration.leaseTTL)
        var logger = logger
        logger[metadataKey: "pruner"] = "\(configuration.name)"
        self.logger = logger
    }

    /// What one pass removed, per table, and the ledger's size after it.
    public struct Pass: Sendable {
        public var removed: PruneCounts = [:]
        /// False when the pass stopped early (shutdown, lost lease); the rest waits for the next.
        public var complete = true
        public var size: Ledger.Size?
        public var total: Int { removed.values.reduce(0, +) }
    }

    /// Passes this process finished as leader.
    public var passes: Int { state.withLock { $0.passes } }

    // MARK: Leadership

    /// Takes or renews the lease when due; false when another process holds it.
    func holdLease() async throws -> Bool {
        let due = state.withLock { s -> Bool in
            guard let r = s.renewedAt else { return true }
            return ContinuousClock.now - r >= configuration.leaseTTL / 3
        }
        guard due else { return true }
        let started = ContinuousClock.now
        let held = try await elector.tryAcquire()
        state.withLock { $0.renewedAt = held ? started : nil }
        configuration.metrics?.prunerLeader(held)
        return held
    }

    // MARK: A pass

    /// One pass as leader; nil when another process holds the lease.
    public func runPass() async throws -> Pass? {
        guard !isStopped, try await holdLease() else { return nil }
        let started = Date()
        var pass = Pass()
        var failure: (any Error)?
        do {
            try await prune(into: &pass)
        } catch {
            failure = error
        }
        pass.size = try? await ledger.size()
        if let size = pass.size {
            configuration.metrics?.ledgerSize(rows: size.rows, bytes: size.bytes, deadTuples: size.deadTuples)
        }
        try? await ledger.recordPrunerPass(holder: configuration.name, startedAt: started, removed: pass.removed, size: pass.size,
                                           error: failure.map { "\($0)" })
        state.withLock { $0.passes += 1 }
        if let failure { throw failure }
        if pass.total > 0 {
            logger.info("pruned", metadata: ["rows": "\(pass.total)", "complete": "\(pass.complete)"])
        }
        return pass
    }

    /// One kind of batch: run it until `more` says the last one came back short.
    struct Step: Sendable {
        var run: @Sendable () async throws -> PruneCounts
        var more: @Sendable (PruneCounts) -> Bool
    }

    /// The steps of a pass, in order: per final state, its time partitions (made ahead, dropped
    /// whole once past retention, with their jobs' rejects and uploads) and then, by batches,
    /// its jobs past retention in the partitions that have no upper bound to wait for (the
    /// default partition, the history migration 7 attached) with their rejects and uploads;
    /// then schedule fires, idempotency keys, replaced segments.
    func steps() async throws -> [Step] {
        let r = configuration.retention, ledger = self.ledger
        let limit = max(1, r.batchSize), timeout = configuration.lockTimeout
        let ddlTimeout = min(timeout, configuration.ddlLockTimeout)
        let full: @Sendable (String) -> @Sendable (PruneCounts) -> Bool = { table in { ($0[table] ?? 0) >= limit } }
        var steps: [Step] = []
        for state in JobState.allCases where state.isFinal {
            let keep = r.keep(state)
            let partitions = try await ledger.historyPartitions(state)
            // Before migration 7 (an old ledger not migrated yet): rows of `jobs`, as before.
            let leaves: [String?] = partitions.isEmpty ? [nil] : partitions.filter(\.prunedByRows).map(\.name)
            if !partitions.isEmpty {
                let (width, ahead) = (r.partitionWidth(state), r.partitionsAhead(state))
                let logger = self.logger
                steps.append(Step(run: {
                    // A lock not had in time only postpones this to the next pass; the row
                    // batches below go on regardless.
                    var counts = PruneCounts()
                    do {
                        let made = try await ledger.makeHistoryPartitions(state, width: width, ahead: ahead, lockTimeout: ddlTimeout)
                        if !made.isEmpty { counts["jobs_partitions_made"] = made.count }
                        if let keep {
                            counts.merge(try await ledger.dropHistoryPartitions(state, keep: keep, limit: limit, lockTimeout: ddlTimeout),
                                         uniquingKeysWith: +)
                        }
                    } catch {
                        logger.warning("history partitions postponed to the next pass",
                                       metadata: ["job.state": "\(state.rawValue)", "error": "\(error)"])
                    }
                    return counts
                }, more: { _ in false }))
            }
            guard let keep else { continue }
            for leaf in leaves {
                for c in WorkloadClass.allCases {
                    steps.append(Step(run: {
                        do {
                            return try await ledger.pruneJobs(workloadClass: c.rawValue, state: state, keep: keep, limit: limit,
                                                              partition: leaf, lockTimeout: timeout)
                        } catch let error as PostgresError where leaf != nil && error.sqlState == PostgresError.undefinedTable {
                            // The partition step above dropped this leaf whole (`jobs_history` once
                            // wholly past retention): nothing left to delete from it.
                            return [:]
                        }
                    }, more: full("jobs")))
                }
            }
        }
        if let keep = r.scheduleFires {
            steps.append(Step(run: { try await ledger.pruneScheduleFires(keep: keep, limit: limit, lockTimeout: timeout) },
                              more: full("schedule_fires")))
        }
        if let keep = r.idempotencyKeys {
            steps.append(Step(run: { try await ledger.pruneIdempotencyKeys(keep: keep, limit: limit, lockTimeout: timeout) },
                              more: full("api_idempotency")))
        }
        if let keep = r.replacedSegments {
            // One segment per batch: go on while a batch removed anything.
            steps.append(Step(run: { try await ledger.pruneReplacedSegments(keep: keep, limit: limit, lockTimeout: timeout) },
                              more: { $0.values.reduce(0, +) > 0 }))
        }
        return steps
    }

    /// The batches of one pass; stops early (pass.complete = false) on shutdown or a lost lease.
    func prune(into pass: inout Pass) async throws {
        for step in try await steps() {
            while true {
                guard !isStopped, try await holdLease() else {
                    pass.complete = false
                    return
                }
                let counts = try await step.run()
                for (table, n) in counts where n > 0 {
                    pass.removed[table, default: 0] += n
                    if table != "jobs_partitions_made" { configuration.metrics?.pruned(table: table, rows: n) }
                }
                guard step.more(counts) else { break }
                try? await Task.sleep(for: configuration.batchPause)
            }
        }
    }

    // MARK: Running

    /// Passes every `retention.interval` until `stop()` or the service group's graceful
    /// shutdown; releases the lease on the way out so another process takes over at once.
    public func run() async {
        await withGracefulShutdownHandler {
            await self.loop()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func loop() async {
        while !isStopped {
            do {
                _ = try await runPass()
            } catch {
                logger.warning("pruner pass failed; the next pass takes it up again", metadata: ["error": "\(error)"])
            }
            await pause(configuration.retention.interval)
        }
        if state.withLock({ $0.renewedAt != nil }) {
            try? await elector.release()
            configuration.metrics?.prunerLeader(false)
        }
    }

    /// Asks `run()` to return after the current batch.
    public func stop() {
        state.withLock { $0.stopped = true }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    private func pause(_ d: Duration) async {
        await SluiceRuntime.pause(d) { isStopped }
    }
}
