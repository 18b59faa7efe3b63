// `sluice-dev faults produce|verify`: the load and the count of the fault suite (scripts/faults,
// which injects the faults and calls these). `produce` enqueues no-op jobs through the real
// Producer (ledger insert, publish, broker confirm) at a steady rate and appends each confirmed
// job id to a file as soon as it is confirmed; an enqueue that fails is retried as a new job (a
// failed publish leaves its row `discarded: publish_failed`, never run), so `attempted` counts
// logical jobs. `verify` waits for the confirmed jobs to finish and counts, in Jepsen's words,
// what happened to them, from the ledger (the truth), Redis (statuses and the events stream)
// and the dead-letter queue. Both print one JSON object.

import ArgumentParser
import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCLI
import SluiceCore
import SluiceRuntime

struct FaultsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faults",
        abstract: "Load and count for scripts/faults (the fault suite injects the faults).",
        subcommands: [FaultsProduce.self, FaultsVerify.self, FaultsClean.self])
}

struct FaultsProduce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Enqueue no-op jobs at a steady rate; append each confirmed id to --ids.")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "Logical jobs to enqueue.") var jobs = 1000
    @Option(help: "Jobs per second.") var rate = 300
    @Option(help: "Jobs per enqueue batch.") var batch = 20
    @Option(help: "File the confirmed job ids are appended to, one per line.") var ids: String
    @Option(help: "Tries per logical job before it counts as not confirmed.") var tries = 20

    func validate() throws {
        guard jobs > 0, rate > 0, batch > 0, tries > 0 else { throw ValidationError("--jobs, --rate, --batch and --tries must be positive") }
    }

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.faults")
        guard FileManager.default.createFile(atPath: ids, contents: nil), let out = FileHandle(forWritingAtPath: ids) else {
            throw CommandFailure(description: "cannot write \(ids)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        var attempted = 0, confirmed = 0, retries = 0
        var pending: [(number: Int, tries: Int)] = []
        var next = 0
        var failedForGood = 0
        while next < jobs || !pending.isEmpty {
            // Steady rate: batch k starts at k * batch / rate seconds.
            var round: [(number: Int, tries: Int)] = Array(pending.prefix(batch))
            pending.removeFirst(round.count)
            while round.count < batch && next < jobs {
                round.append((next, 0))
                next += 1
                attempted += 1
            }
            let due = start + .milliseconds(Int64(Double(attempted) * 1000 / Double(rate)))
            if due > clock.now { try await Task.sleep(until: due, clock: clock) }
            let results: [Result<EnqueueResult, any Error>]
            do {
                results = try await services.producer.enqueue(batch: round.map { _ in JobRequest(kind: .noop, args: ["f": 1]) })
            } catch {
                results = round.map { _ in .failure(error) }
            }
            var lines = ""
            for (item, result) in zip(round, results) {
                switch result {
                case .success(let r):
                    confirmed += 1
                    lines += r.id.description + "\n"
                case .failure:
                    if item.tries + 1 < tries {
                        pending.append((item.number, item.tries + 1))
                        retries += 1
                    } else {
                        failedForGood += 1
                    }
                }
            }
            out.write(Data(lines.utf8))
            if results.contains(where: { if case .failure = $0 { true } else { false } }) {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try out.close()
        let seconds = (clock.now - start).seconds
        await services.close()
        Output.json(["attempted": attempted, "confirmed": confirmed, "not_confirmed": failedForGood, "retries": retries,
                     "seconds": (seconds * 100).rounded() / 100])
    }
}

struct FaultsVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Wait for the confirmed jobs to finish, then count lost, completed twice, dead-lettered.")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "The file `produce` wrote.") var ids: String
    @Option(help: "Seconds to wait for every confirmed job to reach a final state.") var timeout = 120
    @Option(help: "Seconds to wait, after the ledger, for Redis to show every completed job.") var redisTimeout = 15

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.faults")
        let text = (try? String(contentsOfFile: ids, encoding: .utf8)) ?? ""
        let confirmed = Array(Set(text.split(separator: "\n").map(String.init)))
        let table = PostgresIdentifier.quote(schema: services.schema, "jobs")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(timeout)
        var states: [String: Int] = [:]
        var notCompleted: [String] = []
        while true {
            do {
                let rows = try await services.pool.withConnection { c in
                    try await c.query("SELECT id::text, state FROM \(table) WHERE id = ANY($1::uuid[])", [.textArray(confirmed)])
                }
                var byID: [String: String] = [:]
                for row in rows { byID[try row.decode(0, as: String.self)] = try row.decode(1, as: String.self) }
                states = [:]
                notCompleted = []
                for id in confirmed {
                    let s = byID[id] ?? "missing"
                    states[s, default: 0] += 1
                    if s != JobState.completed.rawValue { notCompleted.append(id) }
                }
                let open = confirmed.filter { id in byID[id].map { !JobState(rawValue: $0)!.isFinal } ?? true }
                if open.isEmpty || clock.now > deadline { break }
            } catch {
                if clock.now > deadline { throw error }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        // Redis: every completed job's hash says completed (after the status buffer caught up).
        let completedIDs = Set(confirmed).subtracting(notCompleted)
        var redisMissing = completedIDs.count
        let redisDeadline = clock.now + .seconds(redisTimeout)
        while true {
            var missing = 0
            do {
                for chunk in Array(completedIDs).chunked(500) {
                    let replies = try await services.redis.pipeline(chunk.map {
                        ["HGET", RedisArgument(services.results.key(JobID($0)!)), "state"]
                    })
                    missing += replies.filter { (try? $0.get())?.string != JobState.completed.rawValue }.count
                }
                redisMissing = missing
            } catch {}
            if redisMissing == 0 || clock.now > redisDeadline { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        // The events stream: a job that ran to completion twice has two `completed` events with
        // different times (a status flush retried after a lost reply writes the same event again,
        // with the same `at`: that is one completion).
        var completedEvents: [String: Set<String>] = [:]
        var cursor = "-"
        do {
            while true {
                let reply = try await services.redis.send(["XRANGE", RedisArgument(services.results.eventsKey), RedisArgument(cursor), "+", "COUNT", "5000"])
                guard let entries = reply.array, !entries.isEmpty else { break }
                var last = cursor
                for entry in entries {
                    guard let pair = entry.array, pair.count == 2, let entryID = pair[0].string else { continue }
                    last = entryID
                    let fields = pair[1].dictionary ?? [:]
                    if fields[JobStatusField.state] == JobState.completed.rawValue, let id = fields["id"] {
                        completedEvents[id, default: []].insert(fields["at"] ?? entryID)
                    }
                }
                if entries.count < 5000 { break }
                cursor = "(" + last
            }
        } catch {}
        let twice = completedIDs.filter { (completedEvents[$0]?.count ?? 0) > 1 }.count
        var deadQueue = -1
        if let depth = try? await QueueInspector(amqp: services.amqp, topology: services.topology, logger: services.logger).deadDepth() {
            deadQueue = depth
        }
        await services.close()
        Output.json([
            "confirmed": confirmed.count, "completed": completedIDs.count, "lost": notCompleted.count - (states[JobState.discarded.rawValue] ?? 0),
            "completed_twice": twice, "dead_lettered": (states[JobState.discarded.rawValue] ?? 0), "dead_queue_depth": deadQueue,
            "redis_missing": redisMissing, "states": states,
        ])
    }
}

struct FaultsClean: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean", abstract: "Remove a scenario's queues, ledger schema and Redis keys.")

    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.faults")
        if let connection = try? await AMQPConnection.connect(configuration: services.amqp, logger: services.logger),
           let channel = try? await connection.openChannel() {
            await Topology.delete(on: channel, services.topology)
            await connection.close()
        }
        try? await services.ledger.dropSchema()
        let pattern = RedisArgument(services.settings.redisPrefix + "*")
        _ = try? await services.redis.send(["EVAL", """
            local cursor = "0"
            repeat
              local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 5000)
              cursor = r[1]
              for _, k in ipairs(r[2]) do redis.call('UNLINK', k) end
            until cursor == "0"
            return 0
            """, "0", pattern])
        await services.close()
    }
}

extension Array {
    fileprivate func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
