// ResultStore: job status, results and the event stream in Redis (the dashboard contract).
//
// Keys (RedisKeys, under a configurable prefix, `sluice:` by default):
//   <prefix>job:<id>   hash: state, kind, class, attempt, enqueued_at, started_at, finished_at,
//                      duration_ms, progress (JSON), error, result (JSON), worker; EXPIRE ttl
//   <prefix>events     stream, XADD MAXLEN ~ 100000: id, kind, class, state, attempt, at [, error]
// `record` only buffers (latest fields per job win; events in order, bounded) and never
// blocks or fails a job; `flush` writes the buffer in one pipeline, one flush at a time. A
// `running` update waits up to `runningLinger` (20 ms) for the flush another update starts, so a
// short job's start and end reach Redis in one pipeline; any other update is written at once,
// with everything buffered. While Redis is down the buffer is kept (up to `maxBuffered` jobs)
// and written when it returns: `run()` retries with backoff. Redis replicates asynchronously, so
// a failover can lose the last writes the old master acknowledged: the job hashes written
// within `rewriteWindow` before a failure are written again with the buffer once Redis is back
// (events are not: a stream entry written twice would show twice). The ledger stays the truth;
// Redis is a cache.

import ClientSupport
import Foundation
import Logging
import Redis
import SluiceCore
import Synchronization

public final class ResultStore: Sendable {
    public struct Configuration: Sendable {
        /// Prefix of every key. Default `sluice:`.
        public var prefix: String
        /// Lifetime of a job hash after its last update. Default 7 days.
        public var ttl: Duration
        /// Approximate cap of the events stream. Default 100 000.
        public var streamLength: Int
        /// Jobs (and events) kept while Redis is unreachable. Default 100 000.
        public var maxBuffered: Int
        /// Job hashes written this recently before Redis failed are written again when it is
        /// back (what a failover lost). Default 10 s.
        public var rewriteWindow: Duration
        /// How long a `running` update (a start, a progress) may wait in the buffer for the
        /// flush of another update: a job that ends sooner has its start and its end written
        /// in one pipeline (one flush less per job, on the worker and on Redis). Zero (or less)
        /// writes every update at once. Default 20 ms.
        public var runningLinger: Duration

        public init(prefix: String = "sluice:", ttl: Duration = .seconds(7 * 86_400), streamLength: Int = 100_000,
                    maxBuffered: Int = 100_000, rewriteWindow: Duration = .seconds(10), runningLinger: Duration = .milliseconds(20)) {
            self.prefix = prefix
            self.ttl = ttl
            self.streamLength = streamLength
            self.maxBuffered = maxBuffered
            self.rewriteWindow = rewriteWindow
            self.runningLinger = runningLinger
        }
    }

    private struct Pending {
        var state: JobState
        var stateIfAbsent: Bool
        var fields: [String: String]

        /// Folds a later update in: its fields win, and its state unless it is only a default
        /// (`stateIfAbsent`) over a real state.
        mutating func absorb(_ later: Pending) {
            fields.merge(later.fields) { _, n in n }
            if !later.stateIfAbsent || stateIfAbsent {
                state = later.state
                stateIfAbsent = later.stateIfAbsent && stateIfAbsent
            }
        }
    }

    private struct Event {
        var id: JobID
        var state: JobState
        var fields: [String: String]
    }

    private struct State {
        var jobs: [JobID: Pending] = [:]
        var order: [JobID] = []
        var events: [Event] = []
        var flushing = false
        var droppedEvents = 0
        var failing = false
        /// A flush is due when `runningLinger` has passed (a `running` update is waiting).
        var lingering = false
        /// Job writes that succeeded within `rewriteWindow`, oldest first, with when.
        var recent: [(at: ContinuousClock.Instant, id: JobID, pending: Pending)] = []
    }

    public let configuration: Configuration
    public let redis: RedisPool
    private let logger: Logger
    private let state = Mutex(State())
    private let signal: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>

