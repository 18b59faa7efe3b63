// JobError: why a job failed, and whether running it again later can help. The one error type
// kinds throw (SluiceJobs adds `wrap`, which classifies Postgres errors by SQLSTATE).
//
// Codes say what the runtime should do: `.undeclared` and `.missingObject` are never retried
// (the catalog or the database must change first), `.lockTimeout` and `.busy` are retried later
// (a lock was held; another run is at work), `.database` and `.failed` when `transient`. The
// description names the object and the SQLSTATE but never a bound value.

public struct JobError: Error, Sendable, CustomStringConvertible, RetryClassifying {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A failure the kind reports in its own words (`JobError("…", retryable:)`).
        public static let failed = Code("failed")
        /// The argument names nothing the catalog declares (or is not a valid name). No SQL was sent.
        public static let undeclared = Code("undeclared")
        /// The catalog declares the object but the database has no such object.
        public static let missingObject = Code("missingObject")
        /// A lock was not granted within lock_timeout; the job gave up rather than block traffic.
        public static let lockTimeout = Code("lockTimeout")
        /// The job was cancelled (task cancellation or a cancel request).
        public static let cancelled = Code("cancelled")
        /// Another run holds the per-object advisory lock.
        public static let busy = Code("busy")
        /// A statement ran longer than the class's statement_timeout.
        public static let statementTimeout = Code("statementTimeout")
        /// The catalog declares the object but not this operation on it (VACUUM FULL without allow_full).
        public static let notAllowed = Code("notAllowed")
        /// The object cannot be handled this way (system catalog, exclusion-constraint index,
        /// a table that is not partitioned, CONCURRENTLY without a usable unique index).
        public static let unsupported = Code("unsupported")
        /// Arguments that do not fit the kind (missing field, wrong type).
        public static let invalidArguments = Code("invalidArguments")
        /// The data is larger than a declared limit (an upload past its import's
        /// `max_file_bytes`): the API answers 413 on this code, never on the message's words.
        public static let tooLarge = Code("tooLarge")
        /// Any other database failure.
        public static let database = Code("database")
    }

    public var code: Code
    public var message: String
    /// `schema.name` of the object concerned, when there is one.
    public var object: String?
    /// The server's SQLSTATE, for database failures.
    public var sqlState: String?
    /// What the job did before failing, e.g. invalid indexes it dropped.
    public var notes: [String]
    /// Set for `.database` and `.failed` failures that are transient (connection lost, deadlock,
    /// serialization; a kind's own retryable failure).
    public var transient: Bool

    public init(_ code: Code, _ message: String, object: String? = nil, sqlState: String? = nil,
                notes: [String] = [], transient: Bool = false) {
        self.code = code
        self.message = message
        self.object = object
        self.sqlState = sqlState
        self.notes = notes
        self.transient = transient
    }

    /// A failure in the kind's own words: `.failed`, retried unless `retryable` is false.
    public init(_ message: String, retryable: Bool = true) {
        self.init(.failed, message, transient: retryable)
    }

    /// True when the same job may succeed later: lock timeouts, busy objects, transient failures.
    public var isRetryable: Bool {
        switch code {
        case .lockTimeout, .busy: true
        case .database, .failed: transient
        default: false
        }
    }

    public var retryable: Bool { isRetryable }

    public var description: String {
        var s = code == .failed ? message : "\(code): \(message)"
        if let object { s += " [\(object)]" }
        if let sqlState { s += " (SQLSTATE \(sqlState))" }
        if !notes.isEmpty { s += "; " + notes.joined(separator: "; ") }
        return s
    }
}
