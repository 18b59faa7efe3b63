// Scheduler tests against the real servers: two replicas over a simulated day (each fire
// enqueued once while leadership moves), recovery of fires whose enqueue never confirmed, and
// manual fires. The kill -9 failover of `sluice scheduler` processes is in
// SchedulerFailoverTests. Cron and due-fire arithmetic is covered in SluiceCoreTests.

import Foundation
import Logging
import Postgres
import SluiceCore
import SluiceRuntime
import Synchronization
import TestSupport
import Testing

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let value: Mutex<Date>
    init(_ start: Date) { value = Mutex(start) }
    var now: Date { value.withLock { $0 } }
    func set(_ d: Date) { value.withLock { $0 = d } }
}

extension Harness {
    func scheduler(_ jobs: [ScheduledJob], name: String, clock: TestClock, lease: Duration = .seconds(3),
                   recoveryAge: Duration = .milliseconds(500)) throws -> Scheduler {
        try Scheduler(
            jobs: jobs, configuration: SchedulerConfiguration(name: name, leaseTTL: lease, recoveryAge: recoveryAge),
            pool: pool, schema: schema, producer: producer, logger: testLogger, now: { clock.now })
    }

    /// (fire time in ms, job id) of a schedule's automatic fires, oldest first.
    func fires(_ schedule: String, manual: Bool = false) async throws -> [(Int64, JobID?)] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT (extract(epoch FROM fire_time) * 1000)::int8, job_id FROM \(PostgresIdentifier.quote(schema: schema, "schedule_fires"))
                WHERE schedule = $1 AND manual = $2 ORDER BY fire_time
                """, [.text(schedule), .bool(manual)])
        }
        return try rows.map { (Int64(try $0.decode(0, as: Int.self)), try $0.decode(1, as: UUID?.self).map(JobID.init(uuid:))) }
    }

    /// Ledger jobs whose unique key starts with `prefix`: (id, unique key).
    func jobs(uniqueKeyPrefix prefix: String) async throws -> [(JobID, String)] {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT id, unique_key FROM \(PostgresIdentifier.quote(schema: schema, "jobs")) WHERE starts_with(unique_key, $1)",
                              [.text(prefix)])
        }
        return try rows.map { (JobID(uuid: try $0.decode(0, as: UUID.self)), try $0.decode(1, as: String.self)) }
    }

    func execute(_ sql: String, _ binds: [PostgresValue] = []) async throws {
        _ = try await pool.withConnection { c in try await c.execute(sql, binds) }
    }
}

func scheduled(_ name: String, _ spec: ScheduleSpec, _ missed: MissedRunPolicy = .runOnce, uniqueKey: String = "{name}@{fire}") throws -> ScheduledJob {
    ScheduledJob(definition: try ScheduleDefinition(name: name, spec: spec, kind: .noop, args: ["s": .string(name)],
                                                    uniqueKey: uniqueKey, missedRuns: missed))
}

@Suite struct SchedulerTests {
    /// Two replicas tick every simulated minute for a day. Leadership moves four times: a clean
    /// step-down, another one, then a crash (the leader stops ticking and never releases; the
    /// other waits for the lease to expire). Each fire is recorded once and enqueued once.
    @Test func twoSchedulersOverASimulatedDay() async throws {
        try await withHarness { h in
            let jobs = [
                try scheduled("hourly", .every(.seconds(3600))),
                try scheduled("two_hourly", .every(.seconds(7200))),
                try scheduled("six_hourly", .every(.seconds(21600))),
                try scheduled("quarter", .cron(try CronExpression("*/15 * * * *"), timeZone: .gmt), .skip),
                try scheduled("seven_min", .every(.seconds(420)), .runEach(max: 5)),
                try scheduled("nightly_berlin", try ScheduleSpec.parse(cron: "0 2 * * *", timeZone: "Europe/Berlin")),
            ]
            let start = try #require(Timestamp.parse("2026-11-22T00:00:00.000Z"))
            let end = start.addingTimeInterval(86_400)
            let clock = TestClock(start)
            let a = try h.scheduler(jobs, name: "a", clock: clock)
            let b = try h.scheduler(jobs, name: "b", clock: clock)
            b.standForElection()
            var crashedA = false
            var takeover: Duration = .zero
            for step in 0...1440 {
                clock.set(start.addingTimeInterval(Double(step) * 60))
                switch step {
                case 360: await a.stepDown()  // b takes over
                case 720: await b.stepDown(); a.standForElection()
                case 1080: crashedA = true; b.standForElection()  // a "dies" holding the lease
                default: break
                }
                let began = ContinuousClock.now
                while true {
                    if !crashedA { await a.tick() }
                    await b.tick()
                    if (!crashedA && a.isLeader) || b.isLeader { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                if step == 1080 { takeover = ContinuousClock.now - began }
                // Exactly one leads at each step.
                #expect(!(a.isLeader && b.isLeader && !crashedA), "step \(step)")
            }
            // Let recovery finish any fire whose enqueue a step-down interrupted.
            for _ in 0..<40 where try await h.fires(jobs.map(\.name)).contains(where: { $0.1 == nil }) {
                await b.tick()
                try await Task.sleep(for: .milliseconds(100))
            }
            // The takeover after the crash waited for the lease (3 s) to expire, within a bound.
            #expect(takeover < .seconds(10), "takeover took \(takeover)")
            var total = 0
            for job in jobs {
                let expected = job.definition.spec.fires(in: (start.addingTimeInterval(-1), end), limit: 10_000)
                    .map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
                let fires = try await h.fires(job.name)
                #expect(fires.map(\.0) == expected, "\(job.name)")
                #expect(fires.allSatisfy { $0.1 != nil }, "\(job.name): a fire without a job")
                let ledger = try await h.jobs(uniqueKeyPrefix: job.name + "@")
                #expect(ledger.count == expected.count, "\(job.name): \(ledger.count) jobs for \(expected.count) fires")
                #expect(Set(ledger.map(\.0)) == Set(fires.compactMap(\.1)), "\(job.name)")
                total += expected.count
            }
            #expect(a.firesEnqueued + b.firesEnqueued == total)
            #expect(a.firesEnqueued > 0 && b.firesEnqueued > 0)
            // Nightly 02:00 Berlin is 01:00 UTC in November.
            #expect(try await h.fires("nightly_berlin").map(\.0) == [Int64(start.timeIntervalSince1970 * 1000) + 3_600_000])
        }
    }

    /// A leader that died after recording a fire (job_id NULL) — before the ledger insert, or
    /// after the publish — is completed by the next leader with exactly one job.
    @Test func unconfirmedFiresAreRecoveredOnce() async throws {
        try await withHarness { h in
            let job = try scheduled("beat", .every(.seconds(60)))
            let start = try #require(Timestamp.parse("2026-11-22T10:00:00.000Z"))
            let clock = TestClock(start)
            let a = try h.scheduler([job], name: "a", clock: clock)
            await a.tick()
            var fires = try await h.fires("beat")
            #expect(fires.count == 1)
            let firstJob = try #require(fires.first?.1)
            // Died after the publish confirmed, before recording the job: the derived id finds it.
            try await h.execute("UPDATE \(PostgresIdentifier.quote(schema: h.schema, "schedule_fires")) SET job_id = NULL, enqueued_at = now() - interval '1 minute'")
            // Died right after the insert: a fire row with no attempt at all.
            try await h.execute("""
                INSERT INTO \(PostgresIdentifier.quote(schema: h.schema, "schedule_fires")) (schedule, fire_time, fired_at)
                VALUES ('beat', $1, now() - interval '1 minute')
                """, [.timestamp(start.addingTimeInterval(-60))])
            await a.stepDown()
            let b = try h.scheduler([job], name: "b", clock: clock)
            await b.tick()
            fires = try await h.fires("beat")
            #expect(fires.count == 2)
            #expect(fires.allSatisfy { $0.1 != nil })
            #expect(fires.last?.1 == firstJob)
            let ledger = try await h.jobs(uniqueKeyPrefix: "beat@")
            #expect(ledger.count == 2)
            #expect(Set(ledger.map(\.0)) == Set(fires.compactMap(\.1)))
            // Nothing more is due or pending: further ticks enqueue nothing.
            #expect(await b.tick() == 0)
        }
    }

    /// A manual fire enqueues one job, keyed by its own time, and leaves last_fire alone; with
    /// the default unique key a second manual fire while the first job is live returns it.
    @Test func manualFireEnqueuesOnce() async throws {
        try await withHarness { h in
            let own = try scheduled("own", .every(.seconds(3600)))
            let shared = try scheduled("shared", .every(.seconds(3600)), uniqueKey: "schedule:{name}")
            let clock = TestClock(try #require(Timestamp.parse("2026-11-22T10:20:00.000Z")))
            let s = try h.scheduler([own, shared], name: "m", clock: clock)
            let first = try await s.fireNow("own")
            #expect(first.key == "own@manual@2026-11-22T10:20:00.000Z")
            #expect(!first.duplicate)
            clock.set(clock.now.addingTimeInterval(1))
            let second = try await s.fireNow("own")
            #expect(second.jobID != first.jobID)
            #expect(try await h.jobs(uniqueKeyPrefix: "own@").count == 2)
            #expect(try await h.ledger.job(first.jobID)?.state == .available)
            let one = try await s.fireNow("shared")
            // The same instant is the same fire.
            let same = try await s.fireNow("shared")
            #expect(same.duplicate && same.jobID == one.jobID)
            clock.set(clock.now.addingTimeInterval(1))
            let again = try await s.fireNow("shared")
            #expect(again.duplicate && again.jobID == one.jobID)
            #expect(try await h.jobs(uniqueKeyPrefix: "schedule:shared").count == 1)
            #expect(try await h.fires("own", manual: true).count == 2)
            let status = try await s.status()
            #expect(status.map(\.lastFire) == [nil, nil])
            #expect(status.first?.nextFire == Timestamp.parse("2026-11-22T11:00:00.000Z"))
            #expect(try await h.fires("shared", manual: true).count == 2)
            await #expect(throws: SchedulerError.self) { try await s.fireNow("nope") }
        }
    }
}

extension Harness {
    func fires(_ schedules: [String]) async throws -> [(Int64, JobID?)] {
        var out: [(Int64, JobID?)] = []
        for s in schedules { out += try await fires(s) }
        return out
    }
}
