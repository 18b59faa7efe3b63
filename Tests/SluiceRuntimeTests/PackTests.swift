// Packs (JobPack: several jobs in one message) with real servers: a batch travels as one
// message and every job runs once with its own row and status; a failing job of a pack retries
// alone and is dead-lettered alone while the rest complete; a worker killed mid-pack and a new
// one started: every job completed exactly once, never more claimed than the slots; a signed
// pack with one tampered and one unsigned line under SLUICE_REQUIRE_SIGNED=1; a worker still
// reads a job alone in its message (old producers); cancels reach a pack's jobs; `sluice
// enqueue --file` with a bad line; the pack framing itself; the short path over a pack's jobs
// (none claimed, a kill mid-pack reruns only what was not recorded).

import Foundation
import Glibc
import Postgres
import RabbitMQ
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

/// How many of `ids` are in `state` in the ledger.
private func jobsIn(_ h: Harness, _ ids: [JobID], _ state: String) async throws -> Int {
    try await h.pool.withConnection { c in
        try await c.query("SELECT count(*)::int FROM \(PostgresIdentifier.quote(schema: h.schema, "jobs")) WHERE id = ANY($1::uuid[]) AND state = $2",
                          [.textArray(ids.map(\.description)), .text(state)])[0].decode(0, as: Int.self)
    }
}

/// The ids of `ids` whose ledger row is completed.
private func completedIDs(_ h: Harness, _ ids: [JobID]) async throws -> [JobID] {
    try await h.pool.withConnection { c in
        try await c.query("SELECT id FROM \(PostgresIdentifier.quote(schema: h.schema, "jobs")) WHERE id = ANY($1::uuid[]) AND state = 'completed'",
                          [.textArray(ids.map(\.description))]).map { JobID(uuid: try $0.decode(0, as: UUID.self)) }
    }
}

/// Each job's `completed` events in Redis: exactly one, except for a job a killed worker had
/// recorded (in `done`), which may have lost its event with that worker (kill -9 takes the
/// statuses it had not flushed yet; the ledger is the truth, and its redelivery is skipped as
/// final): at most one for those.
private func expectCompletedOnce(_ h: Harness, _ ids: [JobID], done: [JobID]) async throws {
    for id in ids {
        let completedEvents = try await stateEvents(h, id).filter { $0 == "completed" }.count
        if done.contains(id) {
            #expect(completedEvents <= 1, "\(id) recorded completed more than once")
        } else {
            #expect(completedEvents == 1, "\(id) recorded completed \(completedEvents) times")
        }
    }
}

