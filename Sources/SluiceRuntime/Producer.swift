// Producer: enqueues jobs: validate, insert into the ledger and publish with confirm (at once
// for a job alone without a unique key; insert first for a batch and for a job with a unique
// key), then record the status in Redis.
//
// `enqueue` returns only an id whose row is committed and whose message is confirmed, or
// throws: when the publish fails the ledger row is marked `discarded` (error `publish_failed`)
// so it frees its unique key and no rescue will ever run it; when the insert fails after a
// confirmed publish it throws `EnqueueError` (published: the job will run and its worker records
// it). A duplicate of a live unique key returns the existing id and publishes nothing.
// Delayed jobs go through the delay ladder. Concurrent enqueues share ledger statements and
// confirm round trips. A batch's jobs due now without a unique key share messages (JobPack): one
// publish and confirm for up to `packJobs` of them, each keeping its own row and fate; so do
// jobs enqueued alone at the same moment (the publishes that gather while one is in flight).

import Foundation
import Logging
import RabbitMQ
import SluiceCore

public struct JobRequest: Sendable {
    /// The job's id; nil makes a new UUIDv7. Set it to know the id before `enqueue` returns.
    /// An id whose ledger row exists already counts as enqueued, and the ledger runs it at most
    /// once more if it is not final: enqueueing the same id again is safe.
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

/// An enqueue that failed after its message was confirmed: the job will run (its worker creates
/// its ledger row from the envelope), but its own insert failed. Enqueueing the same id again is
/// safe: the insert accepts the row that exists, and the ledger runs a job once.
public struct EnqueueError: Error, CustomStringConvertible {
    public var id: JobID
    public var published: Bool
    public var cause: any Error
    public var description: String {
        "enqueue of job \(id): the message was published but the ledger insert failed (\(cause)); its worker will record it"
    }
}

public final class Producer: Sendable {
    public let registry: JobRegistry
    public let ledger: Ledger
    public let publisher: JobPublisher
    public let results: ResultStore?
    /// At most this many jobs of a batch share one message (JobPack); 0 or 1: a message per job.
    public let packJobs: Int
    private let logger: Logger
    /// Jobs enqueued alone (due now, no unique key) whose publishes overlap: while one publish is
    /// in flight the next ones gather and go together, several to a message (JobPack), as a
    /// batch's would. A job alone on a quiet system is published at once, alone.
    private let singles: Batcher<AloneJob, Void>

    public init(registry: JobRegistry, ledger: Ledger, publisher: JobPublisher, results: ResultStore?,
                packJobs: Int = Producer.defaultPackJobs, logger: Logger) {
        self.registry = registry
        self.packJobs = packJobs
        self.ledger = ledger
        self.publisher = publisher
        self.results = results
        self.logger = logger
        singles = Batcher(maxBatch: 1000, maxFlushers: 2) { [publisher] jobs in
            await Producer.publishTogether(jobs, publisher: publisher, packJobs: packJobs)
        }
    }

    /// A job enqueued alone, due now, without a unique key: it may share a message with others.
    struct AloneJob: Sendable {
        var envelope: Envelope
        var workloadClass: WorkloadClass
    }

    /// Publishes jobs enqueued alone at the same time: several to a message per class and
    /// priority (a class's only job goes alone, as a plain message); one result per job.
    static func publishTogether(_ jobs: [AloneJob], publisher: JobPublisher, packJobs: Int) async -> [Result<Void, any Error>] {
        let (messages, carried) = outgoing(Array(jobs.indices), jobs.map { ($0.envelope, $0.workloadClass) }, now: Date(),
                                           publisher: publisher, packJobs: packJobs)
        var out = [Result<Void, any Error>](repeating: .success(()), count: jobs.count)
        for (indices, result) in zip(carried, await publishConfirmed(messages, publisher: publisher)) {
            for n in indices { out[n] = result }
        }
        return out
    }

    /// Jobs per pack unless configured (`SLUICE_PACK_JOBS`).
    public static let defaultPackJobs = 500

    /// Enqueues one job; returns once the broker confirmed it.
    /// - Throws: `EnvelopeError` (unknown kind, bad arguments, bad field), a Postgres or AMQP error.
    public func enqueue(_ request: JobRequest) async throws -> EnqueueResult {
        try await enqueue(batch: [request])[0].get()
    }

