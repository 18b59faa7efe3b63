// Integration tests of the pipeline against the shared servers, each in its own schema,
// queue prefix and Redis prefix, with an in-process worker.

import Foundation
import Glibc
import Postgres
import RabbitMQ
import Redis
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite("Pipeline", .timeLimit(.minutes(2)))
struct PipelineTests {
    @Test("noop and sleep jobs complete once, results in the ledger and Redis")
    func happyPath() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration(concurrency: 8))
            let ids = try await h.withWorker(worker) {
                var ids: [JobID] = []
                for i in 0..<40 {
                    let r = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["n": .int(Int64(i))]))
                    #expect(!r.duplicate)
                    #expect(r.state == .available)
                    ids.append(r.id)
                }
                let batch = try await h.producer.enqueue(batch: (0..<10).map { _ in JobRequest(kind: .sleep, args: ["ms": 20]) })
                ids += try batch.map { try $0.get().id }
                _ = try await h.waitFinal(ids)
                return ids
            }
            let jobs = try await h.waitFinal(ids, seconds: 1)
            #expect(jobs.count == 50)
            for (i, id) in ids.enumerated() {
                let job = try #require(jobs[id])
                #expect(job.state == .completed)
                #expect(job.attempt == 1)
                #expect(job.startedAt != nil && job.finishedAt != nil)
                if i < 40 { #expect(job.result == .object(["n": .int(Int64(i))])) } else { #expect(job.result == ["slept_ms": 20]) }
            }
            let hash = try #require(try await h.results.read(ids[3]))
            #expect(hash["state"] == "completed")
            #expect(hash["result"] == #"{"n":3}"#)
            #expect(hash["kind"] == "sys.noop")
            #expect(hash["class"] == "analytics")
            #expect(hash["duration_ms"] != nil && hash["started_at"] != nil && hash["enqueued_at"] != nil)
            let events = try await h.redis.send(["XLEN", .init(h.results.eventsKey)])
            #expect((events.int ?? 0) >= 150)  // enqueued, running, completed per job
            #expect(worker.statistics.completed == 50)
        }
    }

    @Test("a job publishes a dashboard output to Redis and enqueues a follow-up; an unknown follow-up kind fails the job")
    func outputsAndFollowUps() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let ok = try await h.producer.enqueue(JobRequest(kind: FollowUpJob.kind, args: ["output": "out:a", "follow_up": "sys.noop"]))
                let bad = try await h.producer.enqueue(JobRequest(
                    kind: FollowUpJob.kind, args: ["output": "out:b", "follow_up": "no.such_kind"], maxAttempts: 1))
                let first = try await h.waitFinal([ok.id, bad.id])
                #expect(first[ok.id]?.state == .completed)
                let followID = try #require(first[ok.id]?.result?["follow_up"]?.stringValue.flatMap(JobID.init))
                let follow = try await h.waitFinal([followID])
                #expect(follow[followID]?.state == .completed)
                #expect(follow[followID]?.result?["from"]?.stringValue == ok.id.description)
                let hash = try await h.redis.send(["HGETALL", RedisArgument(h.redisPrefix + "out:a")])
                #expect(hash.dictionary?["by"] == ok.id.description)
                #expect(hash.dictionary?["value"] == "42")
                // The unknown kind is refused by the producer inside the job: the job fails with the
                // reason, and nothing was enqueued for it.
                #expect(first[bad.id]?.state == .discarded)
                #expect(first[bad.id]?.error?.contains("no.such_kind") == true)
            }
        }
    }

    @Test("a duplicate unique key returns the live job's id and publishes nothing")
    func uniqueKey() async throws {
        try await withHarness { h in
            let a = try await h.producer.enqueue(JobRequest(kind: .noop, uniqueKey: "k1"))
            let b = try await h.producer.enqueue(JobRequest(kind: .noop, uniqueKey: "k1"))
            #expect(b.duplicate && b.id == a.id)
            let concurrent = try await h.producer.enqueue(batch: (0..<5).map { _ in JobRequest(kind: .noop, uniqueKey: "k2") })
            let results = try concurrent.map { try $0.get() }
            #expect(Set(results.map(\.id)).count == 1)
            #expect(results.filter { !$0.duplicate }.count == 1)
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                _ = try await h.waitFinal([a.id, results[0].id])
            }
            #expect(worker.statistics.completed == 2)
            // Once the holder finished, the key is free again.
            let c = try await h.producer.enqueue(JobRequest(kind: .noop, uniqueKey: "k1"))
            #expect(!c.duplicate && c.id != a.id)
        }
    }

    @Test("a delayed job travels the delay ladder (CC routing) and runs on time")
    func delayed() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                var request = JobRequest(kind: .noop)
                request.delay(by: .milliseconds(1500))
                let r = try await h.producer.enqueue(request)
                #expect(r.state == .scheduled)
                let job = try #require(try await h.waitFinal([r.id])[r.id])
                #expect(job.state == .completed)
                let waited = job.startedAt!.timeIntervalSince(job.enqueuedAt)
                #expect(waited >= 1.49, "ran after \(waited) s")
            }
        }
    }

    @Test("retryable failures retry with backoff; exhausted and final ones are dead-lettered")
    func retries() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            let (flaky, exhausted, fatal) = try await h.withWorker(worker) {
                let flaky = try await h.producer.enqueue(JobRequest(kind: "test.flaky", args: ["succeed_at": 3]))
                let exhausted = try await h.producer.enqueue(JobRequest(kind: "test.fail", args: ["retryable": true], maxAttempts: 2))
                let fatal = try await h.producer.enqueue(JobRequest(kind: "test.fail", args: ["retryable": false]))
                _ = try await h.waitFinal([flaky.id, exhausted.id, fatal.id])
                return (flaky.id, exhausted.id, fatal.id)
            }
            let jobs = try await h.waitFinal([flaky, exhausted, fatal], seconds: 1)
            #expect(jobs[flaky]?.state == .completed)
            #expect(jobs[flaky]?.attempt == 3)
            #expect(jobs[flaky]?.result == ["attempt": 3])
            #expect(jobs[exhausted]?.state == .discarded)
            #expect(jobs[exhausted]?.attempt == 2)
            #expect(jobs[exhausted]?.error?.hasPrefix("attempts_exhausted") == true)
            #expect(jobs[fatal]?.state == .discarded)
            #expect(jobs[fatal]?.attempt == 1)
            let dead = try await h.deadLetters(expect: 2)
            let byID = Dictionary(uniqueKeysWithValues: dead.map { ($0.properties.messageId ?? "", $0) })
            let e = try #require(byID[exhausted.description])
            #expect(e.properties.headers["x-sluice-reason"]?.stringValue == "attempts_exhausted")
            #expect(e.properties.headers["x-sluice-attempt"]?.intValue == 2)
            #expect(e.properties.headers["x-sluice-kind"]?.stringValue == "test.fail")
            #expect(e.properties.headers["x-sluice-error"]?.stringValue == "planned failure")
            #expect(try Envelope.decode(e.body).id == exhausted)
            let f = try #require(byID[fatal.description])
            #expect(f.properties.headers["x-sluice-reason"]?.stringValue == "not_retryable")
            let hash = try #require(try await h.results.read(flaky))
            #expect(hash["state"] == "completed" && hash["attempt"] == "3")
        }
    }

    @Test("malformed, unknown-version, unknown-kind and bad-argument messages are dead-lettered naming the field; the worker goes on")
    func badMessages() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let good = Envelope(kind: .noop).json.objectValue!
                func body(_ change: (inout [String: JSONValue]) -> Void) -> [UInt8] {
                    var o = good
                    o["id"] = .string(JobID.make().description)
                    change(&o)
                    return JSONValue.object(o).encoded()
                }
                let bodies: [(String, [UInt8])] = [
                    ("malformed", Array("{not json".utf8)),
                    ("v", body { $0["v"] = 2 }),
                    ("kind", body { $0["kind"] = "nope.nothing" }),
                    ("args", body { $0["kind"] = "sys.sleep"; $0["args"] = ["ms": "soon"] }),
                    ("attempt", body { $0["attempt"] = "one" }),
                ]
                for (_, b) in bodies {
                    try await h.publisher.publish(AMQPOutgoingMessage(AMQPMessage(body: b), exchange: h.topology.jobsExchange, routingKey: "analytics"))
                }
                let dead = try await h.deadLetters(expect: bodies.count)
                #expect(dead.count == bodies.count)
                let reasons = dead.map { ($0.properties.headers["x-sluice-reason"]?.stringValue ?? "", $0.properties.headers["x-sluice-error"]?.stringValue ?? "") }
                #expect(reasons.contains { $0.0 == "malformed" })
                #expect(reasons.contains { $0.0 == "unsupported_version" && $0.1.contains("v:") })
                #expect(reasons.contains { $0.0 == "unknown_kind" && $0.1.contains("kind") })
                #expect(reasons.contains { $0.0 == "invalid_arguments" && $0.1.contains("args.ms") })
                #expect(reasons.contains { $0.0 == "invalid_field" && $0.1.contains("attempt") })
                // The original bodies come back unchanged.
                #expect(Set(dead.map(\.body)) == Set(bodies.map(\.1)))
                // And the worker still runs good jobs.
                let r = try await h.producer.enqueue(JobRequest(kind: .noop))
                #expect(try await h.waitFinal([r.id])[r.id]?.state == .completed)
            }
            #expect(worker.statistics.deadLettered == 5)
        }
    }

    @Test("a job over its timeout is cancelled in Postgres (PQcancel) and fails as a timeout")
    func timeout() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let start = Date()
                let r = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": 20_000], maxAttempts: 1, timeoutSeconds: 1))
                let job = try #require(try await h.waitFinal([r.id])[r.id])
                #expect(job.state == .discarded)
                #expect(job.error?.contains("timeout") == true)
                // Without the PQcancel the statement would run 20 s.
                #expect(Date().timeIntervalSince(start) < 15)
            }
        }
    }

    @Test("cancel: a queued job is skipped; a running one is stopped through PQcancel")
    func cancel() async throws {
        try await withHarness { h in
            let queued = try await h.producer.enqueue(JobRequest(kind: .noop))
            let (outcome, _) = try await h.ledger.cancel(queued.id)
            #expect(outcome == .cancelled)
            let worker = try h.makeWorker(h.workerConfiguration(lease: .seconds(3)))
            try await h.withWorker(worker) {
                let long = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": 20_000]))
                // Wait until it runs, then cancel.
                try await waitUntil { try await h.ledger.job(long.id)?.state == .running }
                let start = Date()
                let (o, _) = try await h.ledger.cancel(long.id)
                #expect(o == .requested)
                let job = try #require(try await h.waitFinal([long.id])[long.id])
                #expect(job.state == .cancelled)
                #expect(Date().timeIntervalSince(start) < 15)  // the sleep is 20 s
                let q = try #require(try await h.waitFinal([queued.id])[queued.id])
                #expect(q.state == .cancelled)
                #expect(q.startedAt == nil)
            }
            #expect(worker.statistics.completed == 0)
        }
    }

    @Test("enqueue validates the kind and its arguments before anything is written")
    func producerValidation() async throws {
        try await withHarness { h in
            await #expect(throws: EnvelopeError.self) { _ = try await h.producer.enqueue(JobRequest(kind: "no.such")) }
            do {
                _ = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": "x"]))
                Issue.record("expected an error")
            } catch let e as EnvelopeError {
                #expect(e.code == .invalidArguments)
                #expect(e.field == "args.ms")
            }
            do {
                _ = try await h.producer.enqueue(JobRequest(kind: .sleep, args: ["ms": -5]))
                Issue.record("expected an error")
            } catch let e as EnvelopeError {
                #expect(e.field == "args.ms")
            }
            let counts = try await h.ledger.statusCounts()
            #expect(counts.isEmpty)
        }
    }

    @Test("a publish that fails throws and leaves the ledger row discarded (publish_failed)")
    func publishFailure() async throws {
        // Nothing listens on this port: the publisher cannot connect.
        let port = try freePort()
        try await withHarness(amqpURL: "amqp://sluice:sluice@127.0.0.1:\(port)/sluice") { h in
            do {
                _ = try await h.producer.enqueue(JobRequest(kind: .noop, uniqueKey: "u"))
                Issue.record("expected the enqueue to throw")
            } catch is AMQPError {
            }
            let counts = try await h.ledger.statusCounts()
            #expect(counts["analytics"]?.failedLastHour == 1)
            #expect(counts["analytics"]?.waiting == 0)
        }
    }
}

/// A loopback TCP port nobody listens on (bound then released).
func freePort() throws -> Int { try freeLoopbackPort() }
