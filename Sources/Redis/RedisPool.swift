// RedisPool: a few RedisConnections shared by many tasks, reconnecting after Redis comes back.
//
// Connections open lazily, at most `size` at once; a caller waits up to `acquireTimeout` for a
// busy pool. A connection that broke (lost, timed out, protocol error) is discarded when it comes
// back and replaced on next use. While Redis is down, connect attempts back off and callers in
// the backoff window get `.unavailable` immediately. Commands are never retried: a command that
// failed with `.connectionLost` may have run. Pooled connections use `commandTimeout` as their
// socket timeout, which would cut blocking reads (BLPOP, XREAD BLOCK): use
// `RedisBlockingConnection` for those.

import Logging
import Synchronization

/// A pool of Redis connections.
public final class RedisPool: RedisClient, Sendable {
    public let configuration: RedisPoolConfiguration
    private let logger: Logger
    private let state: Mutex<State>
    private let clock = ContinuousClock()

    typealias Machine = RedisPoolStateMachine<RedisConnection>

    private enum WaiterSlot {
        case pending
        case waiting(CheckedContinuation<Machine.Grant, Never>)
        case resolved(Machine.Grant)
    }

    private struct State: ~Copyable {
        var machine: Machine
        var slots: [Int: WaiterSlot] = [:]
        var nextWaiter = 0
    }

