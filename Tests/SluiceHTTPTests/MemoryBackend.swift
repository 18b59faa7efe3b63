// MemoryBackend: an in-memory `APIBackend` for the in-process tests. It is not a server and
// does not pretend to be one: it validates with the real registry (JobRegistry.standard over a
// test catalog), keeps what was enqueued as a list of requests (no ledger rows: a job read
// answers "no such job", a list is empty), holds the cache outputs, health reports, alerts,
// dead letters and schedules a test puts in it, and answers every read from those. A server
// can be marked down: its reads then throw, as a refused connection would. What the real
// servers do (ledger rows, queues, Redis keys) is tested end to end with APIFixture.

import Foundation
import Redis
import SluiceCatalog
import SluiceCore
@testable import SluiceHTTP
import SluiceJobs
@testable import SluiceRuntime
import Synchronization

final class MemoryBackend: APIBackend {
    struct Down: Error, CustomStringConvertible {
        let server: BackendServer
        var description: String { "\(server.rawValue) is marked down in the in-memory backend" }
    }

    struct State {
        var enqueued: [JobRequest] = []
        var idempotency: [String: (sha: String, answer: (status: Int, response: String)?)] = [:]
        var cache: [String: CachedOutput] = [:]
        var health: [String: [String: JSONValue]] = [:]
        var alerts: [RedisStreamEntry] = []
        var down: Set<BackendServer> = []
        var replayable: Set<JobID> = []
    }

    let state = Mutex(State())
    let registry: JobRegistry
    let catalog: Catalog?
    let topology = TopologyConfiguration(prefix: "memory")

    init(catalog: Catalog?) {
        self.catalog = catalog
        registry = .standard(catalog: catalog ?? Catalog())
    }

    /// The requests enqueued so far.
    var enqueued: [JobRequest] { state.withLock { $0.enqueued } }

    func markDown(_ server: BackendServer) { _ = state.withLock { $0.down.insert(server) } }

    private func answer(_ server: BackendServer) throws {
        if state.withLock({ $0.down.contains(server) }) { throw Down(server: server) }
    }

    // MARK: JobBackend

    func enqueue(batch: [JobRequest]) async throws -> [Result<EnqueueResult, any Error>] {
        try answer(.postgres)
        return batch.map { request in
            Result { () throws(EnvelopeError) -> EnqueueResult in
                // As the producer does: the kind, its arguments and the target, before anything is kept.
                try registry.validate(kind: request.kind, args: request.args, target: request.target)
                state.withLock { $0.enqueued.append(request) }
                return EnqueueResult(id: request.id ?? JobID.make(), duplicate: false, state: .available,
                                     workloadClass: request.workloadClass ?? registry.defaultClass(of: request.kind) ?? .maintenance)
            }.mapError { $0 as any Error }
        }
    }

    func job(_ id: JobID) async throws -> LedgerJob? {
        try answer(.postgres)
        return nil
    }

    func liveStatus(_ id: JobID) async throws -> [String: String]? {
        try answer(.redis)
        return nil
    }

    func cancel(_ id: JobID) async throws -> (Ledger.CancelOutcome, JobState?) {
        try answer(.postgres)
        return (.notFound, nil)
    }

    func search(_ filter: JobFilter, after: JobID?, limit: Int) async throws -> JobPage {
        try answer(.postgres)
        return JobPage(jobs: [], next: nil)
    }

    func beginIdempotent(key: String, requestSHA256: String) async throws -> IdempotencyBegin {
        try answer(.postgres)
        return state.withLock { s in
            guard let held = s.idempotency[key] else {
                s.idempotency[key] = (requestSHA256, nil)
                return .fresh
            }
            guard held.sha == requestSHA256 else { return .mismatch }
            guard let a = held.answer else { return .inProgress }
            return .replay(status: a.status, response: a.response)
        }
    }

    func finishIdempotent(key: String, status: Int, response: String) async throws {
        state.withLock { $0.idempotency[key]?.answer = (status, response) }
    }

