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
    let outputSink: @Sendable (String, [String: String]) async -> Void
    let enqueueSink: @Sendable (JobRequest) async throws -> EnqueueResult

    public var id: JobID { envelope.id }
    public var attempt: Int { envelope.attempt }

    init(envelope: Envelope, logger: Logger, pool: PostgresPool, progress: @escaping @Sendable (JSONValue) async -> Void,
         output: @escaping @Sendable (String, [String: String]) async -> Void = { _, _ in },
         enqueue: @escaping @Sendable (JobRequest) async throws -> EnqueueResult = { _ in
             throw JobError("this context cannot enqueue jobs", retryable: false)
         }) {
        self.envelope = envelope
        self.logger = logger
        self.pool = pool
        self.progressSink = progress
        self.outputSink = output
        self.enqueueSink = enqueue
    }

    /// Writes a dashboard-facing hash `<prefix><name>` in Redis (replacing its fields), for
    /// example `matview:demo.campaign_analytics` with `refreshed_at`. Best effort: Redis is a
    /// cache, so a Redis failure is logged and never fails the job.
    public func publishOutput(_ name: String, fields: [String: String]) async {
        await outputSink(name, fields)
    }

    /// Enqueues a follow-up job (a planner enqueueing what is due), confirmed by the broker.
    public func enqueue(_ request: JobRequest) async throws -> EnqueueResult {
        try await enqueueSink(request)
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