    public init(configuration: RedisPoolConfiguration, logger: Logger = Logger(label: "sluice.redis")) {
        precondition(configuration.size > 0, "RedisPool size must be positive")
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "redis.endpoint"] = "\(configuration.connection.endpoint)"
        self.logger = logger
        let gate = ReconnectGate(backoff: configuration.reconnectBackoff, endpoint: configuration.connection.endpoint)
        self.state = Mutex(State(machine: Machine(size: configuration.size, gate: gate)))
    }

    /// A pool of `size` connections to `connection` with default timings.
    public convenience init(connection: RedisConfiguration, size: Int = 4, logger: Logger = Logger(label: "sluice.redis")) {
        self.init(configuration: RedisPoolConfiguration(connection: connection, size: size), logger: logger)
    }

    /// Lends a connection to `body`. If the connection broke during `body`, it is discarded.
    /// Do not keep the connection beyond `body`.
    public func withConnection<T>(_ body: (RedisConnection) async throws -> T) async throws -> T {
        let lease = try await acquire()
        do {
            let result = try await body(lease.connection)
            release(lease)
            return result
        } catch {
            release(lease)
            throw error
        }
    }

    /// Runs one command on a pooled connection. If the connection turns out to have been
    /// closed by the server while idle (found before anything was sent), the command runs on
    /// a fresh connection instead: after a Redis restart the first call succeeds.
    public func send(_ args: [RedisArgument]) async throws(RedisError) -> RESPValue {
        try await withFreshConnectionOnStale { connection throws(RedisError) in try await connection.send(args) }
    }

    /// Runs the commands in one round trip on one pooled connection (see `send` for the retry).
    public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [Result<RESPValue, RedisError>] {
        try await withFreshConnectionOnStale { connection throws(RedisError) in try await connection.pipeline(commands) }
    }

    /// Closes idle connections and fails waiters; connections in use close when returned.
    /// Later calls fail with `.poolClosed`.
    public func close() async {
        let actions = state.withLock { $0.machine.close() }
        perform(actions)
    }

    /// Connections currently open or opening (for `sluice doctor` and tests).
    public var openConnections: Int { state.withLock { $0.machine.open } }

    // MARK: Acquire and release

    /// Runs `body` on a pooled connection; when the connection was found dead before `body`'s
    /// command was written, discards it and runs `body` again (nothing reached the server).
    private func withFreshConnectionOnStale<T: Sendable>(
        _ body: (RedisConnection) async throws(RedisError) -> T
    ) async throws(RedisError) -> T {
        var attempts = 0
        while true {
            attempts += 1
            let lease = try await acquire()
            do {
                let result = try await body(lease.connection)
                release(lease)
                return result
            } catch {
                let retry = lease.connection.failedBeforeSending && attempts <= configuration.size
                release(lease)
                if !retry { throw error }
                logger.debug("redis pooled connection was closed while idle; retrying on a fresh one")
            }
        }
    }

    private func acquire() async throws(RedisError) -> Machine.Lease {
        let now = clock.now
        if let grant = state.withLock({ $0.machine.acquire(now: now) }) {
            return try await fulfil(grant)
        }
        return try await fulfil(await waitForGrant())
    }

    private func fulfil(_ grant: Machine.Grant) async throws(RedisError) -> Machine.Lease {
        switch grant {
        case .use(let lease):
            return lease
        case .fail(let error):
            throw error
        case .connect:
            let connection: RedisConnection
            do {
                connection = try await RedisConnection.connect(configuration: configuration.connection, logger: logger)
            } catch {
                logger.warning("redis connect failed", metadata: ["redis.error": "\(error)"])
                let now = clock.now
                perform(state.withLock { $0.machine.connectFailed(error, now: now) })
                throw error
            }
            guard let lease = state.withLock({ $0.machine.connectSucceeded(connection) }) else {
                connection.closeSoon()
                throw RedisError(.poolClosed, "the Redis pool is closed", endpoint: configuration.connection.endpoint)
            }
            return lease
        }
    }

    private func release(_ lease: Machine.Lease) {
        let broken = lease.connection.brokenReason
        let now = clock.now
        perform(state.withLock { $0.machine.release(lease, broken: broken, now: now) })
    }

    /// Queues this caller and waits for a grant, or for the acquire timeout.
    private func waitForGrant() async -> Machine.Grant {
        let now = clock.now
        let (waiter, immediate) = state.withLock { state -> (Int, Machine.Grant?) in
            state.nextWaiter += 1
            let waiter = state.nextWaiter
            if let grant = state.machine.acquire(waiter: waiter, now: now) { return (waiter, grant) }
            state.slots[waiter] = .pending
            return (waiter, nil)
        }
        if let immediate { return immediate }

        let timeout = configuration.acquireTimeout
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                self.expire(waiter, cancelled: Task.isCancelled)
            }
            let grant = await withCheckedContinuation { (continuation: CheckedContinuation<Machine.Grant, Never>) in
                let ready = state.withLock { state -> Machine.Grant? in
                    switch state.slots[waiter] {
                    case .resolved(let grant):
                        state.slots[waiter] = nil
                        return grant
                    default:
                        state.slots[waiter] = .waiting(continuation)
                        return nil
                    }
                }
                if let ready { continuation.resume(returning: ready) }
            }
            group.cancelAll()
            return grant
        }
    }

    /// The waiter's time is up (or its task was cancelled): fail it if it is still queued.
    private func expire(_ waiter: Int, cancelled: Bool) {
        let endpoint = configuration.connection.endpoint
        let timeout = configuration.acquireTimeout
        let continuation = state.withLock { state -> (CheckedContinuation<Machine.Grant, Never>, Machine.Grant)? in
            guard state.machine.removeWaiter(waiter) else { return nil }
            let error = cancelled
                ? RedisError(.poolTimeout, "cancelled while waiting for a Redis connection", endpoint: endpoint)
                : RedisError(.poolTimeout, "no Redis connection free within \(timeout) (pool size \(configuration.size))",
                             endpoint: endpoint)
            return Self.resolve(waiter, .fail(error), in: &state)
        }
        if let (c, grant) = continuation { c.resume(returning: grant) }
    }

    /// Delivers a grant to a waiter: returns its continuation to resume (outside the lock), or
    /// parks the grant until the waiter installs its continuation.
    private static func resolve(_ waiter: Int, _ grant: Machine.Grant,
                                in state: inout State) -> (CheckedContinuation<Machine.Grant, Never>, Machine.Grant)? {
        switch state.slots[waiter] {
        case .waiting(let continuation):
            state.slots[waiter] = nil
            return (continuation, grant)
        case .pending, .none:
            state.slots[waiter] = .resolved(grant)
            return nil
        case .resolved:
            return nil
        }
    }

    /// Performs what the state machine decided: close connections, resume waiters.
    private func perform(_ actions: Machine.Actions) {
        var resumes: [(CheckedContinuation<Machine.Grant, Never>, Machine.Grant)] = []
        if !actions.resume.isEmpty {
            resumes = state.withLock { state in
                actions.resume.compactMap { Self.resolve($0.waiter, $0.grant, in: &state) }
            }
        }
        for connection in actions.close { connection.closeSoon() }
        for (continuation, grant) in resumes { continuation.resume(returning: grant) }
    }
}
