// APIBackend: what the API reads and drives, as one protocol per route family, so the server
// (authentication, validation, error shapes) does not care what answers behind it. The process
// serves `RuntimeBackend` (RuntimeBackend.swift: the runtime's ledger, broker, Redis and
// schedules); the in-process tests serve an in-memory double. Each requirement is a read or a
// write the route needs, in the route's terms: no Redis key, Redis command or passive declare
// is spelled here or in the routes.

import Foundation
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

/// `/v1/jobs…`: enqueue (with idempotency keys), read, cancel, list.
public protocol JobBackend: Sendable {
    /// Decodes and validates kinds and arguments at enqueue (no I/O).
    var registry: JobRegistry { get }
    /// Enqueues validated requests; a failure after validation comes back per job.
    func enqueue(batch: [JobRequest]) async throws -> [Result<EnqueueResult, any Error>]
    func job(_ id: JobID) async throws -> LedgerJob?
    /// The live status a worker keeps between ledger writes (progress), nil when none.
    func liveStatus(_ id: JobID) async throws -> [String: String]?
    func cancel(_ id: JobID) async throws -> (Ledger.CancelOutcome, JobState?)
    /// One page of the job list, in id order after `after`.
    func search(_ filter: JobFilter, after: JobID?, limit: Int) async throws -> JobPage
    /// Claims an Idempotency-Key for a request body's SHA-256 (see IdempotencyStore).
    func beginIdempotent(key: String, requestSHA256: String) async throws -> IdempotencyBegin
    /// Stores the answer given under a claimed key.
    func finishIdempotent(key: String, status: Int, response: String) async throws
    /// Releases a claimed key (a server-side failure: the client's retry runs again).
    func abandonIdempotent(key: String) async throws
}

/// `/v1/queues`, `/v1/dead…`, `/v1/schedules…`, `/readyz`.
public protocol OperatorBackend: Sendable {
    /// Queue names per class.
    var topology: TopologyConfiguration { get }
    /// Depth and consumers of every class queue and of the dead-letter queue.
    func queueSnapshot() async throws -> QueueInspector.Snapshot
    /// Per class: ledger counts, and the oldest waiting job's time.
    func classCounts(_ classes: [String]) async throws -> (counts: [String: ClassCounts], oldestWaiting: [String: Date])
    func deadLetters(limit: Int) async throws -> [DeadLetter]
    /// False when no dead letter has this job id; `ReplayError` when it cannot be replayed.
    func replay(_ id: JobID) async throws -> Bool
    /// The catalog's schedules with their last and next fires; nil when no schedules are loaded.
    func schedules() async throws -> [ScheduleStatus]?
    /// Fires a schedule now; `SchedulerError(.unknownSchedule)` when there is none of that name.
    func fireSchedule(_ name: String) async throws -> Scheduler.ManualFire
    /// Throws unless the server answers (`postgres`, `rabbitmq`, `redis`).
    func ping(_ server: BackendServer) async throws
}

/// The three servers behind the API, as `/readyz` names them.
public enum BackendServer: String, Sendable, CaseIterable {
    case postgres, rabbitmq, redis
}

/// What the dashboard reads from Redis: cached query outputs, health reports, view freshness,
/// alerts, live job events, and the catalog they are read against.
public protocol DashboardBackend: Sendable {
    /// Nil when no catalog is loaded: the cache route answers 404, the import route 400 (`spec`).
    var catalog: Catalog? { get }
    /// The cache key of a query's output for normalised params, and the output when there is one.
    func cachedOutput(query: String, target: String, params: QueryParameters) async throws -> (key: String, output: CachedOutput?)
    func healthReports(target: String) async throws -> [String: JSONValue]
    /// One stored health report (`partitions`, `matviews` …) of a target, nil when none.
    func healthReport(target: String, report: HealthReport) async throws -> JSONValue?
    /// The freshness record each refresh of a view writes (`refresh.matview`), nil when none.
    func viewRefresh(view: String, target: String) async throws -> JSONValue?
    func viewFreshness() async throws -> [String: JSONValue]
    /// The newest alert entries first.
    func alerts(limit: Int) async throws -> [RedisStreamEntry]
    /// A reader of the job events stream, on a connection of its own (close it when done).
    func events() -> any EventReader
}

/// The job events stream, followed by one client of `/v1/events`.
public protocol EventReader: Sendable {
    /// Entries after `after` (a stream id, or `$`: only new ones), waiting a little when none.
    func next(after: String) async throws -> [RedisStreamEntry]
    func close() async
}

/// `/v1/imports…`: an upload enqueued as `import.file`, and its rejects.
public protocol ImportBackend: Sendable {
    /// Stores the file and enqueues the job (`ImportSubmission.submit`).
    func submitImport(_ submission: ImportSubmission, bytes: some ImportByteSource, fileName: String) async throws
        -> (upload: ImportStore.Upload, job: EnqueueResult)
    /// The rejected rows of an import job as CSV, chunk by chunk.
    func rejectsCSV(jobID: JobID, _ write: @escaping @Sendable ([UInt8]) -> Void) async throws
}

/// `/v1/overview/series`: throughput and run time per class over a window.
public protocol OverviewBackend: Sendable {
    func throughput(classes: [String], since: Date, step: Duration) async throws -> [ThroughputBucket]
}

/// Everything the API needs: one value serves every route family.
public typealias APIBackend = JobBackend & OperatorBackend & DashboardBackend & ImportBackend & OverviewBackend

/// The answer to claiming an Idempotency-Key.
public enum IdempotencyBegin: Sendable, Equatable {
    /// The key is new and now ours: serve the request, then finish.
    case fresh
    /// Answered before: send this again.
    case replay(status: Int, response: String)
    /// Used with another body.
    case mismatch
    /// Another request holds the key and has not answered yet.
    case inProgress
}
