// `sluice scheduler` and `sluice schedule run` as processes: two replicas on a 2-second
// schedule, the leader killed with SIGKILL, the other takes over; every fire exactly once and
// no gap. The takeover time is printed (it is bounded by the lease: 3 s here).

import Foundation
import Glibc
import Postgres
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

/// A `sluice` child process on one harness's schema, queue prefix and Redis prefix.
final class SluiceProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` and the pipe are set in init and only read afterwards.
    let process: Process
    let output = Pipe()
    let logPath: String

    init(_ h: Harness, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: sluiceExecutable)
        process.arguments = arguments + ["--schema", h.schema, "--queue-prefix", h.topology.prefix]
        var env = ProcessInfo.processInfo.environment
        env["SLUICE_POSTGRES_URL"] = TestEnvironment.postgresURL
        env["SLUICE_AMQP_URL"] = TestEnvironment.amqpURL
        env["SLUICE_REDIS_URL"] = TestEnvironment.redisURL
        env["SLUICE_REDIS_PREFIX"] = h.redisPrefix
        env["SLUICE_LOG_LEVEL"] = env["SLUICE_TEST_LOG_LEVEL"] ?? "info"
        process.environment = env
        logPath = NSTemporaryDirectory() + TestEnvironment.uniqueName("sluice") + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func kill9() async throws {
        Glibc.kill(process.processIdentifier, SIGKILL)
        try await offPool { self.process.waitUntilExit() }
    }

    /// SIGTERM, then the exit status (nil when it had to be killed after `seconds`).
    func terminate(waiting seconds: Double) async throws -> Int32? {
        Glibc.kill(process.processIdentifier, SIGTERM)
        return try await finish(waiting: seconds)
    }

    /// Waits for the exit; nil (and SIGKILL) after `seconds`.
    func finish(waiting seconds: Double) async throws -> Int32? {
        try await offPool {
            let deadline = Date().addingTimeInterval(seconds)
            while self.process.isRunning && Date() < deadline { usleep(20_000) }
            if self.process.isRunning {
                Glibc.kill(self.process.processIdentifier, SIGKILL)
                self.process.waitUntilExit()
                return nil
            }
            return self.process.terminationStatus
        }
    }

    /// Everything the process printed on stdout (after it exited).
    func stdout() async throws -> String {
        try await offPool { String(decoding: self.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    }
}

/// A catalog folder with one schedule, removed by `remove()`.
struct TempCatalog {
    let path: String

    init(_ yaml: String) throws {
        path = NSTemporaryDirectory() + TestEnvironment.uniqueName("catalog")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try yaml.write(toFile: path + "/catalog.yaml", atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

extension Harness {
    func leaseHolder() async throws -> String? {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT holder FROM \(PostgresIdentifier.quote(schema: schema, "leases")) WHERE name = 'scheduler' AND expires_at > now()")
        }
        return try rows.first?.decode(0, as: String.self)
    }

    /// Polls `condition` every 50 ms for up to `seconds`.
    func waitFor(_ what: String, seconds: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try await !condition() {
            if Date() > deadline { throw TimedOut(what: what) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

@Suite struct SchedulerFailoverTests {
    static let catalogText = """
        version: 1
        schedules:
          - name: beat
            every: 2s
            kind: sys.noop
            args: {from: scheduler}
            unique_key: "{name}@{fire}"
            missed: each:100
        """

    @Test func leaderKilledWithSigkillIsReplacedWithoutLossOrDouble() async throws {
        try await withHarness { h in
            let catalog = try TempCatalog(Self.catalogText)
            defer { catalog.remove() }
            func replica(_ name: String) throws -> SluiceProcess {
                try SluiceProcess(h, ["scheduler", "--catalog", catalog.path, "--lease", "3s", "--tick", "250ms",
                                      "--recovery-age", "1s", "--name", name])
            }
            let replicas = ["a": try replica("a"), "b": try replica("b")]
            try await h.waitFor("a leader", seconds: 30) { try await h.leaseHolder() != nil }
            try await h.waitFor("three fires", seconds: 30) { try await h.fires("beat").count >= 3 }
            let leader = try #require(try await h.leaseHolder())
            let other = leader == "a" ? "b" : "a"
            let killedAt = ContinuousClock.now
            let killedAtDate = Date()
            try await replicas[leader]!.kill9()
            try await h.waitFor("takeover", seconds: 30) { try await h.leaseHolder() == other }
            let takeover = ContinuousClock.now - killedAt
            // A fire due after the takeover, i.e. the new leader fires.
            try await h.waitFor("a fire by the new leader", seconds: 30) {
                try await h.fires("beat").contains { Double($0.0) / 1000 > killedAtDate.timeIntervalSince1970 + takeover.seconds }
            }
            let firstNewFire = ContinuousClock.now - killedAt
            try await Task.sleep(for: .seconds(3))
            #expect(try await replicas[other]!.terminate(waiting: 10) == 0, "\(replicas[other]!.log)")
            print("scheduler takeover after kill -9 (lease 3s, tick 250ms): lease taken after \(takeover), first new fire after \(firstNewFire)")

            let fires = try await h.fires("beat")
            let times = fires.map(\.0)
            #expect(fires.count >= 6)
            // Contiguous: every 2-second slot from the first to the last, each once.
            #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 2000 }, "\(times)")
            #expect(times.first.map { $0 % 2000 == 0 } == true)
            // The range spans the outage, so the slots due while no one led were fired (run_each) too.
            #expect(times.first.map { Double($0) / 1000 < killedAtDate.timeIntervalSince1970 } == true)
            #expect(fires.allSatisfy { $0.1 != nil }, "a fire without a job")
            let jobs = try await h.jobs(uniqueKeyPrefix: "beat@")
            #expect(jobs.count == fires.count, "\(jobs.count) jobs for \(fires.count) fires")
            #expect(Set(jobs.map(\.0)) == Set(fires.compactMap(\.1)))
            #expect(takeover < .seconds(15), "takeover took \(takeover)")
        }
    }

    @Test("SIGTERM: the leading replica drains through the ServiceGroup, gives its lease up and exits 0")
    func sigtermReleasesTheLease() async throws {
        try await withHarness { h in
            let catalog = try TempCatalog(Self.catalogText)
            defer { catalog.remove() }
            let replica = try SluiceProcess(h, ["scheduler", "--catalog", catalog.path, "--lease", "30s", "--tick", "250ms", "--name", "solo"])
            try await h.waitFor("a leader", seconds: 30) { try await h.leaseHolder() == "solo" }
            #expect(try await replica.terminate(waiting: 10) == 0, "\(replica.log)")
            // Released at once, not left to expire 30 s later: a standby takes over at its next tick.
            #expect(try await h.leaseHolder() == nil)
        }
    }

    @Test func scheduleRunEnqueuesOnceAndPrintsTheJobID() async throws {
        try await withHarness { h in
            let catalog = try TempCatalog(Self.catalogText)
            defer { catalog.remove() }
            let run = try SluiceProcess(h, ["schedule", "run", "beat", "--json", "--catalog", catalog.path])
            #expect(try await run.finish(waiting: 30) == 0, "\(run.log)")
            let printed = try JSONValue.parse(try await run.stdout())
            let id = try #require(printed["id"]?.stringValue.flatMap(JobID.init))
            #expect(printed["duplicate"] == .bool(false))
            #expect(printed["fire"]?.stringValue?.hasPrefix("beat@manual@") == true)
            let job = try #require(try await h.ledger.job(id))
            #expect(job.kind == .noop && job.args == ["from": .string("scheduler")] && job.producer == "scheduler")
            #expect(try await h.fires("beat", manual: true).map(\.1) == [id])
            #expect(try await h.fires("beat").isEmpty)
            #expect(try await h.jobs(uniqueKeyPrefix: "beat@").map(\.0) == [id])

            let list = try SluiceProcess(h, ["schedule", "list", "--json", "--catalog", catalog.path])
            #expect(try await list.finish(waiting: 30) == 0, "\(list.log)")
            guard case .array(let schedules)? = try JSONValue.parse(try await list.stdout())["schedules"] else {
                Issue.record("schedule list printed no schedules array")
                return
            }
            let listed = try #require(schedules.first)
            #expect(listed["name"] == .string("beat") && listed["spec"] == .string("every 2s"))
            #expect(listed["missed_runs"] == .string("run_each:100") && listed["enabled"] == .bool(true))
            #expect(listed["last_fire"] == .null && listed["next_fire"]?.stringValue != nil)

            let unknown = try SluiceProcess(h, ["schedule", "run", "nope", "--catalog", catalog.path])
            #expect(try await unknown.finish(waiting: 30) != 0)
            #expect(unknown.log.contains("no schedule is named 'nope'"))
        }
    }
}