    public init(redis: RedisPool, configuration: Configuration = Configuration(), logger: Logger) {
        self.redis = redis
        self.configuration = configuration
        self.logger = logger
        (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Every key name, under `configuration.prefix`.
    public var keys: RedisKeys { RedisKeys(prefix: configuration.prefix) }
    public func key(_ id: JobID) -> String { keys.job(id.description) }
    public var eventsKey: String { keys.events }

    /// Replaces the fields of the hash `<prefix><name>` at once (dashboard outputs such as a
    /// view's `refreshed_at`). Best effort: returns false, and logs, when Redis is unavailable.
    @discardableResult
    public func writeOutput(_ name: String, fields: [String: String]) async -> Bool {
        let key = keys.output(name)
        var hset: [RedisArgument] = ["HSET", .init(key)]
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) {
            hset.append(.init(k))
            hset.append(.init(v))
        }
        do {
            // DEL + HSET in MULTI so a reader never sees a half-written output.
            let replies = try await redis.pipeline([["MULTI"], ["DEL", .init(key)], hset, ["EXEC"]])
            for r in replies { _ = try r.get() }
            return true
        } catch {
            logger.warning("redis output not written", metadata: ["redis.key": .string(key), "error": "\(error)"])
            return false
        }
    }

    /// The fields of an update its event carries (beside id, state and at).
    private static let eventFields = [JobStatusField.kind, JobStatusField.workloadClass, JobStatusField.attempt, JobStatusField.error]

    /// Buffers an update; `run()` (or the next `flush()`) writes it.
    public func record(_ update: JobStatusUpdate) {
        let linger = update.state == .running ? configuration.runningLinger : .zero
        let arm = state.withLock { s -> Bool in
            if var p = s.jobs[update.id] {
                if !update.stateIfAbsent || p.stateIfAbsent {
                    p.state = update.state
                    p.stateIfAbsent = update.stateIfAbsent && p.stateIfAbsent
                }
                p.fields.merge(update.fields) { _, new in new }
                s.jobs[update.id] = p
            } else if s.jobs.count < configuration.maxBuffered {
                s.jobs[update.id] = Pending(state: update.state, stateIfAbsent: update.stateIfAbsent, fields: update.fields)
                s.order.append(update.id)
            }
            if s.events.count < configuration.maxBuffered {
                var f: [String: String] = ["at": Timestamp.format(Date())]
                for k in Self.eventFields { if let v = update.fields[k] { f[k] = String(v.prefix(1024)) } }
                s.events.append(Event(id: update.id, state: update.state, fields: f))
            } else {
                s.droppedEvents += 1
            }
            guard linger > .zero, !s.lingering else { return false }
            s.lingering = true
            return true
        }
        if linger <= .zero {
            signal.yield()
        } else if arm {
            // One timer for every `running` update of the next `runningLinger`: an update of
            // another kind flushes them all sooner, and the timer then finds little or nothing.
            Task { [self] in
                try? await Task.sleep(for: linger)
                state.withLock { $0.lingering = false }
                signal.yield()
            }
        }
    }

    /// Jobs whose status waits to be written.
    public var bufferedJobs: Int { state.withLock { $0.jobs.count } }

    /// Writes what is buffered. Returns false when Redis failed (the updates stay buffered).
    /// When another flush is running it picks up the new updates; this returns at once.
    @discardableResult
    public func flush() async -> Bool {
        guard state.withLock({ s -> Bool in
            if s.flushing { return false }
            s.flushing = true
            return true
        }) else { return true }
        defer { state.withLock { $0.flushing = false } }
        while true {
            let (jobs, order, events) = state.withLock { s in
                let taken = (s.jobs, s.order, s.events)
                s.jobs = [:]
                s.order = []
                s.events = []
                return taken
            }
            if order.isEmpty && events.isEmpty { return true }
            var commands: [[RedisArgument]] = []
            commands.reserveCapacity(order.count * 3 + events.count)
            let ttl = RedisArgument(max(1, Int(configuration.ttl.seconds)))
            for id in order {
                guard let p = jobs[id] else { continue }
                let key = RedisArgument(key(id))
                var hset: [RedisArgument] = ["HSET", key]
                hset.reserveCapacity(4 + 2 * p.fields.count)
                if p.stateIfAbsent {
                    commands.append(["HSETNX", key, RedisArgument(JobStatusField.state), RedisArgument(p.state.rawValue)])
                } else {
                    hset.append(RedisArgument(JobStatusField.state))
                    hset.append(RedisArgument(p.state.rawValue))
                }
                // Appended one by one: `+= [k, v]` made an array per field.
                for (k, v) in p.fields {
                    hset.append(RedisArgument(k))
                    hset.append(RedisArgument(v))
                }
                if hset.count > 2 { commands.append(hset) }
                commands.append(["EXPIRE", key, ttl])
            }
            let stream = RedisArgument(eventsKey)
            let maxLen = RedisArgument(configuration.streamLength)
            for e in events {
                var xadd: [RedisArgument] = ["XADD", stream, "MAXLEN", "~", maxLen, "*", "id", RedisArgument(e.id.description),
                                             RedisArgument(JobStatusField.state), RedisArgument(e.state.rawValue)]
                xadd.reserveCapacity(xadd.count + 2 * e.fields.count)
                for (k, v) in e.fields {
                    xadd.append(RedisArgument(k))
                    xadd.append(RedisArgument(v))
                }
                commands.append(xadd)
            }
            do {
                _ = try await redis.pipeline(commands)
                let now = ContinuousClock.now
                let recovered = state.withLock { s -> Bool in
                    defer { s.failing = false }
                    let horizon = now - configuration.rewriteWindow
                    if let keep = s.recent.firstIndex(where: { $0.at >= horizon }) {
                        s.recent.removeFirst(keep)
                    } else {
                        s.recent.removeAll()
                    }
                    for id in order where s.recent.count < configuration.maxBuffered {
                        if let p = jobs[id] { s.recent.append((now, id, p)) }
                    }
                    return s.failing
                }
                if recovered { logger.info("redis is back; buffered job statuses written") }
            } catch {
                // Put the batch back behind anything newer, keeping the newer fields.
                let first = state.withLock { s -> Bool in
                    // What the last successful flushes wrote may be lost with a failed master:
                    // it goes back first (oldest), under this batch and anything newer.
                    var requeue: [JobID: Pending] = [:]
                    var requeueOrder: [JobID] = []
                    for r in s.recent {
                        if requeue[r.id] != nil {
                            requeue[r.id]!.absorb(r.pending)
                        } else {
                            requeue[r.id] = r.pending
                            requeueOrder.append(r.id)
                        }
                    }
                    s.recent.removeAll()
                    for id in order {
                        guard let p = jobs[id] else { continue }
                        if requeue[id] != nil {
                            requeue[id]!.absorb(p)
                        } else {
                            requeue[id] = p
                            requeueOrder.append(id)
                        }
                    }
                    for id in requeueOrder {
                        guard var old = requeue[id] else { continue }
                        if let newer = s.jobs[id] {
                            old.absorb(newer)
                            s.jobs[id] = old
                        } else if s.jobs.count < configuration.maxBuffered {
                            s.jobs[id] = old
                            s.order.append(id)
                        }
                    }
                    let room = max(0, configuration.maxBuffered - s.events.count)
                    s.droppedEvents += max(0, events.count - room)
                    s.events = Array(events.suffix(room)) + s.events
                    defer { s.failing = true }
                    return !s.failing
                }
                if first { logger.warning("redis unavailable; buffering job statuses", metadata: ["error": "\(error)"]) }
                return false
            }
        }
    }

    /// Flushes whenever updates arrive, retrying with backoff while Redis is down, until the
    /// task is cancelled; then flushes once more.
    public func run() async {
        let backoff = Backoff(base: .milliseconds(100), cap: .seconds(2), jitter: 0.2)
        var failures = 0
        var iterator = signals.makeAsyncIterator()
        while !Task.isCancelled {
            if failures == 0 {
                guard await iterator.next() != nil else { break }
            } else {
                try? await Task.sleep(for: backoff.delay(attempt: failures))
            }
            failures = await flush() ? 0 : failures + 1
        }
        await flush()
    }

    /// Ends `run()` after its final flush.
    public func finish() {
        signal.finish()
    }

    /// The job hash, or nil when Redis has none (expired, or never written).
    public func read(_ id: JobID) async throws -> [String: String]? {
        let reply = try await redis.send(["HGETALL", RedisArgument(key(id))])
        guard let dict = reply.dictionary, !dict.isEmpty else { return nil }
        return dict
    }
}
