// Worker: consumes the queues of its classes and runs jobs in slots (`sluice worker`); a Service.
// This file holds its parts and its lifecycle (run, stop, the drain); consuming, running a job
// and leases are in Worker+Consume, Worker+Execute and Worker+Lease.
//
// Per delivery: decode and validate (bad → dead letter naming the field, ack); re-delay a job
// that is not due; run it at once unclaimed and, when it completes inside its class's
// short-job threshold, record it completed with one statement and ack (Worker+Short); a job
// still running at the threshold, or any job when the threshold is zero, is claimed in the
// ledger (batched) and acked right after the claim, so the broker's consumer_timeout never
// sees a long job; run it with its timeout; record the outcome (completed / retry via the
// delay ladder / dead letter). A heartbeat keeps the
// leases of running jobs alive and picks up cancel requests; one elected worker rescues jobs
// whose lease expired. Consumers reconnect with backoff. `stop()` drains: no new deliveries,
// running jobs get `shutdownGrace`, then they are cancelled and handed back.

import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import Synchronization

public final class Worker: Service, Sendable {
    public let configuration: WorkerConfiguration
    let registry: JobRegistry
    let ledger: Ledger
    let publisher: JobPublisher
    let results: ResultStore
    /// Follow-up enqueues from running jobs (`JobContext.enqueue`): one producer for the worker.
    let producer: Producer
    let topology: TopologyConfiguration
    let logger: Logger
    let running = RunningJobs()
    /// Pools per (target, class), opened on first use.
    public let pools: TargetPools
    let elector: LeaseElector

    struct Control {
        var drain = WorkerDrain()
        var consumers: [ObjectIdentifier: AMQPConsumer] = [:]
        var stopWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelledWaiters: Set<Int> = []
        var nextWaiter = 0
    }
    let control = Mutex(Control())
    let counters = Mutex(WorkerCounters())
    /// Short runs neither claimed nor recorded yet (Worker+Short): the drain waits for them.
    let unclaimedShortRuns = Mutex(0)
    /// Their thresholds, watched by one task.
    let shortWatch = ShortWatch()

    public init(
        configuration: WorkerConfiguration, registry: JobRegistry, ledger: Ledger, publisher: JobPublisher,
        results: ResultStore, topology: TopologyConfiguration, packJobs: Int = Producer.defaultPackJobs, logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.ledger = ledger
        self.publisher = publisher
        self.results = results
        self.topology = topology
        self.producer = Producer(registry: registry, ledger: ledger, publisher: publisher, results: results, packJobs: packJobs,
                                 logger: logger)
        var logger = logger
        logger[metadataKey: "worker"] = .string(configuration.name)
        self.logger = logger
        var classes: [WorkloadClass: ClassSettings] = [:]
        for c in configuration.classes { classes[c.workloadClass] = c }
        pools = TargetPools(configuration: .init(targets: configuration.targets, classes: classes,
                                                 idleTimeout: configuration.targetIdleTimeout), logger: logger)
        elector = LeaseElector(pool: ledger.pool, schema: ledger.schema, name: "rescue", holder: configuration.name,
                               ttl: max(configuration.rescueInterval * 3, .seconds(3)))
    }

    /// Jobs finished by this worker so far, by outcome.
    public var statistics: WorkerCounters { counters.withLock { $0 } }

    /// Runs until `stop()` or the service group's graceful shutdown (SIGTERM, SIGINT), and the
    /// drain that follows. Throws only when the broker cannot be reached at start.
    ///
    /// The worker runs its result store and its target pools as child tasks rather than as
    /// sibling services: their final flush and close must come after the drain, and only the
    /// worker knows when that is.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.serve()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    func serve() async throws {
        _ = try await publisher.publisher(attempts: 5)
        logger.info("worker started", metadata: ["classes": "\(configuration.classes.map(\.workloadClass.rawValue))"])
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask { await self.results.run() }
            outer.addTask { await self.pools.maintain() }
            outer.addTask { await self.heartbeatLoop() }
            if configuration.rescue { outer.addTask { await self.rescueLoop() } }
            outer.addTask { await self.graceTimer() }
            outer.addTask { await self.shortWatch.run() }
            outer.addTask { await self.timeoutLoop() }
            await withTaskGroup(of: Void.self) { classes in
                for c in configuration.classes {
                    classes.addTask { await self.consume(c) }
                }
            }
            // Every slot has drained.
            _ = control.withLock { $0.drain.slotsDrained() }
            results.finish()
            outer.cancelAll()
        }
        await results.flush()
        if configuration.rescue { try? await elector.release() }
        await pools.close()
        logger.info("worker stopped", metadata: ["jobs.completed": "\(statistics.completed)"])
    }

    /// Stops taking jobs; running jobs get the grace period. Returns at once: each consumer's
    /// watcher closes it (what it had prefetched goes back to the queue).
    public func stop() {
        let waiters = control.withLock { c -> [CheckedContinuation<Void, Never>] in
            guard c.drain.stopRequested() == .closeConsumersAndStartGrace else { return [] }
            defer { c.stopWaiters = [:] }
            return Array(c.stopWaiters.values)
        }
        shortWatch.stop()
        for w in waiters { w.resume() }
    }

    var isStopping: Bool { control.withLock { !$0.drain.acceptsDeliveries } }

    /// Returns once `stop()` was called, or when the calling task is cancelled.
    func waitForStop() async {
        let id = control.withLock { s -> Int in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = control.withLock { s -> Bool in
                    if !s.drain.acceptsDeliveries || s.cancelledWaiters.remove(id) != nil { return true }
                    s.stopWaiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = control.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.stopWaiters.removeValue(forKey: id) { return c }
                if s.drain.acceptsDeliveries { s.cancelledWaiters.insert(id) }
                return nil
            }
            waiter?.resume()
        }
    }

    func graceTimer() async {
        await waitForStop()
        if Task.isCancelled { return }
        logger.info("stopping: waiting for running jobs", metadata: ["jobs.running": "\(running.count)",
                                                                      "grace_ms": "\(configuration.shutdownGrace.milliseconds)"])
        try? await Task.sleep(for: configuration.shutdownGrace)
        if Task.isCancelled { return }
        let n = running.count
        guard control.withLock({ $0.drain.graceElapsed(runningJobs: n) }) == .cancelRunningJobs else { return }
        logger.warning("grace period over: cancelling and requeueing running jobs", metadata: ["jobs.running": "\(n)"])
        running.stopAll(.shutdown)
    }

}
