// Assembly: the composition root. A process is the `Runtime` (home pool, ledger, Redis,
// result store, publisher, producer) plus the roles it plays: worker, scheduler, pruner, and
// the roles other modules attach (the API, SluiceHTTP's `APIRole`; a metrics port,
// SluiceMetricsServer's `MetricsRole`). `sluice worker`, `sluice scheduler`, `sluice api`, the
// benches and the test harnesses all build their processes here, so a role is wired one way.
//
// Building is synchronous and throws: a role that cannot be built (a scheduler with two
// schedules of one name, an API whose port option is bad) stops the start with an
// `AssemblyError` naming the role; nothing is dropped silently. `run` migrates the ledger,
// then runs every role as a Service in the runtime's ServiceGroup (SIGTERM / SIGINT drain
// them in reverse order: the scheduler steps down first, then the pruner, the worker drains,
// and the attached roles stop last, so a metrics port still answers while the worker drains).

import Logging
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import SluiceMetrics
import Synchronization
import UnixSignals

/// The roles of one process. Every role is optional: `sluice enqueue` plays none.
public struct ProcessRoles: Sendable {
    /// Consume and run jobs of these classes.
    public var worker: WorkerConfiguration?
    /// The catalog's schedules: fired by a leader when `lead` (`sluice scheduler`), or only
    /// listed and fired on request (`sluice api`: `GET /v1/schedules`, `POST …/run`).
    public var schedules: ScheduleRole?
    /// Apply the catalog's retention when holding the pruner's lease.
    public var pruner: PrunerConfiguration?
    /// Where the worker and the pruner record, and what a metrics role serves. Nil: nothing is
    /// recorded.
    public var metrics: MetricsRegistry?
    /// Roles of modules above the runtime (the API, a metrics port), built after the others
    /// from the assembled process; they start first and so stop last.
    public var attached: [any AttachedRole]

    public init(worker: WorkerConfiguration? = nil, schedules: ScheduleRole? = nil, pruner: PrunerConfiguration? = nil,
                metrics: MetricsRegistry? = nil, attached: [any AttachedRole] = []) {
        self.worker = worker
        self.schedules = schedules
        self.pruner = pruner
        self.metrics = metrics
        self.attached = attached
    }
}

public struct ScheduleRole: Sendable {
    public var jobs: [ScheduledJob]
    public var configuration: SchedulerConfiguration
    /// Compete for the scheduler's lease and fire due schedules (false: a handle only).
    public var lead: Bool

    public init(jobs: [ScheduledJob], configuration: SchedulerConfiguration = SchedulerConfiguration(), lead: Bool = true) {
        self.jobs = jobs
        self.configuration = configuration
        self.lead = lead
    }
}

/// A role defined above the runtime: it makes its Service from the roles built before it.
public protocol AttachedRole: Sendable {
    /// The role's name in an `AssemblyError` (`api`, `metrics`).
    var name: String { get }
    func service(for roles: AssembledRoles) throws -> any Service
}

/// A role that could not be built: the process does not start.
public struct AssemblyError: Error, CustomStringConvertible, Sendable {
    public var role: String
    public var reason: String
    public init(role: String, reason: String) {
        self.role = role
        self.reason = reason
    }
    public var description: String { "the \(role) cannot start: \(reason)" }
}

/// The runtime's own roles once built: what an attached role (the API, a metrics port) reads.
public struct AssembledRoles: Sendable {
    public let runtime: Runtime
    public let worker: Worker?
    /// The schedules (leading or a handle only: see `ScheduleRole.lead`).
    public let scheduler: Scheduler?
    /// True when the scheduler competes for the lease.
    public let leads: Bool
    public let pruner: Pruner?
    public let metrics: MetricsRegistry?

    /// Sets the gauges a scrape reads rather than counts: running jobs and pool connections of
    /// the worker, the scheduler's leadership and last fires. Best effort: a server that does
    /// not answer leaves the last values.
    public func refreshGauges(_ jobs: JobMetrics) async {
        if let worker {
            let running = (try? await runtime.ledger.running(worker: worker.configuration.name)) ?? [:]
            for c in worker.configuration.classes.map(\.workloadClass) {
                let r = running[c.rawValue]
                jobs.running(workloadClass: c.rawValue, count: r?.count ?? 0, oldestLeaseAge: r?.oldest)
            }
            for (key, stats) in worker.pools.statistics {
                jobs.pool(target: key.target, workloadClass: key.workloadClass.rawValue, inUse: stats.leased, idle: stats.idle,
                          waiting: stats.waiting)
            }
        }
        if let scheduler, leads {
            jobs.schedulerLeader(scheduler.isLeader)
            for status in (try? await scheduler.status()) ?? [] {
                if let last = status.lastFire { jobs.scheduleFired(status.name, at: last) }
            }
        }
    }
}

/// One process: the runtime and its roles, built once.
public final class AssembledProcess: Sendable {
    public let roles: AssembledRoles
    /// Every role's Service, in start order: attached roles, worker, pruner, scheduler (the
    /// ServiceGroup stops them in reverse: the attached servers last, after the drain).
    public let services: [any Service]

    public var runtime: Runtime { roles.runtime }
    public var worker: Worker? { roles.worker }
    public var scheduler: Scheduler? { roles.scheduler }
    public var pruner: Pruner? { roles.pruner }

    public init(runtime: Runtime, roles wanted: ProcessRoles) throws(AssemblyError) {
        var own: [any Service] = []
        var worker: Worker?
        if var configuration = wanted.worker {
            if configuration.metrics == nil { configuration.metrics = wanted.metrics?.jobs }
            worker = runtime.makeWorker(configuration)
            own.append(worker!)
        }
        var pruner: Pruner?
        if var configuration = wanted.pruner {
            if configuration.metrics == nil { configuration.metrics = wanted.metrics?.jobs }
            pruner = Pruner(configuration: configuration, ledger: runtime.ledger, logger: runtime.logger)
            own.append(pruner!)
        }
        var scheduler: Scheduler?
        if let role = wanted.schedules {
            do {
                scheduler = try runtime.makeScheduler(jobs: role.jobs, configuration: role.configuration)
            } catch {
                throw AssemblyError(role: "scheduler", reason: "\(error)")
            }
            if role.lead { own.append(scheduler!) }
        }
        let roles = AssembledRoles(runtime: runtime, worker: worker, scheduler: scheduler, leads: wanted.schedules?.lead ?? false,
                                   pruner: pruner, metrics: wanted.metrics)
        var attached: [any Service] = []
        for role in wanted.attached {
            do {
                attached.append(try role.service(for: roles))
            } catch let e as AssemblyError {
                throw e
            } catch {
                throw AssemblyError(role: role.name, reason: "\(error)")
            }
        }
        self.roles = roles
        services = attached + own
    }

    /// Migrates the ledger (every role needs it); `run` does it when not done before.
    public func prepare() async throws {
        guard !prepared.withLock({ $0 }) else { return }
        try await runtime.ledger.migrate()
        prepared.withLock { $0 = true }
    }

    private let prepared = Mutex(false)

    /// Prepares, then runs every role until they end or a signal drains them; closes the
    /// runtime's clients afterwards (also when preparing fails). `signals: []` leaves signals
    /// alone (tests, benches).
    public func run(signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        do {
            try await prepare()
        } catch {
            await runtime.close()
            throw error
        }
        try await runtime.run(services, signals: signals)
    }
}
