// RedisConnection: one hiredis connection, driven from its own I/O thread.
//
// Every hiredis call blocks, so the context lives on a dedicated `IOThread` and async callers
// suspend while it works. Commands are encoded by `RESPEncoder` into one buffer and handed to
// hiredis with `redisAppendFormattedCommand`; replies are read with `redisGetReply`. Any
// hiredis-level failure (NULL reply, `c->err` set: EOF, I/O error, timeout, protocol error)
// frees the context and marks the connection broken for good: make a new one (RedisPool does).
// A command cannot be cancelled once sent; `commandTimeout` bounds it.

import CHiredis
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ClientSupport
import Logging
import Synchronization

/// A single connection to Redis. Commands from concurrent callers run one at a time, in order.
public final class RedisConnection: RedisClient, @unchecked Sendable {
    // @unchecked Sendable: `context`, `encoder`, `socketTimeout` and `failure` are read and
    // written only by work items running on `thread` (one at a time), or in `deinit`, when no
    // work item can hold a reference any more. `brokenState` is a Mutex. The rest is immutable.

    public let configuration: RedisConfiguration
    private let logger: Logger
    private let thread: IOThread
    private let endpoint: String

    private var context: UnsafeMutablePointer<redisContext>?
    private var encoder = RESPEncoder()
    /// The socket timeout currently set on the context (nil: none, blocks forever).
    private var socketTimeout: Duration?
    /// Why `context` is gone: set once, when the connection breaks or closes.
    private var failure: RedisError?

    private struct Broken {
        var error: RedisError?
        /// The connection was found dead before a command was written: retrying is safe.
        var beforeSending = false
    }
    private let brokenState = Mutex(Broken())

    private init(configuration: RedisConfiguration, logger: Logger) {
        self.configuration = configuration
        self.endpoint = configuration.endpoint
        var logger = logger
        logger[metadataKey: "redis.endpoint"] = "\(configuration.endpoint)"
        self.logger = logger
        self.thread = IOThread(name: "redis \(configuration.endpoint)")
    }

    deinit {
        if let context { CHiredis_free(context) }
        thread.shutdown()
    }

    /// Connects, authenticates (AUTH, with the user name when given), selects the database and
    /// sets the client name, all within `connectTimeout` + `commandTimeout`.
    ///
    /// With Sentinel (`configuration.masterName`), asks each Sentinel in turn for the master's
    /// address (`SENTINEL get-master-addr-by-name`), connects there and checks with `ROLE` that
    /// it really is a master (a Sentinel may still name an old master for a moment after a
    /// failover); the next Sentinel is asked on any error.
    public static func connect(configuration: RedisConfiguration,
                               logger: Logger = Logger(label: "sluice.redis")) async throws(RedisError) -> RedisConnection {
        if let masterName = configuration.masterName {
            return try await connectThroughSentinel(configuration, masterName: masterName, logger: logger)
        }
        try configuration.validate()
        let connection = RedisConnection(configuration: configuration, logger: logger)
        do {
            try await connection.onThread { () throws(RedisError) in try connection.open() }
        } catch {
            connection.thread.shutdown()
            throw error
        }
        logger.debug("redis connected", metadata: ["redis.endpoint": "\(configuration.endpoint)"])
        return connection
    }

    private static func connectThroughSentinel(_ configuration: RedisConfiguration, masterName: String,
                                               logger: Logger) async throws(RedisError) -> RedisConnection {
        var lastError = RedisError(.unavailable, "no Sentinel configured for master '\(masterName)'")
        for sentinel in configuration.sentinels {
            let sentinelConfiguration = RedisConfiguration(
                host: sentinel.host, port: sentinel.port, connectTimeout: configuration.connectTimeout,
                commandTimeout: configuration.commandTimeout)
            do throws(RedisError) {
                let s = try await connect(configuration: sentinelConfiguration, logger: logger)
                let reply: RESPValue
                do throws(RedisError) {
                    reply = try await s.send(["SENTINEL", "get-master-addr-by-name", RedisArgument(masterName)])
                } catch {
                    await s.close()
                    throw error
                }
                await s.close()
                guard let pair = reply.array, pair.count == 2, let host = pair[0].string, let port = pair[1].int else {
                    throw RedisError(.unavailable, "Sentinel knows no master named '\(masterName)'",
                                     endpoint: sentinelConfiguration.endpoint)
                }
                var master = configuration
                master.host = host
                master.port = port
                master.masterName = nil
                master.sentinels = []
                let connection = try await connect(configuration: master, logger: logger)
                let role = try? await connection.send(["ROLE"])
                guard role?.array?.first?.string == "master" else {
                    await connection.close()
                    throw RedisError(.unavailable, "Sentinel named \(master.endpoint) as master '\(masterName)', but it is not one (yet)",
                                     endpoint: master.endpoint)
                }
                return connection
            } catch {
                logger.info("redis Sentinel could not give a master; asking the next", metadata: [
                    "redis.sentinel": "\(sentinelConfiguration.endpoint)", "redis.error": "\(error)"])
                lastError = error
            }
        }
        throw lastError
    }

