// PostgresPool: a bounded set of connections shared by tasks, with per-pool session settings.
//
// Connections open lazily up to `maxConnections`; `warmUp()` (and `run()`) keep
// `minConnections` open. Waiters are served first come, first served and give up after
// `acquireTimeout` with `.poolTimeout`. A connection that broke, or whose user failed with a
// connection-level error, is discarded and replaced on demand; one idle for a while is checked
// with `SELECT 1` before it is handed out. Decisions are made by `PostgresPoolStateMachine`
// under a Mutex; this type only performs them. Every task that waits, connects or closes does
// so itself: the pool starts no background tasks (`run()` is for the owner's service group).

import Foundation
import Logging
import Synchronization

/// A pool of Postgres connections.
public final class PostgresPool: Sendable {
    /// Pool sizing and timing, plus the connection (and session) configuration.
    public struct Configuration: Sendable {
        /// Server and session settings (statement_timeout, lock_timeout, role, application_name…)
        /// applied to every connection of the pool.
        public var connection: PostgresConfiguration
        /// Connections `warmUp()` / `run()` keep open. Default 0.
        public var minConnections: Int
        /// Upper bound on open connections. Default 10.
        public var maxConnections: Int
        /// How long `acquire` waits for a connection when all are in use. Default 10 s.
        public var acquireTimeout: Duration
        /// A connection idle longer than this is checked with `SELECT 1` before use. Default 30 s.
        public var validateAfterIdle: Duration
        /// `run()` closes idle connections above the minimum after this long. Default 5 min;
        /// nil keeps them.
        public var idleTimeout: Duration?
        /// How often `run()` tops up to the minimum and prunes idle connections. Default 30 s.
        public var healthCheckInterval: Duration

        public init(
            connection: PostgresConfiguration, minConnections: Int = 0, maxConnections: Int = 10,
            acquireTimeout: Duration = .seconds(10), validateAfterIdle: Duration = .seconds(30),
            idleTimeout: Duration? = .seconds(300), healthCheckInterval: Duration = .seconds(30)
        ) {
            self.connection = connection
            self.minConnections = minConnections
            self.maxConnections = maxConnections
            self.acquireTimeout = acquireTimeout
            self.validateAfterIdle = validateAfterIdle
            self.idleTimeout = idleTimeout
            self.healthCheckInterval = healthCheckInterval
        }
    }

    /// A snapshot of the pool's connections and waiters.
    public struct Statistics: Sendable, Equatable {
        public var idle: Int
        public var leased: Int
        public var opening: Int
        public var waiting: Int
    }

    private enum Lease {
        case connection(PostgresConnection, validate: Bool)
        case open
    }

    private struct State {
        var machine: PostgresPoolStateMachine<PostgresConnection>
        var continuations: [Int: CheckedContinuation<Lease, Error>] = [:]
        /// Outcomes decided for waiters whose continuation was not registered yet.
        var early: [Int: Result<Lease, Error>] = [:]
        var nextWaiterID = 0
    }

