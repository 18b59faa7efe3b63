// Scheduler: enqueues the catalog's periodic jobs. Any number of replicas may run; the one that
// holds the `LeaseElector` lease fires, every tick, what `dueFires` says is due.
//
// Per tick the leader records the due fires in `schedule_fires` (primary key: schedule and
// fire time) in the same transaction that advances `last_fire` and checks its lease; only the
// fires that insert enqueues, through the Producer with the definition's unique key and a job
// id derived from the fire (`FireJobID`). A leader that dies between the insert and the
// confirm leaves the fire's `job_id` NULL: the next leader finds the job under its derived id
// or enqueues it again, so a failover neither loses nor doubles a fire. The lease is renewed
// every ttl/3; a leader stops firing once its last successful renewal is older than ttl/2.
// Schedule times come from `now` (injectable for tests); lease times are the database's.

import Foundation
import Logging
import ServiceLifecycle
import Postgres
import SluiceCore
import Synchronization

public final class Scheduler: Service, Sendable {
    public let configuration: SchedulerConfiguration
    public let jobs: [ScheduledJob]
    let producer: Producer
    let store: ScheduleStore
    let elector: LeaseElector
    let logger: Logger
    let now: @Sendable () -> Date

    struct Leadership {
        var candidate = true
        var leading = false
        var lastRenewal: ContinuousClock.Instant?
        var stopped = false
        var firesEnqueued = 0
    }
    let state = Mutex(Leadership())

    /// - Parameters:
    ///   - pool: the ledger's database (the schedule tables and the lease live in `schema`).
    ///   - now: the clock schedules are evaluated on.
    public init(
        jobs: [ScheduledJob], configuration: SchedulerConfiguration, pool: PostgresPool, schema: String = "sluice",
        producer: Producer, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) throws(SchedulerError) {
        var seen = Set<String>()
        for j in jobs where !seen.insert(j.name).inserted {
            throw SchedulerError(.duplicateSchedule, "two schedules are named '\(j.name)'")
        }
        self.jobs = jobs
        self.configuration = configuration
        self.producer = producer
        self.store = ScheduleStore(pool: pool, schema: schema)
        self.elector = LeaseElector(pool: pool, schema: schema, name: configuration.leaseName, holder: configuration.name,
                                    ttl: configuration.leaseTTL)
        var logger = logger
        logger[metadataKey: "scheduler"] = "\(configuration.name)"
        self.logger = logger
        self.now = now
    }

    // MARK: Leadership

    /// True while this replica holds a lease it renewed less than ttl/2 ago.
    public var isLeader: Bool {
        state.withLock { s in
            guard s.leading, let r = s.lastRenewal else { return false }
            return ContinuousClock.now - r < configuration.leaseTTL / 2
        }
    }

    /// Fires enqueued by this replica (new jobs and unique-key duplicates) since it started.
    public var firesEnqueued: Int { state.withLock { $0.firesEnqueued } }

    /// Takes or renews the lease when due; returns whether this replica may act now.
    @discardableResult
    public func campaign() async -> Bool {
        let due = state.withLock { s -> Bool in
            guard s.candidate, !s.stopped else { return false }
            guard s.leading, let r = s.lastRenewal else { return true }
            return ContinuousClock.now - r >= configuration.leaseTTL / 3
        }
        if due {
            let started = ContinuousClock.now
            do {
                let held = try await elector.tryAcquire()
                let (gained, lost) = state.withLock { s -> (Bool, Bool) in
                    let was = s.leading
                    // A stepDown while the statement ran wins.
                    guard s.candidate, !s.stopped else { return (false, false) }
                    s.leading = held
                    if held { s.lastRenewal = started }
                    return (!was && held, was && !held)
                }
                if gained { logger.notice("scheduler leads") }
                if lost { logger.warning("scheduler lost the lease to another replica") }
            } catch {
                logger.warning("lease renewal failed", metadata: ["error": "\(error)"])
            }
        }
        let leading = isLeader
        if !leading {
            state.withLock { s in
                if s.leading { logger.warning("scheduler stops firing: its lease is no longer fresh") }
                s.leading = false
            }
        }
        return leading
    }

