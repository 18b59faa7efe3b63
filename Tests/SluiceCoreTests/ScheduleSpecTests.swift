import Foundation
import Testing
@testable import SluiceCore

@Suite struct ScheduleSpecTests {
    // MARK: Interval texts

    @Test(arguments: [
        ("30s", 30), ("90s", 90), ("5m", 300), ("2h", 7_200), ("1d", 86_400), ("1h30m", 5_400), (" 15m ", 900),
        ("1d2h3m4s", 93_784), ("1s", 1),
    ] as [(String, Int64)])
    func parsesIntervals(text: String, seconds: Int64) throws {
        #expect(try ScheduleSpec.interval(text) == .seconds(seconds))
    }

    @Test(arguments: [
        (90, "1m30s"), (3_600, "1h"), (86_400, "1d"), (93_784, "1d2h3m4s"), (300, "5m"), (1, "1s"),
    ] as [(Int64, String)])
    func formatsIntervalsShortest(seconds: Int64, text: String) throws {
        #expect(DurationSyntax.formatCompound(.seconds(seconds)) == text)
        #expect(try ScheduleSpec.interval(text) == .seconds(seconds))
    }

    @Test(arguments: [
        ("", "the interval is empty; expected a number and a unit (30s, 5m, 2h, 1d)"),
        ("30", "'30' has no unit; use s, m, h or d (30s, 5m, 2h, 1d)"),
        ("5x", "unknown unit 'x' in '5x'; use s, m, h or d"),
        ("5M", "unknown unit 'M' in '5M'; use s, m, h or d"),
        ("5 min", "unknown unit ' min' in '5 min'; use s, m, h or d"),
        ("0s", "'0s' is below the minimum of 1s"),
        ("-5m", "'-5m' is negative"),
        ("1.5h", "'1.5h' has a fraction; use a smaller unit (90m, not 1.5h)"),
        ("m", "'m' is not an interval; expected a number and a unit (30s, 5m, 2h, 1d)"),
        ("every 5m", "'every 5m' is not an interval; expected a number and a unit (30s, 5m, 2h, 1d)"),
        ("30m1h", "'30m1h' repeats or misorders units; write the largest first (1h30m)"),
        ("99999999999999d", "'99999999999999d' is too large"),
        ("40000d", "'40000d' is too large"),
    ])
    func rejectsBadIntervalsWithTheReason(text: String, message: String) {
        do {
            let d = try ScheduleSpec.interval(text)
            Issue.record("'\(text)' parsed as \(d)")
        } catch {
            #expect(error.code == .invalidDuration)
            #expect(error.description == message)
        }
    }

    // MARK: Specs