    public let configuration: Configuration
    private let state: Mutex<State>
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        precondition(configuration.maxConnections >= 1, "maxConnections must be at least 1")
        precondition(configuration.minConnections >= 0 && configuration.minConnections <= configuration.maxConnections,
                     "minConnections must be between 0 and maxConnections")
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "db.endpoint"] = "\(configuration.connection.endpoint)"
        self.logger = logger
        let limits = PostgresPoolStateMachine<PostgresConnection>.Limits(
            minConnections: configuration.minConnections, maxConnections: configuration.maxConnections,
            validateAfterIdle: configuration.validateAfterIdle, idleTimeout: configuration.idleTimeout)
        state = Mutex(State(machine: PostgresPoolStateMachine(limits: limits)))
    }

    public var statistics: Statistics {
        state.withLock { s in
            let c = s.machine.counts
            return Statistics(idle: c.idle, leased: c.leased, opening: c.opening, waiting: c.waiting)
        }
    }

    // MARK: Using connections

    /// Runs `body` with a pooled connection and returns it to the pool afterwards. If the
    /// connection broke or `body` threw a connection-level error, the connection is discarded
    /// (and replaced on demand); an open transaction left behind is rolled back.
    public nonisolated(nonsending) func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await acquire()
        let value: T
        do {
            value = try await body(connection)
        } catch {
            await release(connection, after: error)
            throw error
        }
        await release(connection)
        return value
    }

    /// Takes a connection out of the pool; give it back with `release`. Prefer `withConnection`.
    public func acquire() async throws(PostgresError) -> PostgresConnection {
        let deadline = ContinuousClock.now + configuration.acquireTimeout
        while true {
            let lease = try await nextLease(deadline: deadline)
            switch lease {
            case .open:
                let connection: PostgresConnection
                do {
                    connection = try await PostgresConnection.connect(configuration.connection, logger: logger)
                } catch {
                    let actions = state.withLock { $0.machine.openFailed() }
                    await perform(actions)
                    throw error
                }
                guard state.withLock({ $0.machine.opened() }) else {
                    await connection.close()
                    throw PostgresError(.poolClosed, message: "the pool was closed", endpoint: configuration.connection.endpoint)
                }
                return connection
            case .connection(let connection, let validate):
                if !validate { return connection }
                do {
                    _ = try await connection.perform(honourCancellation: false) { handle throws(PostgresError) in
                        try handle.exec("SELECT 1", [])
                    }
                    return connection
                } catch {
                    logger.info("postgres pooled connection failed validation; replacing it: \(error)")
                    await release(connection, reusable: false)
                }
            }
        }
    }

    /// Returns a connection taken with `acquire`. `error` is what its user failed with, if
    /// anything: a connection-level error (or 25006 on a read-write session) discards the
    /// connection.
    public func release(_ connection: PostgresConnection, after error: (any Error)? = nil) async {
        var reusable = !connection.isBroken
        if let e = error as? PostgresError {
            if e.isConnectionError { reusable = false }
            // A read-write session told "read-only transaction" sits on a standby now: reconnect
            // (libpq's target_session_attrs=read-write then finds the primary).
            if e.isReadOnlyTransaction && configuration.connection.settings["default_transaction_read_only"] != "on" {
                reusable = false
            }
        }
        if reusable && connection.isInTransaction {
            await connection.rollback()
            reusable = !connection.isBroken && !connection.isInTransaction
        }
        await release(connection, reusable: reusable)
    }

    private func release(_ connection: PostgresConnection, reusable: Bool) async {
        if !reusable { logger.debug("postgres pool discards a connection", metadata: ["db.backend_pid": "\(connection.backendPID)"]) }
        let actions = state.withLock { $0.machine.release(connection, reusable: reusable, now: .now) }
        await perform(actions)
    }

    // MARK: Lifecycle

    /// Opens connections until `minConnections` are open. Throws the first failure after
    /// trying all of them.
    public func warmUp() async throws(PostgresError) {
        let count = state.withLock { $0.machine.warmUp() }
        var firstError: PostgresError?
        for _ in 0..<count {
            do {
                let connection = try await PostgresConnection.connect(configuration.connection, logger: logger)
                let actions = state.withLock { $0.machine.warmOpened(connection, now: .now) }
                await perform(actions)
            } catch {
                let actions = state.withLock { $0.machine.openFailed() }
                await perform(actions)
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    /// Keeps the pool healthy until the task is cancelled or the pool closes: every
    /// `healthCheckInterval`, tops up to `minConnections` and closes connections idle longer
    /// than `idleTimeout`. Run it in the owner's service group.
    public func run() async {
        while !Task.isCancelled && !state.withLock({ $0.machine.isClosed }) {
            do {
                try await warmUp()
            } catch {
                logger.warning("postgres pool could not open its minimum connections: \(error)")
            }
            let stale = state.withLock { $0.machine.pruneIdle(now: .now) }
            for connection in stale { await connection.close() }
            try? await Task.sleep(for: configuration.healthCheckInterval)
        }
    }

    /// Closes idle connections and fails waiters; later acquires fail with `.poolClosed`.
    /// Leased connections are closed when they come back.
    public func close() async {
        let actions = state.withLock { $0.machine.close() }
        await perform(actions)
    }

    // MARK: Waiting

    private func nextLease(deadline: ContinuousClock.Instant) async throws(PostgresError) -> Lease {
        if Task.isCancelled {
            throw PostgresError(.cancelled, message: "the task was cancelled while acquiring a connection")
        }
        let (id, decision) = state.withLock { s in
            s.nextWaiterID += 1
            return (s.nextWaiterID, s.machine.acquire(waiter: s.nextWaiterID, now: .now))
        }
        switch decision {
        case .lease(let connection, let validate): return .connection(connection, validate: validate)
        case .open: return .open
        case .fail(let error): throw error
        case .wait: break
        }
        // Queued. Wait for a hand-over, a nomination, the deadline or cancellation, whichever
        // comes first. The timer is a child task, so nothing outlives this call.
        let timeout = configuration.acquireTimeout
        do {
            return try await withThrowingTaskGroup(of: Void.self, returning: Lease.self) { group in
                group.addTask {
                    do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
                    self.giveUp(id, error: PostgresError(
                        .poolTimeout, message: "no connection became available within \(timeout)",
                        endpoint: self.configuration.connection.endpoint))
                }
                defer { group.cancelAll() }
                return try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, Error>) in
                        let early: Result<Lease, Error>? = state.withLock { s in
                            if let result = s.early.removeValue(forKey: id) { return result }
                            s.continuations[id] = continuation
                            return nil
                        }
                        if let early { continuation.resume(with: early) }
                    }
                } onCancel: {
                    self.giveUp(id, error: PostgresError(.cancelled, message: "the task was cancelled while acquiring a connection"))
                }
            }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.cancelled, message: "acquiring a connection failed: \(error)")
        }
    }

    /// Resumes waiter `id` with `error` if it is still waiting (timeout or cancellation).
    private func giveUp(_ id: Int, error: PostgresError) {
        let continuation: CheckedContinuation<Lease, Error>? = state.withLock { s in
            guard s.machine.removeWaiter(id) else { return nil }
            guard let c = s.continuations.removeValue(forKey: id) else {
                s.early[id] = .failure(error)
                return nil
            }
            return c
        }
        continuation?.resume(throwing: error)
    }

    /// Performs the machine's decisions: resume waiters, close connections.
    private func perform(_ actions: PostgresPoolStateMachine<PostgresConnection>.Actions) async {
        guard !actions.isEmpty else { return }
        var outcomes: [(Int, Result<Lease, Error>)] = []
        for (waiter, connection) in actions.handOver { outcomes.append((waiter, .success(.connection(connection, validate: false)))) }
        for waiter in actions.nominate { outcomes.append((waiter, .success(.open))) }
        for (waiter, error) in actions.fail { outcomes.append((waiter, .failure(error))) }
        let resumes: [(CheckedContinuation<Lease, Error>, Result<Lease, Error>)] = state.withLock { s in
            var list: [(CheckedContinuation<Lease, Error>, Result<Lease, Error>)] = []
            for (waiter, outcome) in outcomes {
                if let c = s.continuations.removeValue(forKey: waiter) {
                    list.append((c, outcome))
                } else {
                    s.early[waiter] = outcome
                }
            }
            return list
        }
        for (continuation, result) in resumes { continuation.resume(with: result) }
        for connection in actions.close { await connection.close() }
    }
}
