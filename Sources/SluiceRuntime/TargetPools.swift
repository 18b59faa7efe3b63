// TargetPools: a worker's Postgres pools, one per (target, class), so one fleet maintains many
// databases. A pool opens on first use with its class's size, role and timeouts, and closes once
// no job has used it for `idleTimeout`; a later job opens it again.
//
// A target whose database is down fails only its own jobs (the pool's connect fails, the job is
// retried with backoff); pools of other targets are separate and keep working. A target this
// worker has no URL for fails its jobs with an error naming the target and what is missing.
// `run()` (a Service) keeps every open pool's health loop running and reaps idle pools; graceful
// shutdown closes them all.

import Foundation
import Logging
import Postgres
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import Synchronization

public final class TargetPools: Service, Sendable {
    /// How a worker reaches one target.
    public enum Connection: Sendable {
        case configured(PostgresConfiguration)
        /// The target is declared but this process cannot reach it (its `url_env` is unset, its
        /// URL is malformed): the reason is shown in the failing job's error.
        case unavailable(String)
    }

    public struct Configuration: Sendable {
        /// Every target by name.
        public var targets: [String: Connection]
        /// Pool size, role and timeouts per class.
        public var classes: [WorkloadClass: ClassSettings]
        /// A pool nobody used for this long is closed. Default 5 min.
        public var idleTimeout: Duration
        /// How long a job waits for a connection of its pool. Default 30 s.
        public var acquireTimeout: Duration

        public init(targets: [String: Connection], classes: [WorkloadClass: ClassSettings],
                    idleTimeout: Duration = .seconds(300), acquireTimeout: Duration = .seconds(30)) {
            self.targets = targets
            self.classes = classes
            self.idleTimeout = idleTimeout
            self.acquireTimeout = acquireTimeout
        }
    }

    /// A job asked for a target this process cannot reach.
    public struct Unavailable: Error, CustomStringConvertible, RetryClassifying {
        public var target: String
        public var reason: String
        public var isRetryable: Bool { true }
        public var description: String { "target '\(target)': \(reason)" }
    }

    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var target: String
        public var workloadClass: WorkloadClass
        public var description: String { "\(target)/\(workloadClass.rawValue)" }
    }

    private struct Open {
        var pool: PostgresPool
        var users = 0
        var lastUsed = ContinuousClock.now
    }

    private struct State {
        var pools: [Key: Open] = [:]
        var closed = false
    }

    public let configuration: Configuration
    private let logger: Logger
    private let state = Mutex(State())
    private let opened: AsyncStream<PostgresPool>.Continuation
    private let openedPools: AsyncStream<PostgresPool>

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        (openedPools, opened) = AsyncStream<PostgresPool>.makeStream()
    }

    /// Runs `body` with the pool of (`target`, `workloadClass`), opening it when needed. The pool
    /// counts as in use (never reaped) until `body` returns.
    public func withPool<T: Sendable>(
        target: String, workloadClass: WorkloadClass, _ body: (PostgresPool) async throws -> T
    ) async throws -> T {
        let key = Key(target: target, workloadClass: workloadClass)
        let pool = try checkOut(key)
        defer { checkIn(key) }
        return try await body(pool)
    }

    /// Open pools and their statistics, for `doctor`, metrics and tests.
    public var statistics: [Key: PostgresPool.Statistics] {
        state.withLock { s in s.pools.mapValues { $0.pool.statistics } }
    }

    private func checkOut(_ key: Key) throws -> PostgresPool {
        let connection: PostgresConfiguration
        switch configuration.targets[key.target] {
        case .configured(let c)?: connection = c
        case .unavailable(let reason)?: throw Unavailable(target: key.target, reason: reason)
        case nil: throw Unavailable(target: key.target, reason: "not declared in this worker's catalog")
        }
        let (pool, isNew) = try state.withLock { s throws -> (PostgresPool, Bool) in
            if s.closed { throw Unavailable(target: key.target, reason: "the worker is shutting down") }
            if var open = s.pools[key] {
                open.users += 1
                open.lastUsed = .now
                s.pools[key] = open
                return (open.pool, false)
            }
            let settings = configuration.classes[key.workloadClass] ?? ClassSettings.defaults(for: key.workloadClass)
            let pool = PostgresPool(configuration: Self.poolConfiguration(connection, settings: settings, target: key.target,
                                                                         acquireTimeout: configuration.acquireTimeout),
                                    logger: logger)
            s.pools[key] = Open(pool: pool, users: 1)
            return (pool, true)
        }
        if isNew {
            logger.info("opened a target pool", metadata: ["db.target": "\(key.target)", "class": "\(key.workloadClass.rawValue)"])
            opened.yield(pool)
        }
        return pool
    }

    private func checkIn(_ key: Key) {
        state.withLock { s in
            guard var open = s.pools[key] else { return }
            open.users -= 1
            open.lastUsed = .now
            s.pools[key] = open
        }
    }

    /// The pool configuration of one class on one target.
    public static func poolConfiguration(
        _ connection: PostgresConfiguration, settings c: ClassSettings, target: String, acquireTimeout: Duration = .seconds(30)
    ) -> PostgresPool.Configuration {
        var connection = connection
        connection.statementTimeout = c.statementTimeout
        connection.lockTimeout = c.lockTimeout
        connection.role = c.role?.rawValue
        if c.readOnly { connection.settings["default_transaction_read_only"] = "on" }
        connection.settings.merge(c.sessionSettings) { $1 }
        connection.applicationName = "sluice-worker-\(c.workloadClass.rawValue)"
        return PostgresPool.Configuration(connection: connection, minConnections: 0, maxConnections: max(1, c.poolSize),
                                          acquireTimeout: acquireTimeout)
    }

    /// As a Service: keeps open pools healthy and closes idle ones until graceful shutdown, then
    /// closes all.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await self.maintain()
        } onGracefulShutdown: {
            self.opened.finish()
        }
        await close()
    }

    /// Keeps every open pool's health loop running and reaps idle pools until the task is
    /// cancelled (or `close()`); closes nothing on its way out. A worker runs this as a child
    /// task and closes the pools itself once its jobs have drained.
    public func maintain() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.reapLoop() }
            for await pool in openedPools {
                group.addTask { await pool.run() }
            }
            group.cancelAll()
        }
    }

    /// Closes every pool; later `withPool` calls fail.
    public func close() async {
        let pools = state.withLock { s -> [PostgresPool] in
            s.closed = true
            defer { s.pools = [:] }
            return s.pools.values.map(\.pool)
        }
        opened.finish()
        for pool in pools { await pool.close() }
    }

    private func reapLoop() async {
        let interval = min(configuration.idleTimeout / 2, .seconds(30))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let now = ContinuousClock.now
            let idle = state.withLock { s -> [(Key, PostgresPool)] in
                let keys = s.pools.filter { $0.value.users == 0 && now - $0.value.lastUsed >= configuration.idleTimeout }.map(\.key)
                return keys.map { k in (k, s.pools.removeValue(forKey: k)!.pool) }
            }
            for (key, pool) in idle {
                logger.info("closed an idle target pool", metadata: ["db.target": "\(key.target)", "class": "\(key.workloadClass.rawValue)"])
                await pool.close()
            }
        }
    }
}