    @Test func parsesSpecsAndDescribesThem() throws {
        #expect(try ScheduleSpec.parse(cron: "0 2 * * *", timeZone: "Europe/Berlin").description == "0 2 * * * (Europe/Berlin)")
        #expect(try ScheduleSpec.parse(cron: "@hourly").description == "0 * * * * (UTC)")
        #expect(try ScheduleSpec.parse(cron: "@hourly", timeZone: "utc") == ScheduleSpec.parse(cron: "0 * * * *", timeZone: "UTC"))
        #expect(try ScheduleSpec.parse(every: "300s").description == "every 5m")
        #expect(try ScheduleSpec.parse(every: "1h", anchor: date("2026-01-01T00:30:00Z")).description
            == "every 1h from 2026-01-01T00:30:00.000Z")
    }

    @Test(arguments: ["Mars/Olympus", "", "Europe/Berlin ", "../../etc/passwd"])
    func rejectsUnknownTimeZones(name: String) {
        do {
            _ = try ScheduleSpec.parse(cron: "0 2 * * *", timeZone: name)
            Issue.record("'\(name)' accepted")
        } catch {
            #expect(error.code == .unknownTimeZone)
            #expect(error.description == "time_zone: '\(name)' is not a known time zone (use an IANA name such as Europe/Berlin)")
        }
    }

    @Test func cronErrorsPassThroughSpecParsing() {
        #expect(throws: ScheduleError(.invalidCron, field: "hour", reason: "24 is out of range 0-23")) {
            try ScheduleSpec.parse(cron: "0 24 * * *", timeZone: "UTC")
        }
    }

    // MARK: Intervals

    @Test func intervalFiresAreAnchoredToTheEpoch() throws {
        let spec = try ScheduleSpec.parse(every: "7m")
        let fires = spec.fires(in: (after: date("2025-06-10T10:03:17Z"), through: date("2025-06-10T11:00:00Z")), limit: 100)
        #expect(!fires.isEmpty)
        for f in fires { #expect(Int64(f.timeIntervalSince1970) % 420 == 0) }
        #expect(zip(fires, fires.dropFirst()).allSatisfy { $1.timeIntervalSince($0) == 420 })
        #expect(spec.nextFire(after: date("1970-01-01T00:00:00Z")) == date("1970-01-01T00:07:00Z"))
        #expect(spec.nextFire(after: date("1969-12-31T23:59:59Z")) == date("1970-01-01T00:00:00Z"))
    }

    /// Replicas started at different moments (and ticking with different phases) compute the
    /// same fire times, so their dedupe keys collide as they must.
    @Test(arguments: ["7m", "90s", "2h", "1d", "13s"])
    func replicasComputeIdenticalIntervalFires(every: String) throws {
        let spec = try ScheduleSpec.parse(every: every)
        let end = date("2025-06-12T00:00:00Z")
        let replicaA = spec.fires(in: (after: date("2025-06-10T10:03:17.250Z"), through: end), limit: 20_000)
        let replicaB = spec.fires(in: (after: date("2025-06-10T23:59:02Z"), through: end), limit: 20_000)
        #expect(!replicaB.isEmpty)
        #expect(Array(replicaA.suffix(replicaB.count)) == replicaB)
        // And each replica walking its own way (next after next vs. one jump) agrees.
        var walked: [Date] = []
        var cursor = date("2025-06-10T23:59:02Z")
        while let f = spec.nextFire(after: cursor), f <= end {
            walked.append(f)
            cursor = f.addingTimeInterval(0.4)  // a replica that ticks a bit after each fire
        }
        #expect(walked == replicaB)
    }

    @Test func intervalWithAnAnchorFiresOnTheAnchorsPhase() throws {
        let spec = try ScheduleSpec.parse(every: "1h", anchor: date("2020-01-01T00:30:00Z"))
        #expect(spec.nextFire(after: date("2025-06-10T10:00:00Z")) == date("2025-06-10T10:30:00Z"))
        #expect(spec.nextFire(after: date("2025-06-10T10:30:00Z")) == date("2025-06-10T11:30:00Z"))
        #expect(spec.previousFire(atOrBefore: date("2025-06-10T10:30:00Z")) == date("2025-06-10T10:30:00Z"))
        #expect(spec.previousFire(atOrBefore: date("2025-06-10T10:29:59.999Z")) == date("2025-06-10T09:30:00Z"))
        // Anchors in the future work the same way (k may be negative).
        let future = try ScheduleSpec.parse(every: "1h", anchor: date("2090-01-01T00:15:00Z"))
        #expect(future.nextFire(after: date("2025-06-10T10:00:00Z")) == date("2025-06-10T10:15:00Z"))
    }

    @Test func intervalsIgnoreTimeZonesAndDST() throws {
        // Every 1h is elapsed time: across New York's fall-back it stays 3600 s apart.
        let spec = try ScheduleSpec.parse(every: "1h")
        let fires = spec.fires(in: (after: date("2025-11-02T00:00:00-04:00"), through: date("2025-11-02T04:00:00-05:00")), limit: 10)
        #expect(fires.count == 5)
        #expect(zip(fires, fires.dropFirst()).allSatisfy { $1.timeIntervalSince($0) == 3600 })
    }

    @Test func firesInARangeHonourBoundsAndLimit() throws {
        let spec = try ScheduleSpec.parse(cron: "*/10 * * * *")
        let after = date("2025-06-10T10:00:00Z"), through = date("2025-06-10T11:00:00Z")
        #expect(stamps(spec.fires(in: (after: after, through: through), limit: 100)) == stamps([
            "2025-06-10T10:10:00Z", "2025-06-10T10:20:00Z", "2025-06-10T10:30:00Z", "2025-06-10T10:40:00Z",
            "2025-06-10T10:50:00Z", "2025-06-10T11:00:00Z",
        ].map(date)))
        #expect(spec.fires(in: (after: after, through: through), limit: 2).count == 2)
        #expect(spec.fires(in: (after: through, through: after), limit: 10).isEmpty)
        #expect(spec.fires(in: (after: after, through: through), limit: 0).isEmpty)
    }

    @Test func searchesAreFastEvenForRareExpressions() throws {
        // Skip-by-field: these would take millions of steps minute by minute.
        let clock = ContinuousClock()
        let spec = try ScheduleSpec.parse(cron: "0 0 29 2 *", timeZone: "Europe/Berlin")
        var fires: [Date] = []
        let elapsed = clock.measure {
            fires = spec.fires(in: (after: date("2001-01-01T00:00:00Z"), through: date("2101-01-01T00:00:00Z")), limit: 100)
        }
        #expect(fires.count == 24)  // 2004 … 2096
        #expect(elapsed < .seconds(2))  // generous: a minute-by-minute scan would take far longer
    }

    @Test func refusesDatesOutsideTheSupportedRange() throws {
        let spec = try ScheduleSpec.parse(cron: "@daily")
        #expect(spec.nextFire(after: Date.distantFuture.addingTimeInterval(1e15)) == nil)
        #expect(spec.nextFire(after: Date(timeIntervalSince1970: .nan)) == nil)
        #expect(spec.previousFire(atOrBefore: Date(timeIntervalSince1970: .infinity)) == nil)
    }
}