    /// True once the connection has failed or been closed; it never recovers.
    public var isBroken: Bool { brokenState.withLock { $0.error != nil } }

    /// The error that broke the connection (or `.connectionClosed` after `close()`).
    public var brokenReason: RedisError? { brokenState.withLock { $0.error } }

    /// True when the connection broke because the server had closed it while it was idle,
    /// detected before the command was written: nothing reached the server, so the pool may
    /// safely run the command again on a fresh connection.
    var failedBeforeSending: Bool { brokenState.withLock { $0.error != nil && $0.beforeSending } }

    // MARK: Commands

    /// Sends one command and returns its reply; an error reply is thrown as `.server`
    /// (`.authenticationFailed` for NOAUTH/WRONGPASS).
    public func send(_ args: [RedisArgument]) async throws(RedisError) -> RESPValue {
        try await send(args, socketTimeout: configuration.commandTimeout)
    }

    /// Sends all commands in one write and reads all replies in one go on the I/O thread.
    /// Server errors are per reply; a connection failure fails the whole call (and some of the
    /// commands may have run).
    public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [Result<RESPValue, RedisError>] {
        if commands.isEmpty { return [] }
        let timeout = configuration.commandTimeout
        return try await onThread { () throws(RedisError) in try self.executePipeline(commands, timeout: timeout) }
    }

    /// One command with an explicit socket timeout (nil: wait forever); used for blocking reads.
    func send(_ args: [RedisArgument], socketTimeout timeout: Duration?) async throws(RedisError) -> RESPValue {
        guard !args.isEmpty else {
            throw RedisError(.invalidConfiguration, "a command needs at least its name", endpoint: endpoint)
        }
        let reply = try await onThread { () throws(RedisError) in try self.executeOne(args, timeout: timeout) }
        if case .error(let error) = reply { throw error }
        return reply
    }

    /// Closes the socket. Later commands fail with `.connectionClosed`.
    public func close() async {
        _ = try? await onThread { () throws(RedisError) in
            self.drop(RedisError(.connectionClosed, "connection closed", endpoint: self.endpoint))
        }
        thread.shutdown()
    }

    /// Closes without waiting: the socket is freed on the I/O thread after queued work.
    func closeSoon() {
        thread.execute { self.drop(RedisError(.connectionClosed, "connection closed", endpoint: self.endpoint)) }
        thread.shutdown()
    }

    // MARK: I/O thread