    func abandonIdempotent(key: String) async throws {
        _ = state.withLock { $0.idempotency.removeValue(forKey: key) }
    }

    // MARK: OperatorBackend

    func queueSnapshot() async throws -> QueueInspector.Snapshot {
        try answer(.rabbitmq)
        return QueueInspector.Snapshot()
    }

    func classCounts(_ classes: [String]) async throws -> (counts: [String: ClassCounts], oldestWaiting: [String: Date]) {
        try answer(.postgres)
        return ([:], [:])
    }

    func deadLetters(limit: Int) async throws -> [DeadLetter] {
        try answer(.rabbitmq)
        return []
    }

    func replay(_ id: JobID) async throws -> Bool {
        try answer(.rabbitmq)
        return state.withLock { $0.replayable.remove(id) != nil }
    }

    func schedules() async throws -> [ScheduleStatus]? {
        try answer(.postgres)
        return nil
    }

    func fireSchedule(_ name: String) async throws -> Scheduler.ManualFire {
        throw SchedulerError(.unknownSchedule, "no schedule is named '\(name.prefix(100))'")
    }

    func ping(_ server: BackendServer) async throws { try answer(server) }

    // MARK: DashboardBackend

    func cachedOutput(query: String, target: String, params: QueryParameters) async throws -> (key: String, output: CachedOutput?) {
        try answer(.redis)
        let key = "memory:\(query)@\(target):\(params.json.jsonString)"
        return (key, state.withLock { $0.cache[key] })
    }

    func put(_ output: CachedOutput, query: String, target: String, params: QueryParameters) {
        state.withLock { $0.cache["memory:\(query)@\(target):\(params.json.jsonString)"] = output }
    }

    func healthReports(target: String) async throws -> [String: JSONValue] {
        try answer(.redis)
        return state.withLock { $0.health[target] ?? [:] }
    }

    func healthReport(target: String, report: HealthReport) async throws -> JSONValue? {
        try answer(.redis)
        return state.withLock { $0.health[target]?[report.rawValue] }
    }

    func putHealth(target: String, report: String, _ value: JSONValue) {
        state.withLock { $0.health[target, default: [:]][report] = value }
    }

    func viewRefresh(view: String, target: String) async throws -> JSONValue? {
        try answer(.redis)
        return nil
    }

    func viewFreshness() async throws -> [String: JSONValue] {
        try answer(.redis)
        return [:]
    }

    func alerts(limit: Int) async throws -> [RedisStreamEntry] {
        try answer(.redis)
        return Array(state.withLock { $0.alerts }.prefix(limit))
    }

    func putAlert(_ fields: [String: String]) {
        state.withLock { s in
            let entry = RedisStreamEntry(id: "\(s.alerts.count + 1)-0",
                                         fields: fields.sorted { $0.key < $1.key }.map { .init(name: $0.key, value: Array($0.value.utf8)) })
            s.alerts.insert(entry, at: 0)
        }
    }

    func events() -> any EventReader { NoEvents() }

    /// An events stream on which nothing happens.
    struct NoEvents: EventReader {
        func next(after: String) async throws -> [RedisStreamEntry] {
            try await Task.sleep(for: .milliseconds(50))
            return []
        }
        func close() async {}
    }

    // MARK: ImportBackend

    /// Uploads are stored in the home database: the in-memory backend keeps none (ImportAPITests
    /// runs them on the servers), so a submission that passed validation fails as a down database.
    func submitImport(_ submission: ImportSubmission, bytes: some ImportByteSource, fileName: String) async throws
        -> (upload: ImportStore.Upload, job: EnqueueResult) {
        throw Down(server: .postgres)
    }

    func rejectsCSV(jobID: JobID, _ write: @escaping @Sendable ([UInt8]) -> Void) async throws {
        try answer(.postgres)
    }

    // MARK: OverviewBackend

    func throughput(classes: [String], since: Date, step: Duration) async throws -> [ThroughputBucket] {
        try answer(.postgres)
        return []
    }
}
