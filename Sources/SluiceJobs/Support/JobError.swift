// JobError (SluiceRuntime's, the one error type kinds throw) as the database kinds use it:
// `wrap` classifies any error (Postgres errors by SQLSTATE), `undeclared` refuses a name the
// catalog does not declare.

import Postgres
import SluiceRuntime

extension JobError {
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