    /// Gives the lease up and stops campaigning until `standForElection()` (tests, shutdown).
    public func stepDown() async {
        let was = state.withLock { s -> Bool in
            defer { s.candidate = false; s.leading = false; s.lastRenewal = nil }
            return s.leading
        }
        if was {
            do { try await elector.release() } catch { logger.warning("could not release the lease", metadata: ["error": "\(error)"]) }
        }
    }

    /// Campaigns again after `stepDown()`.
    public func standForElection() {
        state.withLock { $0.candidate = true }
    }

    // MARK: The tick

    /// One tick: campaign, then, as leader, re-enqueue unconfirmed fires and fire what is due.
    /// Returns the fires this tick enqueued.
    @discardableResult
    public func tick() async -> Int {
        guard await campaign() else { return 0 }
        var count = 0
        do {
            count += try await recoverPending()
            count += try await fireDue()
        } catch {
            logger.warning("scheduler tick failed", metadata: ["error": "\(error)"])
        }
        return count
    }

    /// Records and enqueues what is due at `now()`.
    func fireDue() async throws -> Int {
        let at = now()
        let active = jobs.filter(\.definition.enabled)
        guard !active.isEmpty else { return 0 }
        let last = try await store.lastFires(active.map(\.name))
        var fires: [ScheduleStore.Fire] = []
        var advance: [String: (last: Date, next: Date?)] = [:]
        var firstNext: [String: Date] = [:]
        for job in active {
            let due = job.definition.dueFires(lastFire: last[job.name], now: at, grace: configuration.grace)
            if let latest = due.last {
                fires += due.map { ScheduleStore.Fire(schedule: job.name, time: $0.fireTime, manual: false) }
                advance[job.name] = (latest.fireTime, job.definition.spec.nextFire(after: at))
            } else if last[job.name] == nil, let next = job.definition.spec.nextFire(after: at) {
                firstNext[job.name] = next
            }
        }
        if !firstNext.isEmpty { try await store.noteNextFires(firstNext) }
        guard !advance.isEmpty else { return 0 }
        guard isLeader else { return 0 }
        guard let inserted = try await store.record(fires, advance: advance, lease: (configuration.leaseName, configuration.name)) else {
            state.withLock { $0.leading = false }
            logger.warning("scheduler's lease expired before it could record fires; standing by")
            return 0
        }
        var count = 0
        let byName = Dictionary(uniqueKeysWithValues: jobs.map { ($0.name, $0) })
        for fire in inserted {
            // A leader that lost its lease leaves the rest to the next one (recovery).
            guard isLeader, let job = byName[fire.schedule] else { break }
            if try await enqueue(job, fire, previousAttempts: 0) != nil { count += 1 }
        }
        return count
    }

    /// Enqueues fires recorded earlier whose enqueue never confirmed.
    func recoverPending() async throws -> Int {
        let pending = try await store.pending(olderThan: configuration.recoveryAge, maxAttempts: configuration.maxEnqueueAttempts)
        guard !pending.isEmpty else { return 0 }
        let byName = Dictionary(uniqueKeysWithValues: jobs.map { ($0.name, $0) })
        var count = 0
        for p in pending {
            guard isLeader else { break }
            guard let job = byName[p.fire.schedule] else { continue }  // removed from the catalog
            logger.notice("re-enqueuing an unconfirmed fire", metadata: ["schedule": "\(p.fire.schedule)", "fire": "\(p.fire.key)"])
            if try await enqueue(job, p.fire, previousAttempts: p.attempts) != nil { count += 1 }
        }
        return count
    }

    // MARK: Running

    /// Ticks until `stop()` or the service group's graceful shutdown; renews the lease on its
    /// own schedule so slow enqueues cannot let it lapse. Releases the lease on the way out so
    /// another replica takes over at once.
    public func run() async {
        await withGracefulShutdownHandler {
            await self.loop()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    private func loop() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !self.isStopped {
                    await self.campaign()
                    await self.pause(min(self.configuration.leaseTTL / 6, self.configuration.tick))
                }
            }
            group.addTask {
                while !self.isStopped {
                    await self.tick()
                    await self.pause(self.configuration.tick)
                }
            }
        }
        await stepDown()
    }

    /// Asks `run()` to return (after the current tick).
    public func stop() {
        state.withLock { $0.stopped = true }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    private func pause(_ d: Duration) async {
        await SluiceRuntime.pause(d) { isStopped }
    }
}
