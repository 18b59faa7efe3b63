// PostgresError: every failure the Postgres client reports, with the server's SQLSTATE fields.
//
// One struct with an extensible `Code`, so new failure kinds never break callers that switch on
// the ones they know. Its `description` is safe to log: it never contains a password, a bound
// value or a row (server `detail` is kept in its field, not printed, and class-22 messages that
// echo input such as `invalid input syntax for type integer: "abc"` are withheld).

/// An error from the Postgres client or server.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of failure this is. Extensible: compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The server rejected a statement; `sqlState` and the other server fields say why.
        public static let server = Code("server")
        /// A connection could not be opened; `connectFailure` says why, `endpoint` where.
        public static let connectionFailed = Code("connectionFailed")
        /// An open connection broke (server closed it, network failure): discard it.
        public static let connectionLost = Code("connectionLost")
        /// Connecting took longer than the configured connect timeout.
        public static let timeout = Code("timeout")
        /// A result column could not be decoded into the requested Swift type.
        public static let decoding = Code("decoding")
        /// COPY data was rejected on the client side (e.g. a NUL byte); `row` names the row.
        public static let copyRejected = Code("copyRejected")
        /// The statement was cancelled by `cancel()` or by Swift task cancellation.
        public static let cancelled = Code("cancelled")
        /// The configuration (or URL) is not usable.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A bound value cannot be sent (e.g. a NUL byte in text); `parameter` names it.
        public static let invalidValue = Code("invalidValue")
        /// The API was used in a way it does not support (e.g. COPY through `query`).
        public static let invalidUsage = Code("invalidUsage")
        /// COMMIT ended in a rollback because an earlier statement of the transaction failed.
        public static let transactionRolledBack = Code("transactionRolledBack")
        /// The connection was closed by this client.
        public static let connectionClosed = Code("connectionClosed")
        /// No pooled connection became available within the acquire timeout.
        public static let poolTimeout = Code("poolTimeout")
        /// The pool was closed.
        public static let poolClosed = Code("poolClosed")
    }

    /// Why a connection attempt failed.
    public enum ConnectFailure: String, Sendable, Hashable, CustomStringConvertible {
        case connectionRefused = "connection refused"
        case unreachable = "unreachable"
        case hostNotFound = "host not found"
        case timeout = "timeout"
        case authenticationFailed = "authentication failed"
        case databaseDoesNotExist = "database does not exist"
        case tooManyConnections = "too many connections"
        case other = "other"
        public var description: String { rawValue }
    }

    public var code: Code
    /// For server errors the server's primary message; otherwise a client-side explanation.
    /// May contain input values for some server errors: log `description` instead.
    public var message: String
    /// `host:port/database` of the server concerned, when known.
    public var endpoint: String?
    /// Set for `.connectionFailed` and `.timeout` during connect.
    public var connectFailure: ConnectFailure?

    // Server fields (PQresultErrorField), set for `.server` and sometimes `.connectionLost`/`.cancelled`.
    public var sqlState: String?
    /// Non-localized severity: ERROR, FATAL, PANIC, WARNING, NOTICE…
    public var severity: String?
    /// May contain row values: never printed by `description`.
    public var detail: String?
    public var hint: String?
    public var schema: String?
    public var table: String?
    public var column: String?
    public var constraint: String?

    /// 1-based row number for `.copyRejected` and `.decoding` (0-based index + 1).
    public var row: Int?
    /// 1-based parameter number for `.invalidValue`.
    public var parameter: Int?

    public init(_ code: Code, message: String, endpoint: String? = nil) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
    }

    // MARK: SQLSTATE constants

    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let notNullViolation = "23502"
    public static let checkViolation = "23514"
    public static let serializationFailure = "40001"
    public static let deadlockDetected = "40P01"
    public static let lockNotAvailable = "55P03"
    public static let objectInUse = "55006"
    public static let queryCanceled = "57014"
    public static let adminShutdown = "57P01"
    public static let crashShutdown = "57P02"
    public static let cannotConnectNow = "57P03"
    public static let undefinedTable = "42P01"
    public static let undefinedObject = "42704"
    public static let duplicateTable = "42P07"
    public static let duplicateObject = "42710"
    public static let insufficientPrivilege = "42501"
    public static let readOnlySQLTransaction = "25006"
    public static let activeSQLTransaction = "25001"
    public static let tooManyConnections = "53300"

    // MARK: Classification

    /// True when the connection that produced this error must not be reused.
    public var isConnectionError: Bool {
        code == .connectionLost || code == .connectionFailed || code == .timeout || code == .connectionClosed
            || (sqlState?.hasPrefix("08") ?? false) || sqlState == Self.adminShutdown
            || sqlState == Self.crashShutdown
    }

    /// True for failures that may succeed when the same work is tried again later:
    /// lost or refused connections, serialization failures, deadlocks, lock timeouts,
    /// server shutting down or starting up, too many connections.
    public var isTransient: Bool {
        if code == .connectionFailed {
            return connectFailure != .authenticationFailed && connectFailure != .databaseDoesNotExist
        }
        if isConnectionError { return true }
        guard let s = sqlState else { return code == .poolTimeout }
        return [Self.serializationFailure, Self.deadlockDetected, Self.lockNotAvailable,
                Self.cannotConnectNow, Self.tooManyConnections, Self.readOnlySQLTransaction].contains(s)
    }

    /// 25006: a write in a read-only transaction. On a session that is not read-only by its own
    /// settings this means the server is a standby now (a failover demoted it, or libpq landed
    /// on it): the connection is of no use for writes and the write belongs on the new primary,
    /// so it is transient, and a pool discards the connection (see `PostgresPool.release`).
    public var isReadOnlyTransaction: Bool { sqlState == Self.readOnlySQLTransaction }

    /// True when the server reports a lock it could not get in time (lock_timeout / NOWAIT).
    public var isLockNotAvailable: Bool { sqlState == Self.lockNotAvailable }

    /// True when the statement was cancelled: by this client, or by statement_timeout (57014).
    public var isCancellation: Bool { code == .cancelled || sqlState == Self.queryCanceled }

    // MARK: Description

    /// Safe to log: no password, bound value, server `detail` or value-echoing message.
    public var description: String {
        var s = "PostgresError.\(code)"
        if let sqlState { s += " \(sqlState)" }
        var context: [String] = []
        if let endpoint { context.append("endpoint \(endpoint)") }
        if let connectFailure { context.append("cause: \(connectFailure)") }
        if let schema { context.append("schema \(schema)") }
        if let table { context.append("table \(table)") }
        if let column { context.append("column \(column)") }
        if let constraint { context.append("constraint \(constraint)") }
        if let row { context.append("row \(row)") }
        if let parameter { context.append("parameter $\(parameter)") }
        if !context.isEmpty { s += " (" + context.joined(separator: ", ") + ")" }
        s += ": " + safeMessage
        if let hint, sqlState.map({ !$0.hasPrefix("22") }) ?? true { s += " (hint: \(hint))" }
        return s
    }

    /// Everything, including `detail`: for a developer's eyes, not for logs.
    public var debugDescription: String {
        var s = description
        if safeMessage != message { s += " [message: \(message)]" }
        if let detail { s += " [detail: \(detail)]" }
        if let severity { s += " [severity: \(severity)]" }
        return s
    }

    private var safeMessage: String {
        // Data exceptions (class 22) quote the offending input in their primary message.
        if let sqlState, sqlState.hasPrefix("22") {
            return "data exception (message withheld: it may quote input values)"
        }
        return message
    }
}
