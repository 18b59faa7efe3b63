// Producer: enqueues jobs: validate, insert into the ledger, publish with confirm, then
// record the status in Redis.
//
// `enqueue` returns only a confirmed id, or throws: when the publish fails the ledger row is
// marked `discarded` (error `publish_failed`) so it frees its unique key and no rescue will
// ever run it. A duplicate of a live unique key returns the existing id and publishes nothing.
// Delayed jobs go through the delay ladder. Concurrent enqueues share ledger statements and
// confirm round trips.

import Foundation
import Logging
import RabbitMQ
import SluiceCore

public struct JobRequest: Sendable {
    /// The job's id; nil makes a new UUIDv7. Set it to know the id before `enqueue` returns.
    public var id: JobID?
    public var kind: JobKind
    public var args: [String: JSONValue]
    /// The class (queue); nil uses the kind's default.
    public var workloadClass: WorkloadClass?
    public var target: String
    public var uniqueKey: String?
    /// Run no earlier than this.
    public var notBefore: Date?
    /// 0-9 (classic queues only).
    public var priority: Int?
    /// nil: the kind's (`JobWorker.defaults`).
    public var maxAttempts: Int?
    /// One attempt's time limit; nil: the kind's (`JobWorker.defaults`).
    public var timeoutSeconds: Int?
    public var traceID: String?
    public var producer: String?
    /// Who enqueues it (`Envelope.enqueuedBy`): the ledger's `enqueued_by`.
    public var enqueuedBy: String?

    public init(
        kind: JobKind, args: [String: JSONValue] = [:], workloadClass: WorkloadClass? = nil, target: String = "main",
        uniqueKey: String? = nil, notBefore: Date? = nil, priority: Int? = nil, maxAttempts: Int? = nil,
        timeoutSeconds: Int? = nil, traceID: String? = nil, producer: String? = nil, enqueuedBy: String? = nil
    ) {
        self.kind = kind
        self.args = args
        self.workloadClass = workloadClass
        self.target = target
        self.uniqueKey = uniqueKey
        self.notBefore = notBefore
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
        self.traceID = traceID
        self.producer = producer
        self.enqueuedBy = enqueuedBy
    }

    /// Runs `delay` from now.
    public mutating func delay(by delay: Duration) {
        notBefore = Date().addingTimeInterval(delay.seconds)
    }
}

public struct EnqueueResult: Sendable, Equatable {
    public var id: JobID
    /// True when a live job already held the unique key: `id` is that job's.
    public var duplicate: Bool
    public var state: JobState
    public var workloadClass: WorkloadClass
}

public final class Producer: Sendable {
    public let registry: JobRegistry
    public let ledger: Ledger
    public let publisher: JobPublisher
    public let results: ResultStore?
    private let logger: Logger

    public init(registry: JobRegistry, ledger: Ledger, publisher: JobPublisher, results: ResultStore?, logger: Logger) {
        self.registry = registry
        self.ledger = ledger
        self.publisher = publisher
        self.results = results
        self.logger = logger
    }

    /// Enqueues one job; returns once the broker confirmed it.
    /// - Throws: `EnvelopeError` (unknown kind, bad arguments, bad field), a Postgres or AMQP error.
    public func enqueue(_ request: JobRequest) async throws -> EnqueueResult {
        try await enqueue(batch: [request])[0].get()
    }