@Suite("Packs", .serialized, .timeLimit(.minutes(4)))
struct PackTests {
    /// The messages waiting in the class's queue, read and requeued (nothing acked).
    func peekQueue(_ h: Harness, _ workloadClass: String = "analytics", expect: Int) async throws -> [AMQPDelivery] {
        let consumer = try await AMQPConsumer.start(configuration: h.amqp, queue: h.topology.queue(for: workloadClass), prefetch: 100,
                                                    logger: testLogger)
        var out: [AMQPDelivery] = []
        let deadline = Date().addingTimeInterval(5)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(5))
                await consumer.stop()
            }
            for try await d in consumer.deliveries {
                out.append(d)
                if out.count >= expect || Date() > deadline { break }
            }
            group.cancelAll()
        }
        await consumer.stop()  // unacked: back to the queue
        return out
    }

    @Test("a batch travels as one message; every job runs once with its own row, attempt and status")
    func packRunsEveryJobOnce() async throws {
        try await withHarness { h in
            let results = try await h.producer.enqueue(batch: (0..<40).map { JobRequest(kind: .noop, args: ["n": .int(Int64($0))]) })
            let ids = try results.map { try $0.get().id }
            #expect(Set(ids).count == 40)
            let waiting = try await peekQueue(h, expect: 2)
            #expect(waiting.count == 1)
            let pack = try #require(waiting.first)
            #expect(JobPack.isPack(pack.properties))
            #expect(JobPack.split(pack.body).map { try? Envelope.decode($0.body).id } == ids)
            // Each job has its row before it runs.
            for id in ids { #expect(try await h.ledger.job(id)?.state == .available) }

            let worker = try h.makeWorker(h.workerConfiguration(concurrency: 4))
            try await h.withWorker(worker) {
                let jobs = try await h.waitFinal(ids)
                for (n, id) in ids.enumerated() {
                    let job = try #require(jobs[id])
                    #expect(job.state == .completed && job.attempt == 1 && job.result == ["n": .int(Int64(n))])
                    #expect(try await h.results.read(id)?["state"] == "completed")
                }
            }
            #expect(worker.statistics.completed == 40)
            #expect(worker.statistics.skipped == 0)
            for id in ids.prefix(5) { #expect(try await stateEvents(h, id).filter { $0 == "completed" }.count == 1) }
        }
    }

    @Test("a failing job of a pack retries alone, one that fails for good is dead-lettered alone, the rest complete")
    func failingJobRetriesAlone() async throws {
        try await withHarness { h in
            var requests = (0..<10).map { JobRequest(kind: .noop, args: ["n": .int(Int64($0))]) }
            requests.append(JobRequest(kind: "test.flaky", args: ["succeed_at": 3], maxAttempts: 5))
            requests.append(JobRequest(kind: "test.fail", args: ["retryable": false]))
            let ids = try await h.producer.enqueue(batch: requests).map { try $0.get().id }
            #expect(try await peekQueue(h, expect: 2).count == 1)
            let worker = try h.makeWorker(h.workerConfiguration(concurrency: 4))
            try await h.withWorker(worker) {
                let jobs = try await h.waitFinal(ids, seconds: 30)
                for id in ids.prefix(10) { #expect(jobs[id]?.state == .completed && jobs[id]?.attempt == 1) }
                let flaky = try #require(jobs[ids[10]])
                #expect(flaky.state == .completed && flaky.attempt == 3 && flaky.result == ["attempt": 3])
                let failed = try #require(jobs[ids[11]])
                #expect(failed.state == .discarded && failed.attempt == 1)
            }
            #expect(worker.statistics.retried == 2)
            // The dead letter holds that job alone, as a single envelope.
            let dead = try await h.deadLetters(expect: 1, seconds: 5)
            #expect(dead.count == 1)
            #expect(try dead.first.map { try Envelope.decode($0.body).id } == ids[11])
            #expect(dead.first.map { JobPack.isPack($0.properties) } == false)
        }
    }

    @Test("a worker killed mid-pack, another started: every job completed exactly once, never more claimed than the slots")
    func killedMidPack() async throws {
        try await withHarness { h in
            let count = 24
            let ids = try await h.producer.enqueue(batch: (0..<count).map { _ in JobRequest(kind: .sleep, args: ["ms": 250]) })
                .map { try $0.get().id }
            let table = PostgresIdentifier.quote(schema: h.schema, "jobs")
            func inState(_ state: String) async throws -> Int { try await jobsIn(h, ids, state) }
            let a = try WorkerProcess(h, arguments: ["--classes", "analytics", "--concurrency", "3", "--lease", "3s"])
            var peakRunning = 0
            try await waitUntil(seconds: 30) {
                peakRunning = max(peakRunning, try await inState("running"))
                return try await inState("completed") >= 6
            }
            a.kill9()
            let done = try await completedIDs(h, ids)
            #expect(done.count < count, "the worker finished the pack before it was killed")
            #expect(peakRunning <= 3, "slots count jobs: at most 3 claimed at once")
            let b = try WorkerProcess(h, arguments: ["--classes", "analytics", "--concurrency", "3", "--lease", "3s",
                                                     "--rescue-interval", "1s"])
            let jobs = try await h.waitFinal(ids, seconds: 60)
            #expect(b.terminate(waiting: 10) == 0, "log: \(b.log)")
            #expect(jobs.count == count)
            for id in ids {
                let job = try #require(jobs[id])
                #expect(job.state == .completed, "\(id): \(job.state)")
                #expect((1...2).contains(job.attempt), "\(id): attempt \(job.attempt)")
            }
            try await expectCompletedOnce(h, ids, done: done)
            // One row per id, in the whole partitioned ledger.
            let rows = try await h.pool.withConnection { c in
                try await c.query("SELECT count(*)::int, count(DISTINCT id)::int FROM \(table) WHERE id = ANY($1::uuid[])",
                                  [.textArray(ids.map(\.description))])
            }
            #expect(try rows[0].decode(0, as: Int.self) == count && rows[0].decode(1, as: Int.self) == count)
        }
    }

    @Test("the short path takes a pack's jobs: none claimed, each recorded once; a worker killed mid-pack, the redelivery runs only the rest")
    func shortPathInPack() async throws {
        try await withHarness { h in
            let count = 24
            let ids = try await h.producer.enqueue(batch: (0..<count).map { _ in JobRequest(kind: .sleep, args: ["ms": 250]) })
                .map { try $0.get().id }
            #expect(try await peekQueue(h, expect: 2).count == 1)
            let table = PostgresIdentifier.quote(schema: h.schema, "jobs")
            func inState(_ state: String) async throws -> Int { try await jobsIn(h, ids, state) }
            let arguments = ["--classes", "analytics", "--concurrency", "3", "--lease", "30s", "--short-job-threshold", "10s"]
            let a = try WorkerProcess(h, arguments: arguments)
            var claimedEver = 0
            try await waitUntil(seconds: 30) {
                claimedEver = max(claimedEver, try await inState("running"))
                return try await inState("completed") >= 6
            }
            a.kill9()
            let done = try await completedIDs(h, ids)
            #expect(done.count < count, "the worker finished the pack before it was killed")
            #expect(claimedEver == 0, "a short job of a pack was claimed")
            let b = try WorkerProcess(h, arguments: arguments)
            let jobs = try await h.waitFinal(ids, seconds: 60)
            #expect(b.terminate(waiting: 10) == 0, "log: \(b.log)")
            for id in ids {
                let job = try #require(jobs[id])
                #expect(job.state == .completed && job.attempt == 1, "\(id): \(job.state), attempt \(job.attempt)")
            }
            try await expectCompletedOnce(h, ids, done: done)
            // What was recorded before the kill did not run again: its status says so.
            for id in done { #expect(try await stateEvents(h, id).filter { $0 == "running" }.count == 1, "\(id) ran again") }
            let rows = try await h.pool.withConnection { c in
                try await c.query("SELECT count(*)::int, count(DISTINCT id)::int FROM \(table) WHERE id = ANY($1::uuid[])",
                                  [.textArray(ids.map(\.description))])
            }
            #expect(try rows[0].decode(0, as: Int.self) == count && rows[0].decode(1, as: Int.self) == count)
            #expect(try await peekQueue(h, expect: 1).isEmpty, "the pack was left unacked")
        }
    }

    @Test("cancels reach a pack's jobs: a running one is stopped, a waiting one never starts, the rest complete, the pack is acked")
    func cancelInPack() async throws {
        try await withHarness { h in
            var requests = [JobRequest(kind: .sleep, args: ["ms": 60_000]), JobRequest(kind: .sleep, args: ["ms": 60_000])]
            requests += (0..<3).map { JobRequest(kind: .noop, args: ["n": .int(Int64($0))]) }
            let ids = try await h.producer.enqueue(batch: requests).map { try $0.get().id }
            // The last noop is cancelled while it waits in the pack (both slots hold the sleeps).
            #expect(try await h.ledger.cancel(ids[4]).0 == .cancelled)
            let worker = try h.makeWorker(h.workerConfiguration(concurrency: 2, lease: .seconds(3)))
            try await h.withWorker(worker) {
                try await waitUntil(seconds: 20) {
                    let first = try await h.ledger.job(ids[0])?.state
                    let second = try await h.ledger.job(ids[1])?.state
                    return first == .running && second == .running
                }
                #expect(try await h.ledger.job(ids[2])?.state == .available)  // no third slot
                for id in ids.prefix(2) { #expect(try await h.ledger.cancel(id).0 == .requested) }
                let jobs = try await h.waitFinal(ids, seconds: 30)
                #expect(jobs[ids[0]]?.state == .cancelled && jobs[ids[1]]?.state == .cancelled)
                #expect(jobs[ids[2]]?.state == .completed && jobs[ids[3]]?.state == .completed)
                #expect(jobs[ids[4]]?.state == .cancelled && jobs[ids[4]]?.startedAt == nil)
            }
            #expect(worker.statistics.completed == 2 && worker.statistics.cancelled == 2 && worker.statistics.skipped == 1)
            #expect(try await peekQueue(h, expect: 1).isEmpty, "the pack was left unacked")
        }
    }

    @Test("SLUICE_REQUIRE_SIGNED=1: a pack's tampered line and unsigned line are dead-lettered alone, the rest run")
    func signedPackWithTamperedJob() async throws {
        try await withHarness { h in
            let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            let signer = try EnvelopeSigner(parsing: "packs:\(key)")
            let publisher = JobPublisher(configuration: h.amqp, topology: h.topology, signer: signer, logger: testLogger)
            let envelopes = (0..<6).map { Envelope(kind: .noop, args: ["n": .int(Int64($0))]) }
            let (message, carried) = try #require(publisher.packs(envelopes, workloadClass: "analytics", priority: nil, maxJobs: 100).first)
            #expect(carried == 6)
            // Line 2's arguments edited after signing; line 4 re-framed as unsigned.
            var lines = message.message.body.split(separator: 0x0A).map { Array($0) }
            let edited = String(decoding: lines[2], as: UTF8.self).replacingOccurrences(of: #""n":2"#, with: #""n":9"#)
            #expect(edited != String(decoding: lines[2], as: UTF8.self))
            lines[2] = Array(edited.utf8)
            let space = try #require(lines[4].firstIndex(of: UInt8(ascii: " ")))
            lines[4] = Array("-".utf8) + lines[4][space...]
            var tampered = message
            tampered.message.body = lines.flatMap { $0 + [0x0A] }
            try await publisher.publish(tampered)
            await publisher.close()

            let worker = try WorkerProcess(h, arguments: ["--classes", "analytics"],
                                           environment: ["SLUICE_SIGNING_KEYS": "packs:\(key)", "SLUICE_REQUIRE_SIGNED": "1"])
            let ran = [0, 1, 3, 5].map { envelopes[$0].id }
            let jobs = try await h.waitFinal(ran, seconds: 30)
            for (n, id) in zip([0, 1, 3, 5], ran) {
                #expect(jobs[id]?.state == .completed && jobs[id]?.result == ["n": .int(Int64(n))], "log: \(worker.log)")
            }
            let dead = try await h.deadLetters(expect: 2, seconds: 10)
            var reasons: [JobID: String] = [:]
            for d in dead {
                let id = try Envelope.decode(d.body).id
                reasons[id] = d.properties.headers[DeadLetterHeader.reason]?.stringValue
            }
            #expect(reasons == [envelopes[2].id: "bad_signature", envelopes[4].id: "unsigned"], "log: \(worker.log)")
            // Neither ran: no row for them.
            #expect(try await h.ledger.job(envelopes[2].id) == nil)
            #expect(try await h.ledger.job(envelopes[4].id) == nil)
            #expect(worker.terminate(waiting: 10) == 0)
        }
    }

    @Test("a worker still runs a job alone in its message (a single enqueue, an older producer)")
    func singleMessagesStillRun() async throws {
        try await withHarness { h in
            let one = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["single": true])).id
            let waiting = try await peekQueue(h, expect: 1)
            #expect(waiting.count == 1 && !JobPack.isPack(waiting[0].properties))
            #expect(waiting.first?.properties.messageId == one.description)
            // A batch with packing off goes one message per job too.
            let unpacked = Producer(registry: h.registry, ledger: h.ledger, publisher: h.publisher, results: h.results, packJobs: 0,
                                    logger: testLogger)
            let more = try await unpacked.enqueue(batch: (0..<3).map { _ in JobRequest(kind: .noop) }).map { try $0.get().id }
            #expect(try await peekQueue(h, expect: 5).count == 4)
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let jobs = try await h.waitFinal([one] + more)
                #expect(jobs.values.allSatisfy { $0.state == .completed } && jobs.count == 4)
            }
        }
    }

    @Test("single enqueues made at the same moment: every job travels in exactly one message (alone or in a pack) and runs once")
    func concurrentSinglesShareMessages() async throws {
        try await withHarness { h in
            let ids = try await withThrowingTaskGroup(of: JobID.self) { group in
                for n in 0..<40 { group.addTask { try await h.producer.enqueue(JobRequest(kind: .noop, args: ["n": .int(Int64(n))])).id } }
                return try await group.reduce(into: [JobID]()) { $0.append($1) }
            }
            let waiting = try await peekQueue(h, expect: 41)
            var carried: [JobID] = []
            for d in waiting {
                if JobPack.isPack(d.properties) {
                    carried += try JobPack.split(d.body).map { try Envelope.decode($0.body).id }
                } else {
                    carried.append(try Envelope.decode(d.body).id)
                }
            }
            #expect(carried.count == 40, "\(waiting.count) messages carried \(carried.count) jobs")
            #expect(Set(carried) == Set(ids))
            let worker = try h.makeWorker(h.workerConfiguration(concurrency: 8))
            try await h.withWorker(worker) {
                let jobs = try await h.waitFinal(ids)
                #expect(jobs.values.allSatisfy { $0.state == .completed && $0.attempt == 1 } && jobs.count == 40)
            }
            #expect(worker.statistics.completed == 40 && worker.statistics.skipped == 0)
        }
    }

    @Test("`sluice enqueue --file`: a bad line enqueues nothing and is named by its number; a good file enqueues every line")
    func enqueueFile() async throws {
        try await withHarness { h in
            var env = ProcessInfo.processInfo.environment
            env["SLUICE_POSTGRES_URL"] = TestEnvironment.postgresURL
            env["SLUICE_AMQP_URL"] = TestEnvironment.amqpURL
            env["SLUICE_REDIS_URL"] = TestEnvironment.redisURL
            env["SLUICE_REDIS_PREFIX"] = h.redisPrefix
            env["SLUICE_LOG_LEVEL"] = "warning"
            let names = ["--schema", h.schema, "--queue-prefix", h.topology.prefix]
            let path = NSTemporaryDirectory() + TestEnvironment.uniqueName("jobs") + ".ndjson"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let table = PostgresIdentifier.quote(schema: h.schema, "jobs")
            func rows() async throws -> Int {
                try await h.pool.withConnection { c in try await c.query("SELECT count(*)::int FROM \(table)")[0].decode(0, as: Int.self) }
            }

            try """
                {"kind": "sys.noop", "args": {"n": 1}}

                {"kind": "sys.noop", "args": {"n": 2}, "priority": 12}
                {"kind": "sys.noop", "args": {"n": 3}
                {"kind": "sys.nope"}
                {"kind": "sys.noop", "args": {"n": 5}}
                """.write(toFile: path, atomically: true, encoding: .utf8)
            let bad = try await runProcess(sluiceExecutable, ["enqueue", "--file", path] + names, environment: env)
            #expect(bad.status == 1)
            #expect(bad.output.contains("nothing enqueued") && bad.output.contains("3 bad lines"), "\(bad.output)")
            #expect(bad.output.contains("line 3: priority"), "\(bad.output)")
            #expect(bad.output.contains("line 4: not valid JSON"), "\(bad.output)")
            #expect(bad.output.contains("line 5: ") && bad.output.contains("sys.nope"), "\(bad.output)")
            #expect(!bad.output.contains("line 1:") && !bad.output.contains("line 6:"), "\(bad.output)")
            #expect(try await rows() == 0)

            let lines = (0..<30).map { #"{"kind": "sys.noop", "args": {"n": \#($0)}}"# }
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let good = try await runProcess(sluiceExecutable, ["enqueue", "--file", path] + names, environment: env)
            #expect(good.status == 0, "\(good.output)")
            let ids = good.output.split(separator: "\n").compactMap { JobID(String($0)) }
            #expect(ids.count == 30, "\(good.output)")
            #expect(try await rows() == 30)
            #expect(try await peekQueue(h, expect: 2).count == 1)  // one pack
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let jobs = try await h.waitFinal(ids)
                for (n, id) in ids.enumerated() { #expect(jobs[id]?.state == .completed && jobs[id]?.result == ["n": .int(Int64(n))]) }
            }
        }
    }
}

@Suite struct PackFramingTests {
    @Test func linesRoundTripEachSignedAloneAndABrokenLineIsFlagged() throws {
        let signer = try EnvelopeSigner(parsing: "k1:" + String(repeating: "ab", count: 32))
        let envelopes = [Envelope(kind: .noop, args: ["text": "two\nlines"]), Envelope(kind: .noop)]
        let signedBody = envelopes.flatMap { JobPack.line($0.encoded(), signer: signer) }
        let items = JobPack.split(signedBody + Array("no-space-here\n".utf8) + Array("\n".utf8))
        #expect(items.count == 3)
        for (item, e) in zip(items, envelopes) {
            #expect(!item.malformed && item.body == e.encoded() && item.signature?.keyID == "k1")
            #expect(signer.verify(body: item.body, signature: item.signature) == .verified(keyID: "k1"))
            // The MAC is the one a single message of that envelope carries in its header.
            #expect(item.signature?.mac == signer.headers(for: e.encoded())[EnvelopeSigner.signatureHeader]?.stringValue)
        }
        #expect(items[2].malformed)
        // Another envelope under a line's signature does not verify.
        #expect(signer.verify(body: envelopes[1].encoded(), signature: items[0].signature) == .badSignature(keyID: "k1"))
        let unsigned = JobPack.split(JobPack.line(envelopes[0].encoded(), signer: nil))
        #expect(unsigned.count == 1 && unsigned[0].signature == nil && !unsigned[0].malformed)
        #expect(signer.verify(body: unsigned[0].body, signature: nil) == .unsigned)
    }
}
