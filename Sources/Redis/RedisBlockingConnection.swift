// RedisBlockingConnection: a dedicated connection for blocking reads (XREAD BLOCK, BLPOP, BRPOP).
//
// A pooled connection's socket timeout is `commandTimeout`, which would cut a read blocking
// longer than that (the read fails with `.timeout` and the connection breaks); a blocked read
// would also hold a pool slot. This connection sets its socket timeout per call to the block
// time plus `commandTimeout` (none for "block forever", where TCP keepalive notices a dead peer).
// It connects lazily and reconnects on the next call after a failure, with the same backoff as
// the pool. Calls run one at a time: one blocking reader per instance.

import ClientSupport
import Logging
import Synchronization

/// A connection for blocking commands, reconnecting on demand.
public final class RedisBlockingConnection: RedisClient, Sendable {
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let clock = ContinuousClock()

    private struct State {
        var connection: RedisConnection?
        var gate: ReconnectGate
        var closed = false
    }
    private let state: Mutex<State>

    public init(configuration: RedisConfiguration,
                reconnectBackoff: Backoff = Backoff(base: .milliseconds(100), cap: .seconds(5), jitter: 0.5),
                logger: Logger = Logger(label: "sluice.redis")) {
        self.configuration = configuration
        self.logger = logger
        state = Mutex(State(gate: ReconnectGate(backoff: reconnectBackoff, endpoint: configuration.endpoint)))
    }

    /// An ordinary command, bounded by `commandTimeout`.
    public func send(_ args: [RedisArgument]) async throws(RedisError) -> RESPValue {
        try await withLiveConnection { connection throws(RedisError) in try await connection.send(args) }
    }

    public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [Result<RESPValue, RedisError>] {
        try await withLiveConnection { connection throws(RedisError) in try await connection.pipeline(commands) }
    }

    /// A command that blocks on the server for up to `blockFor` (`.zero`: indefinitely); the
    /// socket timeout becomes `blockFor + commandTimeout`.
    public func sendBlocking(_ args: [RedisArgument], blockFor: Duration) async throws(RedisError) -> RESPValue {
        let timeout: Duration? = blockFor == .zero ? nil : blockFor + configuration.commandTimeout
        return try await withLiveConnection { connection throws(RedisError) in
            try await connection.send(args, socketTimeout: timeout)
        }
    }

    /// XREAD [COUNT n] BLOCK ms STREAMS key... id...: waits up to `block` for entries after the
    /// given IDs ("$" for only new ones). Empty when the time passed without entries.
    public func xread(streams: [(key: String, id: String)], count: Int? = nil,
                      block: Duration) async throws(RedisError) -> [(stream: String, entries: [RedisStreamEntry])] {
        guard !streams.isEmpty else { return [] }
        var args: [RedisArgument] = ["XREAD"]
        if let count { args += ["COUNT", RedisArgument(count)] }
        args += ["BLOCK", RedisArgument(block == .zero ? 0 : max(1, block.milliseconds)), "STREAMS"]
        args += streams.map { RedisArgument($0.key) }
        args += streams.map { RedisArgument($0.id) }
        let reply = try await sendBlocking(args, blockFor: block)
        return try RedisStreamEntry.streams(fromXRead: reply)
    }

    /// BLPOP: pops the head of the first non-empty list among `keys`, waiting up to `timeout`
    /// (`.zero`: indefinitely). Nil when the time passed.
    public func blpop(_ keys: [String], timeout: Duration) async throws(RedisError) -> (key: String, value: [UInt8])? {
        try await blockingPop("BLPOP", keys, timeout: timeout)
    }

    /// BRPOP: like `blpop`, from the tail.
    public func brpop(_ keys: [String], timeout: Duration) async throws(RedisError) -> (key: String, value: [UInt8])? {
        try await blockingPop("BRPOP", keys, timeout: timeout)
    }

    /// Closes the connection; later calls fail with `.connectionClosed`.
    public func close() async {
        let connection = state.withLock { state -> RedisConnection? in
            state.closed = true
            defer { state.connection = nil }
            return state.connection
        }
        await connection?.close()
    }

    private func blockingPop(_ command: RedisArgument, _ keys: [String],
                             timeout: Duration) async throws(RedisError) -> (key: String, value: [UInt8])? {
        guard !keys.isEmpty else { return nil }
        var args: [RedisArgument] = [command]
        args += keys.map { RedisArgument($0) }
        // Redis 6+ takes a decimal number of seconds.
        args.append(RedisArgument(timeout == .zero ? 0 : max(0.001, timeout.seconds)))
        let reply = try await sendBlocking(args, blockFor: timeout)
        if reply.isNil { return nil }
        guard let pair = reply.array, pair.count == 2, let key = pair[0].string, let value = pair[1].bytes else {
            throw RedisError(.protocol, "\(command) reply is not [key, value]", endpoint: configuration.endpoint)
        }
        return (key, value)
    }

    /// Runs `body` on the live connection; if the server had closed it while idle (found before
    /// anything was sent), runs `body` once more on a new connection.
    private func withLiveConnection<T: Sendable>(
        _ body: (RedisConnection) async throws(RedisError) -> T
    ) async throws(RedisError) -> T {
        let first = try await connection()
        do {
            return try await body(first)
        } catch where first.failedBeforeSending {
            return try await body(connection())
        }
    }

    /// The live connection, opening one if there is none or the last one broke.
    private func connection() async throws(RedisError) -> RedisConnection {
        let now = clock.now
        let endpoint = configuration.endpoint
        let decision = state.withLock { state -> Result<RedisConnection?, RedisError> in
            if state.closed { return .failure(RedisError(.connectionClosed, "connection closed", endpoint: endpoint)) }
            if let connection = state.connection, !connection.isBroken { return .success(connection) }
            state.connection = nil
            switch state.gate.request(now: now) {
            case .attempt: return .success(nil)
            case .refuse(let error): return .failure(error)
            }
        }
        if let existing = try decision.get() { return existing }
        let connection: RedisConnection
        do {
            connection = try await RedisConnection.connect(configuration: configuration, logger: logger)
        } catch {
            let failedAt = clock.now
            state.withLock { $0.gate.failed(error, now: failedAt) }
            throw error
        }
        let keep = state.withLock { state -> Bool in
            state.gate.succeeded()
            if state.closed { return false }
            state.connection = connection
            return true
        }
        guard keep else {
            connection.closeSoon()
            throw RedisError(.connectionClosed, "connection closed", endpoint: endpoint)
        }
        return connection
    }
}