    /// Enqueues several jobs; one result per request, in order.
    public func enqueue(batch requests: [JobRequest]) async throws -> [Result<EnqueueResult, any Error>] {
        var out = [Result<EnqueueResult, any Error>?](repeating: nil, count: requests.count)
        var prepared: [(index: Int, envelope: Envelope, workloadClass: WorkloadClass, state: JobState)] = []
        let now = Date()
        for (i, r) in requests.enumerated() {
            do {
                let (e, c) = try prepare(r, now: now)
                let delayed = (e.notBefore.map { $0.timeIntervalSince(now) } ?? 0) > DelayLadder.tolerance.seconds
                prepared.append((i, e, c, delayed ? .scheduled : .available))
            } catch {
                out[i] = .failure(error)
            }
        }
        // Ledger first: a job is published only once its row exists.
        let inserts = await withTaskGroup(of: (Int, Result<InsertOutcome, any Error>).self) { group in
            for (n, p) in prepared.enumerated() {
                group.addTask { [ledger] in
                    do {
                        return (n, .success(try await ledger.insert(LedgerInsert(envelope: p.envelope, workloadClass: p.workloadClass.rawValue, state: p.state))))
                    } catch {
                        return (n, .failure(error))
                    }
                }
            }
            var r = [Result<InsertOutcome, any Error>?](repeating: nil, count: prepared.count)
            for await (n, result) in group { r[n] = result }
            return r.map { $0! }
        }
        var toPublish: [(n: Int, message: AMQPOutgoingMessage)] = []
        for (n, p) in prepared.enumerated() {
            switch inserts[n] {
            case .failure(let error): out[p.index] = .failure(error)
            case .success(.duplicate(let holder)):
                out[p.index] = .success(EnqueueResult(id: holder, duplicate: true, state: p.state, workloadClass: p.workloadClass))
            case .success(.inserted):
                let tier = p.envelope.notBefore.flatMap { DelayLadder.tier(forRemaining: .milliseconds(Int64($0.timeIntervalSince(now) * 1000))) }
                toPublish.append((n, publisher.message(for: p.envelope, workloadClass: p.workloadClass.rawValue, tier: tier)))
            }
        }
        var published = await publisher.publish(toPublish.map(\.message))
        // What the broker did not confirm (a connection lost mid-flight, a cluster node gone) is
        // published again on a new connection, by the same job id: a copy that did arrive is
        // deduplicated by the ledger's claim, so this never runs a job twice.
        for _ in 0..<2 {
            let unconfirmed = published.indices.filter { if case .failure = published[$0] { true } else { false } }
            if unconfirmed.isEmpty { break }
            let again = await publisher.publish(unconfirmed.map { toPublish[$0].message })
            for (i, r) in zip(unconfirmed, again) { published[i] = r }
        }
        var failed: [JobID] = []
        for (k, item) in toPublish.enumerated() {
            let p = prepared[item.n]
            switch published[k] {
            case .success:
                out[p.index] = .success(EnqueueResult(id: p.envelope.id, duplicate: false, state: p.state, workloadClass: p.workloadClass))
                results?.record(JobStatusUpdate(
                    id: p.envelope.id, state: p.state,
                    fields: JobStatusUpdate.fields(of: p.envelope, workloadClass: p.workloadClass.rawValue), stateIfAbsent: true))
            case .failure(let error):
                failed.append(p.envelope.id)
                out[p.index] = .failure(error)
            }
        }
        if !failed.isEmpty {
            do {
                try await ledger.markPublishFailed(failed)
            } catch {
                logger.error("could not mark unpublished jobs", metadata: ["error": "\(error)", "jobs": "\(failed.count)"])
            }
        }
        if let results { await results.flush() }
        return out.map { $0! }
    }

    private func prepare(_ r: JobRequest, now: Date) throws(EnvelopeError) -> (Envelope, WorkloadClass) {
        try registry.validate(kind: r.kind, args: r.args, target: r.target)
        guard let workloadClass = r.workloadClass ?? registry.defaultClass(of: r.kind) else {
            throw EnvelopeError(.unknownKind, field: "kind", reason: "no class for '\(r.kind)'")
        }
        // The catalog may limit what this process's signing key enqueues (`producers:`): refused
        // here rather than dead-lettered by every worker.
        if let keyID = publisher.signer?.signingKeyID,
           let refusal = registry.catalog.producerRefusal(keyID: keyID, kind: r.kind, workloadClass: workloadClass.rawValue, target: r.target) {
            throw EnvelopeError(.notAllowed, field: "kind", reason: refusal)
        }
        let defaults = registry.defaults(of: r.kind) ?? .standard
        let e = Envelope(
            id: r.id ?? .make(), kind: r.kind, args: r.args, target: r.target, attempt: 1,
            maxAttempts: r.maxAttempts ?? defaults.maxAttempts, timeoutSeconds: r.timeoutSeconds ?? defaults.timeoutSeconds, enqueuedAt: now, notBefore: r.notBefore, uniqueKey: r.uniqueKey,
            priority: r.priority, traceID: r.traceID, producer: r.producer, enqueuedBy: r.enqueuedBy)
        // Round-trip through the wire validation so a producer can never publish what a worker rejects.
        _ = try Envelope.decode(e.json)
        return (e, workloadClass)
    }
}
