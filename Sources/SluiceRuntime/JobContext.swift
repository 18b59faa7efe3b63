// JobContext: what a running job gets: its envelope, a logger with job metadata, the Postgres
// pool of its target and class, the home database (ledger schema), the catalog, Redis for
// outputs, progress reporting, follow-up enqueues and a cancellation check.
//
// Cancellation (timeout, operator cancel, shutdown) cancels the job's Swift task, so a
// statement running on the pool is cancelled with PQcancel by the Postgres client.

import Logging
import Postgres
import Redis
import SluiceCatalog
import SluiceCore

public struct JobContext: Sendable {
    public let envelope: Envelope
    /// A logger with the job's metadata (`job.id`, `job.kind`, `db.target`), made when asked
    /// for: most jobs never log, and each metadata key set on a stream handler renders all of
    /// its metadata again (3.7 % of a worker's CPU when it was made for every job).
    public var logger: Logger { Self.logger(baseLogger, for: envelope) }
    private let baseLogger: Logger
    /// The pool of the job's target database and class: the class's size, role and timeouts.
    public let pool: PostgresPool
    /// The home database (the ledger's), whatever the target: for state a kind keeps beside the
    /// ledger (uploads, saved segments), under `schema`.
    public let home: PostgresPool
    /// The ledger schema in the home database (`sluice` by default).
    public let schema: String
    /// For a transactional kind (`JobWorker.transactional`): the home database's connection in
    /// the transaction that records the job completed. Write the job's effect here; it commits
    /// with the job, or not at all. Nil for every other kind.
    public let transaction: PostgresConnection?
    /// The catalog the job's arguments were validated against.
    public let catalog: Catalog
    /// Redis, for kinds whose output is a cache (best effort: Redis is a cache).
    public let redis: RedisPool?
    /// The prefix of every Redis key (`sluice:`).
    public let redisPrefix: String
    let progressSink: @Sendable (JSONValue) async -> Void
    let outputSink: @Sendable (String, [String: String]) async -> Void
    let enqueueSink: @Sendable (JobRequest) async throws -> EnqueueResult

    static func logger(_ base: Logger, for envelope: Envelope) -> Logger {
        var l = base
        l.handler.metadata.merge([
            "job.id": .string(envelope.id.description), "job.kind": .string(envelope.kind.rawValue), "db.target": .string(envelope.target),
        ]) { _, job in job }
        return l
    }

    public var id: JobID { envelope.id }
    public var attempt: Int { envelope.attempt }

    init(envelope: Envelope, logger: Logger, pool: PostgresPool, home: PostgresPool, schema: String, catalog: Catalog,
         redis: RedisPool?, redisPrefix: String, transaction: PostgresConnection? = nil, progress: @escaping @Sendable (JSONValue) async -> Void,
         output: @escaping @Sendable (String, [String: String]) async -> Void = { _, _ in },
         enqueue: @escaping @Sendable (JobRequest) async throws -> EnqueueResult = { _ in
             throw JobError("this context cannot enqueue jobs", retryable: false)
         }) {
        self.envelope = envelope
        self.baseLogger = logger
        self.pool = pool
        self.home = home
        self.schema = schema
        self.transaction = transaction
        self.catalog = catalog
        self.redis = redis
        self.redisPrefix = redisPrefix
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
