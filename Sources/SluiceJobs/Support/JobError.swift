// JobError: why a database job failed, and whether running it again later can help.
//
// Codes say what the runtime should do: `.undeclared` and `.missingObject` are never retried
// (the catalog or the database must change first), `.lockTimeout` and `.busy` are retried later
// (a lock was held; another run is at work). The description names the object and the SQLSTATE
// but never a bound value.

import Postgres

public struct JobError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

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
    /// Set for `.database` failures that are transient (connection lost, deadlock, serialization).
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

    /// True when the same job may succeed later: lock timeouts, busy objects, transient failures.
    public var isRetryable: Bool {
        switch code {
        case .lockTimeout, .busy: true
        case .database: transient
        default: false
        }
    }

    public var description: String {
        var s = "\(code): \(message)"
        if let object { s += " [\(object)]" }
        if let sqlState { s += " (SQLSTATE \(sqlState))" }
        if !notes.isEmpty { s += "; " + notes.joined(separator: "; ") }
        return s
    }

    /// Turns any error into a JobError: JobErrors pass through, Postgres errors are classified by
    /// SQLSTATE, Swift cancellation becomes `.cancelled`.
    public static func wrap(_ error: any Error, object: String? = nil) -> JobError {
        if let e = error as? JobError { return e }
        if error is CancellationError { return JobError(.cancelled, "the job was cancelled", object: object) }
        guard let pg = error as? PostgresError else {
            return JobError(.database, "\(error)", object: object)
        }
        if pg.isLockNotAvailable {
            return JobError(.lockTimeout, "a lock was not granted within lock_timeout: \(pg.message)", object: object,
                            sqlState: pg.sqlState)
        }
        if pg.code == .cancelled {
            return JobError(.cancelled, "the statement was cancelled", object: object, sqlState: pg.sqlState)
        }
        if pg.sqlState == PostgresError.queryCanceled {
            // 57014 without a client cancel request: statement_timeout.
            return JobError(.statementTimeout, pg.message, object: object, sqlState: pg.sqlState)
        }
        if pg.sqlState == PostgresError.undefinedTable || pg.sqlState == PostgresError.undefinedObject {
            return JobError(.missingObject, pg.message, object: object, sqlState: pg.sqlState)
        }
        return JobError(.database, pg.message, object: object, sqlState: pg.sqlState, transient: pg.isTransient)
    }
}

extension JobError {
    /// `.undeclared` for an argument the catalog does not declare. The text is shown escaped and
    /// cut to 64 characters: it came from a message and may be anything.
    static func undeclared(_ what: String, _ text: String) -> JobError {
        let shown = text.count > 64 ? String(text.prefix(64)) + "…" : text
        return JobError(.undeclared, "the catalog declares no \(what) named \(shown.debugDescription); nothing was run")
    }
}
