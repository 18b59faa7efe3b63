// JobContext: what a running job gets: its envelope, a logger with job metadata, its class's
// Postgres pool, progress reporting and a cancellation check.
//
// Cancellation (timeout, operator cancel, shutdown) cancels the job's Swift task, so a
// statement running on the pool is cancelled with PQcancel by the Postgres client.

import Logging
import Postgres
import SluiceCore

public struct JobContext: Sendable {
    public let envelope: Envelope
    public let logger: Logger
    /// The class's pool: its size, role and timeouts.
    public let pool: PostgresPool
    let progressSink: @Sendable (JSONValue) async -> Void

    public var id: JobID { envelope.id }
    public var attempt: Int { envelope.attempt }

    init(envelope: Envelope, logger: Logger, pool: PostgresPool, progress: @escaping @Sendable (JSONValue) async -> Void) {
        self.envelope = envelope
        self.logger = logger
        self.pool = pool
        self.progressSink = progress
    }

    /// Publishes progress to Redis at once and to the ledger at most every few seconds.
    public func reportProgress(_ value: JSONValue) async {
        await progressSink(value)
    }

    /// True once the job was asked to stop (timeout, cancel, shutdown).
    public var isCancelled: Bool { Task.isCancelled }

    public func checkCancellation() throws {
        try Task.checkCancellation()
    }
}