    /// Enqueues several jobs; one result per request, in order. The jobs due now without a
    /// unique key travel several to a message (JobPack, up to `packJobs` per class and priority),
    /// each with its own ledger row, status, retries and dead letter; the rest one per message.
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
        // A job alone, without a unique key, is inserted and published at once, and counts as
        // enqueued when both are durable: a worker that receives it before the insert commits
        // creates the row from the envelope, and the insert accepts a row already there (then
        // looks again for a copy the worker already moved to a final leaf). A batch is inserted
        // first and published once its rows are committed: its latency matters less than its
        // cost, and no worker can meet its jobs before their rows, so the insert needs no second
        // look (12.5 µs of Postgres time per job in `bench throughput`). A job with a unique key
        // is published only once its insert won the key (a duplicate publishes nothing).
        let parallel = prepared.count == 1 ? prepared.indices.filter { prepared[$0].envelope.uniqueKey == nil } : []
        // A job alone and due now may share a message with concurrent ones (`singles`, which
        // builds its message); a delayed one is published here, alone.
        let alone: AloneJob? = parallel.count == 1 && prepared[parallel[0]].envelope.notBefore == nil
            ? AloneJob(envelope: prepared[parallel[0]].envelope, workloadClass: prepared[parallel[0]].workloadClass) : nil
        let (early, carried) = alone != nil ? ([], [parallel])
            : Producer.outgoing(parallel, prepared.map { ($0.envelope, $0.workloadClass) }, now: now, publisher: publisher, packJobs: packJobs)
        // Their Redis status goes out beside the insert and the publish, not after them (one
        // round trip less on the call): `available` only if the worker wrote nothing yet, and
        // overwritten below if the publish fails.
        for n in parallel { recordStatus(prepared[n].envelope, prepared[n].workloadClass, prepared[n].state) }
        let rows = prepared.map { LedgerInsert(envelope: $0.envelope, workloadClass: $0.workloadClass.rawValue, state: $0.state) }
        // An id the caller chose may have been published before (an enqueue that threw after its
        // publish, retried): its worker may have recorded it already, so its insert looks again.
        let secondLook = !parallel.isEmpty || requests.contains { $0.id != nil }
        var inserts: [Result<InsertOutcome, any Error>] = []
        var published = [Result<Void, any Error>?](repeating: nil, count: prepared.count)
        await withTaskGroup(of: EnqueueStep.self) { group in
            group.addTask {
                if let job = alone {
                    do {
                        try await self.singles.submit(job)
                        return .published([.success(())])
                    } catch {
                        return .published([.failure(error)])
                    }
                }
                return .published(await Producer.publishConfirmed(early, publisher: self.publisher))
            }
            group.addTask { .inserted(await self.insert(rows, secondLook: secondLook)) }
            group.addTask {
                await self.flushStatus()
                return .flushed
            }
            for await step in group {
                switch step {
                case .published(let r):
                    for (jobs, one) in zip(carried, r) { for n in jobs { published[n] = one } }
                case .inserted(let r): inserts = r
                case .flushed: break
                }
            }
        }
        // A confirmed job whose insert failed: its message is out, so try the insert again (it
        // accepts the row a worker may have made from the message meanwhile).
        for attempt in 1...2 {
            let retry = parallel.filter { if case .failure = inserts[$0], case .success? = published[$0] { true } else { false } }
            if retry.isEmpty { break }
            try? await Task.sleep(for: .milliseconds(100 * attempt))
            let again = await insert(retry.map { LedgerInsert(envelope: prepared[$0].envelope, workloadClass: prepared[$0].workloadClass.rawValue, state: prepared[$0].state) },
                                     secondLook: true)
            for (n, r) in zip(retry, again) { inserts[n] = r }
        }
        let late = prepared.indices.filter { n in
            if published[n] == nil, case .success(.inserted) = inserts[n] { true } else { false }
        }
        let (lateMessages, lateCarried) = Producer.outgoing(late, prepared.map { ($0.envelope, $0.workloadClass) }, now: now,
                                                            publisher: publisher, packJobs: packJobs)
        for (jobs, one) in zip(lateCarried, await Producer.publishConfirmed(lateMessages, publisher: publisher)) {
            for n in jobs { published[n] = one }
        }
        var failed: [JobID] = []
        for (n, p) in prepared.enumerated() {
            switch (inserts[n], published[n]) {
            case (.success(.duplicate(let holder)), _):
                out[p.index] = .success(EnqueueResult(id: holder, duplicate: true, state: p.state, workloadClass: p.workloadClass))
            case (.success(.inserted), .success?):
                out[p.index] = .success(EnqueueResult(id: p.envelope.id, duplicate: false, state: p.state, workloadClass: p.workloadClass))
                if !parallel.contains(n) { recordStatus(p.envelope, p.workloadClass, p.state) }
            case (.success(.inserted), .failure(let error)?):
                failed.append(p.envelope.id)
                out[p.index] = .failure(error)
                if parallel.contains(n) {
                    results?.record(JobStatusUpdate(id: p.envelope.id, state: .discarded, fields: [JobStatusField.error: "publish_failed"]))
                }
            case (.failure(let error), .success?):
                // Published, no row of ours: the job will run, and the worker that takes it
                // records it (it creates a missing row from the envelope), so it never runs
                // unrecorded. The caller is told; enqueueing it again with the same id is safe.
                logger.error("a job was published but its ledger insert failed; its worker will record it",
                             metadata: ["job.id": "\(p.envelope.id)", "error": "\(error)"])
                out[p.index] = .failure(EnqueueError(id: p.envelope.id, published: true, cause: error))
            case (.failure(let error), _):
                out[p.index] = .failure(error)
            case (.success(.inserted), nil):
                out[p.index] = .failure(LedgerError(.malformedRow, "job \(p.envelope.id) was inserted but never published"))
            }
        }
        if !failed.isEmpty {
            do {
                try await ledger.markPublishFailed(failed)
            } catch {
                logger.error("could not mark unpublished jobs", metadata: ["error": "\(error)", "jobs": "\(failed.count)"])
            }
        }
        await flushStatus()
        return out.map { $0! }
    }

