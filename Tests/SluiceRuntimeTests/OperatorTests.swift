// Operator paths: dead-letter list and replay, quorum queues, and the CLI end to end
// (`sluice migrate`, `enqueue --wait --json`, `job --json`, `status --json`, `cancel --json`).

import Foundation
import RabbitMQ
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite("Operators", .timeLimit(.minutes(2)))
struct OperatorTests {
    @Test("dead list shows a dead letter's reason; replay runs the job again from attempt 1")
    func deadReplay() async throws {
        try await withHarness { h in
            let dead = DeadLetters(amqp: h.amqp, topology: h.topology, ledger: h.ledger, publisher: h.publisher, logger: testLogger)
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let r = try await h.producer.enqueue(JobRequest(kind: "test.fail", args: ["retryable": false]))
                let first = try #require(try await h.waitFinal([r.id])[r.id])
                #expect(first.state == .discarded)
                var letters: [DeadLetter] = []
                try await waitUntil {
                    letters = try await dead.list()
                    return !letters.isEmpty
                }
                #expect(letters.count == 1)
                #expect(letters.first?.messageID == r.id.description)
                #expect(letters.first?.reason == "not_retryable")
                #expect(letters.first?.kind == "test.fail")
                // Listing leaves the queue as it was.
                #expect(try await dead.list().count == 1)
                #expect(try await dead.replay(r.id))
                #expect(try await dead.replay(JobID.make()) == false)
                // It runs again (and fails again, being a planned failure): a new dead letter.
                var again: [DeadLetter] = []
                try await waitUntil {
                    again = try await dead.list()
                    return !again.isEmpty
                }
                #expect(again.count == 1)
                #expect(again.first?.messageID == r.id.description)
                #expect(again.first?.failedAt != letters.first?.failedAt)
                #expect(try await dead.purge() == 1)
            }
            #expect(worker.statistics.discarded == 2)
        }
    }

    @Test("quorum work queues: jobs, retries and delays work the same")
    func quorum() async throws {
        try await withHarness(queueType: .quorum) { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                let a = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["q": true], priority: 5))
                let b = try await h.producer.enqueue(JobRequest(kind: "test.flaky", args: ["succeed_at": 2]))
                var delayed = JobRequest(kind: .noop)
                delayed.delay(by: .milliseconds(1100))
                let c = try await h.producer.enqueue(delayed)
                let jobs = try await h.waitFinal([a.id, b.id, c.id])
                #expect(jobs.values.allSatisfy { $0.state == .completed })
                #expect(jobs[b.id]?.attempt == 2)
            }
            let connection = try await AMQPConnection.connect(configuration: h.amqp, logger: testLogger)
            let channel = try await connection.openChannel()
            // Redeclaring as classic fails: the queue really is a quorum queue.
            await #expect(throws: AMQPError.self) {
                try await channel.declareQueue(h.topology.queue(for: "analytics"), durable: true,
                                               arguments: [AMQPArgument.maxPriority: .int32(9), AMQPArgument.deadLetterExchange: .string(h.topology.deadExchange)])
            }
            await connection.close()
        }
    }

    @Test("quorum: the delay ladder and the dead-letter queue are quorum queues too, dead-lettering at least once")
    func quorumLadderAndDeadQueue() async throws {
        try await withHarness(queueType: .quorum) { h in
            _ = try await h.producer.enqueue(JobRequest(kind: .noop))  // declares the topology
            let connection = try await AMQPConnection.connect(configuration: h.amqp, logger: testLogger)
            let channel = try await connection.openChannel()
            let tier = DelayLadder.tiers[0]
            var arguments: AMQPTable = [
                AMQPArgument.queueType: "quorum", AMQPArgument.messageTTL: .int64(Int64(tier) * 1000),
                AMQPArgument.deadLetterExchange: .string(h.topology.jobsExchange), AMQPArgument.overflow: "reject-publish",
                AMQPArgument.deadLetterStrategy: "at-least-once",
            ]
            // The same arguments are accepted (an idempotent redeclare)...
            try await channel.declareQueue(h.topology.delayQueue(tier: tier), durable: true, arguments: arguments)
            // ...another overflow is refused: the tier really rejects publishes rather than drop.
            arguments[AMQPArgument.overflow] = "drop-head"
            await #expect(throws: AMQPError.self) {
                try await channel.declareQueue(h.topology.delayQueue(tier: tier), durable: true, arguments: arguments)
            }
            let again = try await connection.openChannel()
            await #expect(throws: AMQPError.self) {
                try await again.declareQueue(h.topology.deadQueue, durable: true, arguments: [:])
            }
            let third = try await connection.openChannel()
            try await third.declareQueue(h.topology.deadQueue, durable: true, arguments: [AMQPArgument.queueType: "quorum"])
            await connection.close()
        }
    }

    @Test("the CLI: migrate, enqueue --wait, job, status and cancel print JSON")
    func cli() async throws {
        try await withHarness { h in
            func run(_ args: [String]) throws -> (Int32, JSONValue?) {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: sluiceExecutable)
                p.arguments = args + ["--schema", h.schema, "--queue-prefix", h.topology.prefix, "--json"]
                var env = ProcessInfo.processInfo.environment
                env["SLUICE_REDIS_PREFIX"] = h.redisPrefix
                p.environment = env
                let out = Pipe()
                p.standardOutput = out
                p.standardError = FileHandle.nullDevice
                try p.run()
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                return (p.terminationStatus, try? JSONValue.parse(Array(data)))
            }
            let (m, migrated) = try run(["migrate"])
            #expect(m == 0)
            #expect(migrated?["applied"] == .array([]))  // the harness migrated already
            let worker = try WorkerProcess(h, arguments: ["--concurrency", "2"])
            let (e, enqueued) = try run(["enqueue", "sys.noop", "--args", #"{"x":1}"#, "--wait"])
            #expect(e == 0)
            #expect(enqueued?["state"] == "completed")
            #expect(enqueued?["result"] == ["x": 1])
            let id = try #require(enqueued?["id"]?.stringValue)
            let (j, job) = try run(["job", id])
            #expect(j == 0)
            #expect(job?["state"] == "completed")
            #expect(job?["source"] == "redis")
            let (_, bad) = try run(["enqueue", "sys.sleep", "--args", #"{"ms":"x"}"#])
            #expect(bad == nil)
            let (s, status) = try run(["status"])
            #expect(s == 0)
            #expect(status?["classes"]?["analytics"]?["completed_last_hour"] == 1)
            #expect(status?["classes"]?["analytics"]?["consumers"] == 1)
            let (c, cancelled) = try run(["cancel", id])
            #expect(c == 0)
            #expect(cancelled?["outcome"] == "already_final")
            #expect(worker.terminate(waiting: 10) == 0)
        }
    }
}
