// Failure tests with real processes and servers: a worker killed with SIGKILL, a worker
// drained with SIGTERM, Redis down while jobs run, a RabbitMQ broker restarted while jobs are
// produced and consumed, and a job longer than the broker's consumer_timeout.

import Foundation
import Glibc
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite("Failures", .timeLimit(.minutes(4)))
struct FailureTests {
    @Test("kill -9 of a worker while jobs run: a second worker finishes every job, each completed once")
    func killedWorker() async throws {
        try await withHarness { h in
            let ids = try await h.producer.enqueue(batch: (0..<24).map { _ in JobRequest(kind: .sleep, args: ["ms": 300]) })
                .map { try $0.get().id }
            let a = try WorkerProcess(h, arguments: ["--concurrency", "4", "--lease", "2s", "--rescue-interval", "300ms"])
            // Wait until A runs jobs, then kill it mid-job.
            var running = 0
            for _ in 0..<200 {
                running = try await h.ledger.countByState(ids: ids)[.running] ?? 0
                if running >= 3 { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(running >= 3, "worker A never ran jobs; log: \(a.log)")
            a.kill9()
            let b = try WorkerProcess(h, arguments: ["--concurrency", "4", "--lease", "2s", "--rescue-interval", "300ms"])
            let jobs = try await h.waitFinal(ids, seconds: 40)
            let status = b.terminate(waiting: 10)
            #expect(status == 0, "worker B log: \(b.log)")
            #expect(jobs.count == ids.count)
            #expect(jobs.values.allSatisfy { $0.state == .completed }, "states: \(jobs.values.map(\.state))")
            // The jobs A was running when it died were rescued and ran again as attempt 2.
            #expect(jobs.values.contains { $0.attempt == 2 }, "no rescued job")
            // Each job completed once: one `completed` event per job in the stream.
            let entries = try await h.redis.send(["XRANGE", .init(h.results.eventsKey), "-", "+"])
            var completed: [String: Int] = [:]
            for entry in entries.array ?? [] {
                guard let fields = entry.array?.last?.array else { continue }
                var f: [String: String] = [:]
                var i = 0
                while i + 1 < fields.count { f[fields[i].string ?? ""] = fields[i + 1].string; i += 2 }
                if f["state"] == "completed", let id = f["id"] { completed[id, default: 0] += 1 }
            }
            #expect(completed.values.allSatisfy { $0 == 1 }, "\(completed)")
        }
    }

    @Test("SIGTERM: running jobs finish within the grace period, the rest stay queued, exit 0")
    func drain() async throws {
        try await withHarness { h in
            let w = try WorkerProcess(h, arguments: ["--concurrency", "2", "--grace", "10s"])
            // Jobs long enough that the first pair cannot finish before the SIGTERM lands.
            let ids = try await h.producer.enqueue(batch: (0..<6).map { _ in JobRequest(kind: .sleep, args: ["ms": 2500]) })
                .map { try $0.get().id }
            // Short jobs (under a tenth of the 30 s lease) run unclaimed: their Redis status says running.
            try await waitUntil {
                var n = 0
                for id in ids where (try await h.results.read(id))?["state"] == "running" { n += 1 }
                return n >= 2
            }
            let status = w.terminate(waiting: 15)
            #expect(status == 0, "log: \(w.log)")
            let counts = try await h.ledger.countByState(ids: ids)
            #expect(counts[.completed] == 2, "\(counts)")
            #expect(counts[.available] == 4, "\(counts)")
            // Nothing was lost: another worker runs the rest.
            let w2 = try WorkerProcess(h, arguments: ["--concurrency", "4", "--grace", "10s"])
            let jobs = try await h.waitFinal(ids, seconds: 20)
            #expect(jobs.values.allSatisfy { $0.state == .completed && $0.attempt == 1 })
            #expect(w2.terminate(waiting: 10) == 0)
        }
    }

    @Test("SIGTERM past the grace period: running jobs are cancelled and handed back, then finished by another worker")
    func drainPastGrace() async throws {
        try await withHarness { h in
            let w = try WorkerProcess(h, arguments: ["--concurrency", "2", "--grace", "300ms", "--lease", "2s"])
            let ids = try await h.producer.enqueue(batch: (0..<2).map { _ in JobRequest(kind: .sleep, args: ["ms": 8000]) })
                .map { try $0.get().id }
            try await waitUntil { (try await h.ledger.countByState(ids: ids)[.running] ?? 0) >= 2 }
            let start = Date()
            let status = w.terminate(waiting: 10)
            #expect(status == 0, "log: \(w.log)")
            #expect(Date().timeIntervalSince(start) < 6, "the drain did not cancel the 8 s statements")
            #expect(w.log.contains("grace period over"), "log: \(w.log)")
            let w2 = try WorkerProcess(h, arguments: ["--concurrency", "2", "--lease", "2s"])
            let jobs = try await h.waitFinal(ids, seconds: 30)
            #expect(jobs.values.allSatisfy { $0.state == .completed }, "\(jobs.values.map(\.state)) log: \(w2.log)")
            #expect(w2.terminate(waiting: 10) == 0)
        }
    }

    @Test("Redis down: jobs complete in the ledger; their Redis status is written when Redis returns")
    func redisDown() async throws {
        let redis = try PrivateRedisServer()
        defer { redis.stop() }
        try await withHarness(redisURL: redis.url) { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                redis.kill()
                let ids = try await h.producer.enqueue(batch: (0..<20).map { i in JobRequest(kind: .noop, args: ["i": .int(Int64(i))]) })
                    .map { try $0.get().id }
                let jobs = try await h.waitFinal(ids)
                #expect(jobs.values.filter { $0.state == .completed }.count == 20)
                try redis.start()
                // The worker's store retries with backoff (≤ 2 s).
                var written = 0
                for _ in 0..<100 {
                    written = 0
                    for id in ids where (try? await h.results.read(id))?["state"] == "completed" { written += 1 }
                    if written == ids.count { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(written == ids.count)
                let hash = try #require(try await h.results.read(ids[7]))
                #expect(hash["result"] == #"{"i":7}"#)
            }
        }
    }

    /// Run claim first (threshold zero, the default) and with the short-job path on: a restart
    /// redelivers unacked messages while their first run may still be recording, so a short
    /// job's second record must find the first one's row (it once made a second row instead).
    @Test("a private broker: a job longer than consumer_timeout completes once; a restart loses no confirmed job",
          arguments: [Duration.zero, .milliseconds(500)])
    func privateBroker(shortJobThreshold: Duration) async throws {
        let broker = try await PrivateRabbitMQ.launch(consumerTimeoutMS: 1000)
        defer { broker.stop() }
        try await withHarness(amqpURL: broker.url) { h in
            var configuration = h.workerConfiguration(classes: [.analytics, .maintenance], concurrency: 4)
            for i in configuration.classes.indices { configuration.classes[i].shortJobThreshold = shortJobThreshold }
            let worker = try h.makeWorker(configuration)
            try await h.withWorker(worker) {
                // 1. consumer_timeout: the job is acked right after its claim, so the broker's
                // 1 s delivery timeout never fires however long the job runs. RabbitMQ 3.10
                // evaluates the timeout once a minute, so only a job over ~60 s can show the
                // broker acting: SLUICE_SLOW_TESTS=1 runs a 75 s job and checks that a control
                // consumer holding a delivery unacked meanwhile is cut off.
                let slow = ProcessInfo.processInfo.environment["SLUICE_SLOW_TESTS"] == "1"
                let jobMS: Int64 = slow ? 75_000 : 4_000
                let control = try await AMQPConnection.connect(configuration: h.amqp, logger: testLogger)
                let channel = try await control.openChannel()
                let controlQueue = h.topology.prefix + ".control"
                try await channel.declareQueue(controlQueue, durable: false, autoDelete: false)
                let holder = try await AMQPConsumer.start(configuration: h.amqp, queue: controlQueue, prefetch: 1, logger: testLogger)
                let publisher = try await AMQPPublisher.connect(configuration: h.amqp, logger: testLogger)
                try await publisher.publish(AMQPMessage("x"), routingKey: controlQueue)
                await publisher.close()
                let long = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": .int(jobMS)], workloadClass: .maintenance))
                let job = try #require(try await h.waitFinal([long.id], seconds: Double(jobMS) / 1000 + 30)[long.id])
                #expect(job.state == .completed)
                #expect(job.attempt == 1)
                #expect(job.finishedAt!.timeIntervalSince(job.startedAt!) >= Double(jobMS) / 1000 - 0.1)
                #expect(worker.statistics.skipped == 0, "the job's message was redelivered")
                if slow {
                    #expect(holder.isBroken, "the broker never enforced consumer_timeout on the control consumer")
                }
                await holder.stop()
                _ = try? await channel.deleteQueue(controlQueue)
                await control.close()

                // 2. Restart while producing and consuming.
                let outcome = Outcomes()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let end = Date().addingTimeInterval(10)
                        while Date() < end {
                            do {
                                let r = try await h.producer.enqueue(JobRequest(kind: .noop))
                                outcome.confirmed(r.id)
                            } catch {
                                outcome.failed()
                                try await Task.sleep(for: .milliseconds(100))
                            }
                            try await Task.sleep(for: .milliseconds(10))
                        }
                    }
                    try await Task.sleep(for: .seconds(1))
                    try await broker.restart()
                    try await group.waitForAll()
                }
                let ids = outcome.ids
                #expect(ids.count > 20)
                let jobs = try await h.waitFinal(ids, seconds: 40)
                let notDone = ids.filter { jobs[$0]?.state != .completed }
                // What became of each: its rows in every leaf (none: the producer's insert never
                // landed; `available`: its message never reached a worker).
                let rows = notDone.isEmpty ? [] : try await h.pool.withConnection { c in
                    try await c.query("""
                        SELECT id::text, tableoid::regclass::text, state, attempt::text, COALESCE(worker, '-'), COALESCE(error, '-'),
                            xmin::text, to_char(enqueued_at, 'MI:SS.MS'), COALESCE(to_char(started_at, 'MI:SS.MS'), '-'),
                            COALESCE(to_char(finished_at, 'MI:SS.MS'), '-')
                        FROM \(PostgresIdentifier.quote(schema: h.schema, "jobs")) WHERE id = ANY($1::uuid[]) ORDER BY id
                        """, [.textArray(notDone.map(\.description))]).map { row in
                        try (0..<10).map { try row.decode($0, as: String.self) }.joined(separator: " ")
                    }
                }
                #expect(notDone.isEmpty, """
                    \(notDone.count) confirmed jobs not completed of \(ids.count); failed enqueues: \(outcome.failures); \
                    their rows: \(rows); worker: \(worker.statistics)
                    """)
            }
        }
    }
}

final class Outcomes: @unchecked Sendable {
    // @unchecked Sendable: all state under `lock`.
    private let lock = NSLock()
    private var confirmedIDs: [JobID] = []
    private var failures_ = 0
    func confirmed(_ id: JobID) { lock.lock(); confirmedIDs.append(id); lock.unlock() }
    func failed() { lock.lock(); failures_ += 1; lock.unlock() }
    var ids: [JobID] { lock.lock(); defer { lock.unlock() }; return confirmedIDs }
    var failures: Int { lock.lock(); defer { lock.unlock() }; return failures_ }
}

/// Polls `condition` every 20 ms until it holds (or `seconds` pass).
func waitUntil(seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
}