    /// One of the three things an enqueue waits for at once.
    private enum EnqueueStep: Sendable {
        case published([Result<Void, any Error>])
        case inserted([Result<InsertOutcome, any Error>])
        case flushed
    }

    private func recordStatus(_ envelope: Envelope, _ workloadClass: WorkloadClass, _ state: JobState) {
        results?.record(JobStatusUpdate(
            id: envelope.id, state: state,
            fields: JobStatusUpdate.fields(of: envelope, workloadClass: workloadClass.rawValue), stateIfAbsent: true))
    }

    private func flushStatus() async {
        if let results { await results.flush() }
    }

    /// Inserts the rows: a single one through the ledger's batcher (shared with concurrent
    /// enqueues), several with one statement per thousand.
    private func insert(_ rows: [LedgerInsert], secondLook: Bool) async -> [Result<InsertOutcome, any Error>] {
        guard rows.count > 1 else {
            guard let row = rows.first else { return [] }
            do {
                return [.success(try await ledger.insert(row))]
            } catch {
                return [.failure(error)]
            }
        }
        return await ledger.insert(batch: rows, secondLook: secondLook)
    }

    /// The messages that carry the jobs at `indices` of `jobs`, and which jobs each carries. Those
    /// due now travel several to a message (JobPack) per class and priority; a delayed job, a
    /// unique-key job and a class's only job of the batch go alone.
    private static func outgoing(_ indices: [Int], _ jobs: [(envelope: Envelope, workloadClass: WorkloadClass)], now: Date,
                                 publisher: JobPublisher, packJobs: Int) -> (messages: [AMQPOutgoingMessage], carried: [[Int]]) {
        var messages: [AMQPOutgoingMessage] = []
        var carried: [[Int]] = []
        var alone: [Int] = []
        if packJobs > 1 {
            var groups: [String: [Int]] = [:]
            var order: [String] = []
            for n in indices {
                guard jobs[n].envelope.notBefore == nil, jobs[n].envelope.uniqueKey == nil else { alone.append(n); continue }
                let key = "\(jobs[n].workloadClass.rawValue)\u{0}\(jobs[n].envelope.priority ?? -1)"
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(n)
            }
            for key in order {
                let group = groups[key]!
                guard group.count > 1 else { alone.append(group[0]); continue }
                let first = jobs[group[0]]
                var offset = 0
                for (m, count) in publisher.packs(group.map { jobs[$0].envelope }, workloadClass: first.workloadClass.rawValue,
                                                  priority: first.envelope.priority, maxJobs: packJobs) {
                    messages.append(m)
                    carried.append(Array(group[offset..<(offset + count)]))
                    offset += count
                }
            }
        } else {
            alone = indices
        }
        for n in alone {
            let e = jobs[n].envelope
            let tier = e.notBefore.flatMap { DelayLadder.tier(forRemaining: .milliseconds(Int64($0.timeIntervalSince(now) * 1000))) }
            messages.append(publisher.message(for: e, workloadClass: jobs[n].workloadClass.rawValue, tier: tier))
            carried.append([n])
        }
        return (messages, carried)
    }

    /// Publishes and waits for the confirms. What the broker did not confirm (a connection lost
    /// mid-flight, a cluster node gone) is published again on a new connection, by the same job
    /// id: a copy that did arrive is deduplicated by the ledger, so this never records a job twice.
    private static func publishConfirmed(_ messages: [AMQPOutgoingMessage], publisher: JobPublisher) async -> [Result<Void, any Error>] {
        var published = await publisher.publish(messages)
        for _ in 0..<2 {
            let unconfirmed = published.indices.filter { if case .failure = published[$0] { true } else { false } }
            if unconfirmed.isEmpty { break }
            let again = await publisher.publish(unconfirmed.map { messages[$0] })
            for (i, r) in zip(unconfirmed, again) { published[i] = r }
        }
        return published
    }

    /// Checks a request as `enqueue` would (kind, arguments, target, class, the signing key's
    /// grant) without writing anything: a bulk caller checks every job before enqueueing one.
    public func check(_ request: JobRequest) throws(EnvelopeError) {
        _ = try prepare(request, now: Date())
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
