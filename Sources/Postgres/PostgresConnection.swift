// PostgresConnection: one session with a Postgres server, over libpq, on its own thread.
//
// Each connection owns an IOThread; every libpq call for it runs there, so blocking network
// I/O never occupies Swift's cooperative pool. Statements from several tasks are queued in
// order, but a connection serves one logical user at a time (a transaction is per connection):
// share connections through `PostgresPool`, not directly. `cancel()` and task cancellation stop
// a running statement with a server-side cancel request.

import ClientSupport
import Foundation
import Logging
import Synchronization

/// A connection to a Postgres server.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked Sendable: `handle` (the PGconn) is touched only on `thread`; every other stored
    // property is immutable, or an Atomic, or internally synchronized (`control`).
    let handle: PGConnectionHandle
    let thread: IOThread
    let control: StatementControl
    let logger: Logger
    private let broken = Atomic<Bool>(false)
    private let closed = Atomic<Bool>(false)
    private let inTransaction = Atomic<Bool>(false)

    /// `host:port/database`.
    public let endpoint: String
    /// The server backend's process id (`pg_backend_pid()`).
    public let backendPID: Int32
    /// The server version as `major.minor`, e.g. "15.18".
    public let serverVersion: String
    /// The server version as a number, e.g. 150018.
    public let serverVersionNumber: Int
    /// The configuration this connection was opened with.
    public let configuration: PostgresConfiguration

    private init(handle: PGConnectionHandle, thread: IOThread, configuration: PostgresConfiguration, logger: Logger) {
        self.handle = handle
        self.thread = thread
        self.configuration = configuration
        self.endpoint = configuration.endpoint
        self.backendPID = handle.backendPID
        let v = handle.serverVersionNumber
        self.serverVersionNumber = v
        self.serverVersion = v >= 100_000 ? "\(v / 10000).\(v % 10000)" : "\(v / 10000).\(v / 100 % 100).\(v % 100)"
        self.control = StatementControl(cancelHandle: handle.makeCancelHandle())
        var logger = logger
        logger[metadataKey: "db.endpoint"] = "\(configuration.endpoint)"
        logger[metadataKey: "db.backend_pid"] = "\(handle.backendPID)"
        self.logger = logger
    }

    deinit {
        // The handle frees the PGconn when the last reference (here or a queued item) goes.
        thread.shutdown()
    }

    /// Opens a connection and applies the session settings of `configuration`.
    ///
    /// Fails within `connectTimeout` with `.connectionFailed` (cause in `connectFailure`:
    /// refused, unreachable, authentication failed, database does not exist…) or `.timeout`,
    /// naming the endpoint and never the password.
    public static func connect(_ configuration: PostgresConfiguration, logger: Logger) async throws(PostgresError) -> PostgresConnection {
        let thread = IOThread(name: "pg \(configuration.endpoint)")
        do {
            let handle = try await thread.run { () throws(PostgresError) -> PGConnectionHandle in
                try PGConnectionHandle.connect(configuration, logger: logger)
            }
            return PostgresConnection(handle: handle, thread: thread, configuration: configuration, logger: logger)
        } catch let error as PostgresError {
            thread.shutdown()
            logger.debug(
                "postgres connect failed: \(error)",
                metadata: ["db.endpoint": "\(configuration.endpoint)"])
            throw error
        } catch {
            thread.shutdown()
            throw PostgresError(.connectionFailed, message: "\(error)", endpoint: configuration.endpoint)
        }
    }

    // MARK: State

    /// True once the connection is unusable: lost, broken or closed. Discard it.
    public var isBroken: Bool { broken.load(ordering: .relaxed) || closed.load(ordering: .relaxed) }

    /// True when the session is inside a transaction block (also a failed one).
    public var isInTransaction: Bool { inTransaction.load(ordering: .relaxed) }

    // MARK: Statements

    /// Runs one statement with `$1…$n` parameters (extended protocol) and returns its rows.
    public func query(_ sql: String, _ binds: [PostgresValue] = []) async throws(PostgresError) -> PostgresRows {
        try await perform { handle throws(PostgresError) in try handle.exec(sql, binds) }
    }

    /// Runs `statements` in one round trip as one transaction (libpq's pipeline mode, one sync):
    /// all of them commit together, or the first failure is thrown and none has any effect.
    /// Each statement takes its own snapshot, as in `withTransaction`, but the whole costs one
    /// round trip instead of one per statement plus two for BEGIN and COMMIT. Inside a
    /// transaction block the statements join it instead. For statements with small results.
    public func pipeline(_ statements: [(sql: String, binds: [PostgresValue])]) async throws(PostgresError) -> [PostgresRows] {
        guard !statements.isEmpty else { return [] }
        return try await perform { handle throws(PostgresError) in try handle.pipeline(statements) }
    }

    /// Runs one statement with parameters and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ binds: [PostgresValue] = []) async throws(PostgresError) -> Int {
        try await query(sql, binds).affectedRows
    }

    /// Runs a script of one or more statements without parameters (simple protocol) and
    /// returns the last statement's rows. Use it for VACUUM, REINDEX CONCURRENTLY, CREATE INDEX
    /// CONCURRENTLY and other statements that cannot run inside a transaction block.
    @discardableResult
    public func simpleQuery(_ sql: String) async throws(PostgresError) -> PostgresRows {
        try await perform { handle throws(PostgresError) in try handle.simple(sql) }
    }

    /// Asks the server to cancel the statement running now, if any. Callable from any thread
    /// or task; returns at once. The statement then fails with `.cancelled` (SQLSTATE 57014).
    public func cancel() {
        control.cancel(nil)
    }

    /// Closes the connection. Idempotent; later statements fail with `.connectionClosed`.
    public func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        _ = try? await thread.run { [handle] in handle.finish() }
        thread.shutdown()
        logger.debug("postgres connection closed")
    }

    /// Publishes the connection's state for other threads. Call on the I/O thread.
    func recordState() {
        broken.store(handle.isBad, ordering: .relaxed)
        inTransaction.store(handle.isInTransaction, ordering: .relaxed)
    }

    /// Runs `operation` on the I/O thread as one cancellable statement, and classifies its
    /// failure (cancelled, connection lost).
    func perform<T: Sendable>(
        honourCancellation: Bool = true,
        _ operation: @escaping @Sendable (PGConnectionHandle) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        try await perform(honourCancellation: honourCancellation) { handle, _ throws(PostgresError) in try operation(handle) }
    }

    /// As above; the operation also gets a probe telling it that a cancel was requested.
    func perform<T: Sendable>(
        honourCancellation: Bool = true,
        _ operation: @escaping @Sendable (PGConnectionHandle, _ cancelRequested: () -> Bool) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        if closed.load(ordering: .relaxed) {
            throw PostgresError(.connectionClosed, message: "the connection is closed", endpoint: endpoint)
        }
        if honourCancellation && Task.isCancelled {
            throw PostgresError(.cancelled, message: "the task was cancelled before the statement started", endpoint: endpoint)
        }
        let id = control.makeID()
        let work: @Sendable () throws(PostgresError) -> T = { [self] () throws(PostgresError) -> T in
            guard control.begin(id) else {
                throw PostgresError(.cancelled, message: "the statement was cancelled before it started", endpoint: endpoint)
            }
            defer { recordState() }
            do throws(PostgresError) {
                let result = try operation(handle) { control.isCancelRequested(id) }
                _ = control.end(id)
                return result
            } catch {
                var e = error
                if control.end(id) && e.sqlState == PostgresError.queryCanceled && e.code == .server {
                    e.code = .cancelled
                }
                throw e
            }
        }
        do {
            if honourCancellation {
                return try await withTaskCancellationHandler {
                    try await thread.run(work)
                } onCancel: { [control] in
                    control.cancel(id)
                }
            } else {
                return try await thread.run(work)
            }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.connectionClosed, message: "the connection's I/O thread has stopped", endpoint: endpoint)
        }
    }
}