    /// Runs `body` on the I/O thread, translating a stopped thread into `.connectionClosed`.
    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws(RedisError) -> T) async throws(RedisError) -> T {
        let result: Result<T, RedisError>
        do {
            result = try await thread.run { Result<T, RedisError>(catching: body) }
        } catch {
            throw brokenReason ?? RedisError(.connectionClosed, "connection closed", endpoint: endpoint)
        }
        return try result.get()
    }

    private func open() throws(RedisError) {
        let timeoutMs = Int64(configuration.connectTimeout.milliseconds)
        guard let ctx = CHiredis_connect(configuration.host, Int32(configuration.port), max(1, timeoutMs)) else {
            throw RedisError(.connectionFailed, "cannot allocate a hiredis context", endpoint: endpoint)
        }
        if ctx.pointee.err != 0 {
            let error = contextError(ctx, stage: .connect)
            CHiredis_free(ctx)
            throw error
        }
        context = ctx
        guard CHiredis_installReplyFunctions(ctx) == 0 else {
            drop(RedisError(.connectionFailed, "out of memory", endpoint: endpoint))
            throw failure!
        }
        _ = redisEnableKeepAlive(ctx)
        try setSocketTimeout(configuration.commandTimeout)
        try handshake()
    }

    /// AUTH, SELECT and CLIENT SETNAME pipelined in one round trip (PING when none applies, so a
    /// server that accepts TCP but never answers is caught here).
    private func handshake() throws(RedisError) {
        enum Step { case auth, select, setName, ping }
        var steps: [Step] = []
        var commands: [[RedisArgument]] = []
        if let password = configuration.password {
            steps.append(.auth)
            if let user = configuration.username {
                commands.append(["AUTH", RedisArgument(user), RedisArgument(password)])
            } else {
                commands.append(["AUTH", RedisArgument(password)])
            }
        }
        if configuration.database != 0 {
            steps.append(.select)
            commands.append(["SELECT", RedisArgument(configuration.database)])
        }
        if let name = configuration.clientName {
            steps.append(.setName)
            commands.append(["CLIENT", "SETNAME", RedisArgument(name)])
        }
        if commands.isEmpty {
            steps.append(.ping)
            commands.append(["PING"])
        }
        let replies = try executePipeline(commands, timeout: configuration.commandTimeout, stage: .handshake)
        for (step, reply) in zip(steps, replies) {
            guard case .failure(let error) = reply else { continue }
            let failure: RedisError
            switch step {
            case .auth:
                failure = RedisError(.authenticationFailed, "AUTH failed: \(error.message)", endpoint: endpoint)
            case .select where error.code == .authenticationFailed,
                 .setName where error.code == .authenticationFailed,
                 .ping where error.code == .authenticationFailed:
                failure = RedisError(.authenticationFailed,
                                     "the server requires a password: \(error.message)", endpoint: endpoint)
            case .select:
                failure = RedisError(.invalidConfiguration,
                                     "SELECT \(configuration.database) failed: \(error.message)", endpoint: endpoint)
            case .setName:
                failure = RedisError(.invalidConfiguration, "CLIENT SETNAME failed: \(error.message)", endpoint: endpoint)
            case .ping:
                failure = RedisError(.connectionFailed, "PING failed: \(error.message)", endpoint: endpoint)
            }
            drop(failure)
            throw failure
        }
    }

    private func liveContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        guard let context else {
            throw failure ?? RedisError(.connectionClosed, "connection closed", endpoint: endpoint)
        }
        return context
    }

    private func setSocketTimeout(_ timeout: Duration?) throws(RedisError) {
        let ctx = try liveContext()
        if socketTimeout == timeout { return }
        let ms = timeout.map { Int64(max(1, $0.milliseconds)) } ?? 0
        guard CHiredis_setTimeout(ctx, ms) == REDIS_OK else {
            throw breakConnection(stage: .command)
        }
        socketTimeout = timeout
    }

    private func executeOne(_ args: [RedisArgument], timeout: Duration?) throws(RedisError) -> RESPValue {
        let ctx = try liveContext()
        try checkNotClosedByPeer(ctx)
        try setSocketTimeout(timeout)
        encoder.reset()
        encoder.append(command: args)
        try appendEncoded(ctx)
        let reply = try readReply(ctx, stage: .command)
        if case .error(let error) = reply { dropIfReplica(error) }
        return reply
    }

    /// A server that answers READONLY was demoted to a replica (a Sentinel failover): this
    /// connection can no longer write. Break it, so that the pool connects anew (through
    /// Sentinel when configured) instead of failing every write on it.
    private func dropIfReplica(_ error: RedisError) {
        guard error.code == .server, error.message.hasPrefix("READONLY") else { return }
        logger.warning("redis server is a replica now; dropping the connection", metadata: ["redis.error": "\(error)"])
        drop(RedisError(.connectionLost, "the server became a replica (READONLY)", endpoint: endpoint))
    }

    private func executePipeline(_ commands: [[RedisArgument]], timeout: Duration?,
                                 stage: RedisError.Stage = .command) throws(RedisError) -> [Result<RESPValue, RedisError>] {
        let ctx = try liveContext()
        if stage == .command { try checkNotClosedByPeer(ctx) }
        try setSocketTimeout(timeout)
        encoder.reset()
        for command in commands {
            guard !command.isEmpty else {
                throw RedisError(.invalidConfiguration, "a pipelined command is empty", endpoint: endpoint)
            }
            encoder.append(command: command)
        }
        try appendEncoded(ctx)
        var results: [Result<RESPValue, RedisError>] = []
        results.reserveCapacity(commands.count)
        for _ in 0..<commands.count {
            let reply = try readReply(ctx, stage: stage)
            if case .error(let error) = reply {
                results.append(.failure(error))
            } else {
                results.append(.success(reply))
            }
        }
        for case .failure(let error) in results { dropIfReplica(error) }
        return results
    }

    /// Between commands nothing may be waiting on the socket. A peek (one non-blocking syscall)
    /// finds a connection the server closed while it sat idle (restart, `timeout`, CLIENT KILL)
    /// before anything is written, so the failure is known to be harmless.
    private func checkNotClosedByPeer(_ ctx: UnsafeMutablePointer<redisContext>) throws(RedisError) {
        var byte: UInt8 = 0
        let n = recv(ctx.pointee.fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        if n < 0 {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return }
        }
        let reason = n == 0 ? "the server closed the connection while it was idle"
            : n > 0 ? "unexpected data from the server while the connection was idle"
            : "the connection failed while it was idle"
        let error = RedisError(.connectionLost, reason + " (the command was not sent)", endpoint: endpoint)
        logger.debug("redis connection found dead before sending", metadata: ["redis.error": "\(error)"])
        drop(error, beforeSending: true)
        throw error
    }

    private func appendEncoded(_ ctx: UnsafeMutablePointer<redisContext>) throws(RedisError) {
        let status = encoder.buffer.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                redisAppendFormattedCommand(ctx, chars.baseAddress, chars.count)
            }
        }
        encoder.reset()
        guard status == REDIS_OK else { throw breakConnection(stage: .command) }
    }

    /// Reads one reply; a NULL reply or an error status means the context is dead.
    private func readReply(_ ctx: UnsafeMutablePointer<redisContext>, stage: RedisError.Stage) throws(RedisError) -> RESPValue {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(ctx, &raw) == REDIS_OK, let raw else {
            throw breakConnection(stage: stage)
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return convert(reply)
    }

    private func convert(_ reply: UnsafePointer<redisReply>) -> RESPValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STATUS:
            return .simpleString(text(r))
        case REDIS_REPLY_ERROR:
            return .error(RedisError.server(text(r), endpoint: endpoint))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_NIL:
            return CHiredis_isNilArray(reply) != 0 ? .array(nil) : .bulkString(nil)
        case REDIS_REPLY_STRING:
            guard let str = r.str, r.len > 0 else { return .bulkString([]) }
            return .bulkString(Array(UnsafeRawBufferPointer(start: str, count: r.len)))
        case REDIS_REPLY_ARRAY:
            var elements: [RESPValue] = []
            elements.reserveCapacity(r.elements)
            if let element = r.element {
                for i in 0..<r.elements {
                    if let child = element[i] {
                        elements.append(convert(child))
                    } else {
                        elements.append(.bulkString(nil))
                    }
                }
            }
            return .array(elements)
        default:
            return .error(RedisError(.protocol, "unknown reply type \(r.type)", endpoint: endpoint))
        }
    }

    private func text(_ r: redisReply) -> String {
        guard let str = r.str, r.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self)
    }

    /// The choke point for a dead context: maps `c->err`, frees the context and marks the
    /// connection broken. Returns the error to throw.
    private func breakConnection(stage: RedisError.Stage) -> RedisError {
        let error: RedisError
        if let context {
            error = contextError(context, stage: stage)
        } else {
            error = failure ?? RedisError(.connectionClosed, "connection closed", endpoint: endpoint)
        }
        logger.warning("redis connection broken", metadata: ["redis.error": "\(error)"])
        drop(error)
        return error
    }

    private func contextError(_ ctx: UnsafeMutablePointer<redisContext>, stage: RedisError.Stage) -> RedisError {
        let err = ctx.pointee.err
        let errstr = withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if err == 0 {
            // A NULL reply with no error recorded: treat as a lost connection.
            return RedisError(stage == .command ? .connectionLost : .connectionFailed,
                              "no reply (hiredis returned NULL)", endpoint: endpoint)
        }
        return RedisError.hiredis(err: err, errstr: errstr, stage: stage, endpoint: endpoint)
    }

    /// Frees the context and records why; later calls fail with `error`.
    private func drop(_ error: RedisError, beforeSending: Bool = false) {
        if let context {
            CHiredis_free(context)
            self.context = nil
        }
        if failure == nil { failure = error }
        let recorded = failure!
        brokenState.withLock { state in
            if state.error == nil {
                state.error = recorded
                state.beforeSending = beforeSending
            }
        }
    }
}
