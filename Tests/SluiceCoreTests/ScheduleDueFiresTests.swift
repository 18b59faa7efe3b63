import Foundation
import Testing
@testable import SluiceCore

/// `dueFires` driven by an injected clock: plain Dates, ticks simulated in a loop.
@Suite struct ScheduleDueFiresTests {
    static let hourly = try! ScheduleSpec.parse(cron: "@hourly")

    // MARK: First start

    @Test(arguments: [MissedRunPolicy.skip, .runOnce, .runEach(max: 5)])
    func firstStartDoesNotBackfill(policy: MissedRunPolicy) throws {
        let daily = try ScheduleSpec.parse(cron: "0 2 * * *")
        #expect(dueFires(schedule: daily, lastFire: nil, now: date("2025-06-10T10:00:00Z"), policy: policy).isEmpty)
        // A slot that is on time (less than the grace old) is not a backfill: it fires.
        #expect(dueFires(schedule: Self.hourly, lastFire: nil, now: date("2025-06-10T10:00:30Z"), policy: policy)
            == [date("2025-06-10T10:00:00Z")])
        #expect(dueFires(schedule: Self.hourly, lastFire: nil, now: date("2025-06-10T10:00:00Z"), policy: policy)
            == [date("2025-06-10T10:00:00Z")])
        #expect(dueFires(schedule: Self.hourly, lastFire: nil, now: date("2025-06-10T10:01:00Z"), policy: policy).isEmpty)
        #expect(dueFires(schedule: Self.hourly, lastFire: nil, now: date("2025-06-10T10:05:00Z"), policy: policy).isEmpty)
        // A shorter grace is honoured.
        #expect(dueFires(schedule: Self.hourly, lastFire: nil, now: date("2025-06-10T10:00:30Z"), policy: policy,
            grace: .seconds(10)).isEmpty)
    }

    @Test func nothingIsDueWhenTheLastFireIsNotInThePast() {
        let now = date("2025-06-10T10:00:30Z")
        #expect(dueFires(schedule: Self.hourly, lastFire: now, now: now, policy: .runOnce).isEmpty)
        #expect(dueFires(schedule: Self.hourly, lastFire: now.addingTimeInterval(3600), now: now, policy: .runEach(max: 9)).isEmpty)
    }

    @Test(arguments: [MissedRunPolicy.skip, .runOnce, .runEach(max: 5)])
    func aQuietTickFiresNothingAndTheNextSlotFiresOnce(policy: MissedRunPolicy) {
        let last = date("2025-06-10T10:00:00Z")
        #expect(dueFires(schedule: Self.hourly, lastFire: last, now: date("2025-06-10T10:59:59.999Z"), policy: policy).isEmpty)
        #expect(dueFires(schedule: Self.hourly, lastFire: last, now: date("2025-06-10T11:00:00Z"), policy: policy)
            == [date("2025-06-10T11:00:00Z")])
    }

    // MARK: Missed runs

    @Test(arguments: [
        // Down from 03:00; back at 09:00:20, when 09:00 is still on time.
        (MissedRunPolicy.skip, "2025-06-10T09:00:20Z", ["09"]),
        (.runOnce, "2025-06-10T09:00:20Z", ["09"]),
        (.runEach(max: 3), "2025-06-10T09:00:20Z", ["07", "08", "09"]),
        (.runEach(max: 10), "2025-06-10T09:00:20Z", ["04", "05", "06", "07", "08", "09"]),
        (.runEach(max: 6), "2025-06-10T09:00:20Z", ["04", "05", "06", "07", "08", "09"]),
        // Back at 09:30, when every due slot is missed.
        (.skip, "2025-06-10T09:30:00Z", []),
        (.runOnce, "2025-06-10T09:30:00Z", ["09"]),
        (.runEach(max: 1), "2025-06-10T09:30:00Z", ["09"]),
        (.runEach(max: 3), "2025-06-10T09:30:00Z", ["07", "08", "09"]),
    ] as [(MissedRunPolicy, String, [String])])
    func policiesDecideMissedSlots(policy: MissedRunPolicy, now: String, hours: [String]) {
        let fires = dueFires(schedule: Self.hourly, lastFire: date("2025-06-10T03:00:00Z"), now: date(now), policy: policy)
        #expect(stamps(fires) == stamps(hours.map { date("2025-06-10T\($0):00:00Z") }))
    }

    @Test func runEachOverALongDowntimeIsBoundedAndOrdered() throws {
        let everyMinute = try ScheduleSpec.parse(cron: "* * * * *", timeZone: "Europe/Berlin")
        // Thirty days down: 43 200 slots due, only the 5 most recent fire, oldest first.
        let fires = dueFires(schedule: everyMinute, lastFire: date("2025-05-11T12:00:00Z"),
            now: date("2025-06-10T12:00:30Z"), policy: .runEach(max: 5))
        #expect(stamps(fires) == stamps(["11:56", "11:57", "11:58", "11:59", "12:00"].map { date("2025-06-10T\($0):00Z") }))
        let interval = try ScheduleSpec.parse(every: "1s")
        let ticks = dueFires(schedule: interval, lastFire: date("2025-05-11T12:00:00Z"), now: date("2025-06-10T12:00:30.5Z"),
            policy: .runEach(max: 3))
        #expect(stamps(ticks) == stamps(["28", "29", "30"].map { date("2025-06-10T12:00:\($0)Z") }))
    }

    /// Ticks every 10 s from midnight to noon with the scheduler down from 03:10 to 07:45.
    @Test(arguments: [
        (MissedRunPolicy.skip, ["00", "01", "02", "03", "08", "09", "10", "11", "12"]),
        (.runOnce, ["00", "01", "02", "03", "07", "08", "09", "10", "11", "12"]),
        (.runEach(max: 2), ["00", "01", "02", "03", "06", "07", "08", "09", "10", "11", "12"]),
        (.runEach(max: 10), ["00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]),
    ] as [(MissedRunPolicy, [String])])
    func simulatedDowntime(policy: MissedRunPolicy, hours: [String]) {
        let start = date("2025-06-10T00:00:00Z")
        var lastFire: Date?
        var fired: [(fire: Date, at: Date)] = []
        for k in 0...(12 * 360) {
            let now = start.addingTimeInterval(Double(k) * 10)
            if now > date("2025-06-10T03:10:00Z"), now < date("2025-06-10T07:45:00Z") { continue }  // down
            let fires = dueFires(schedule: Self.hourly, lastFire: lastFire, now: now, policy: policy)
            fired += fires.map { ($0, now) }
            lastFire = fires.last ?? lastFire
        }
        #expect(stamps(fired.map(\.fire)) == stamps(hours.map { date("2025-06-10T\($0):00:00Z") }))
        // Catch-up happens at the first tick after the downtime; on-time slots at their own tick.
        for (fire, at) in fired {
            let late = at.timeIntervalSince(fire)
            #expect(late == 0 || at == date("2025-06-10T07:45:00Z"), "\(fire) fired at \(at)")
        }
    }

    // MARK: A day of ticks

    /// The seeds' schedules over whole days (a UTC day and New York's two DST days), ticking
    /// every 10 s with the real `dueFires`: each slot fires exactly once, within one tick of its
    /// time, and the count per day is what the wall clock says.
    @Test(arguments: [
        ("UTC", "2025-06-01T00:00:00Z", 24 * 3600,
         ["0 * * * *": 24, "0 */2 * * *": 12, "0 */6 * * *": 4, "0 2 * * *": 1, "*/5 * * * *": 288, "* * * * *": 1440,
          "*/30 * * * *": 48, "0 1 1 * *": 1, "every 5m": 288]),
        // 23-hour day: 02:00 happens as the gap ends (03:00); no hour repeats.
        ("America/New_York", "2025-03-09T00:00:00-05:00", 23 * 3600,
         ["0 * * * *": 23, "0 */2 * * *": 12, "0 */6 * * *": 4, "0 2 * * *": 1, "*/5 * * * *": 276, "* * * * *": 1380]),
        // 25-hour day: every-hour jobs fire in both 01:xx hours, fixed-hour jobs once.
        ("America/New_York", "2025-11-02T00:00:00-04:00", 25 * 3600,
         ["0 * * * *": 25, "0 */2 * * *": 12, "0 */6 * * *": 4, "0 2 * * *": 1, "*/5 * * * *": 300, "* * * * *": 1500]),
    ] as [(String, String, Int, [String: Int])])
    func aDayOfTicksFiresEachSlotExactlyOnce(zone: String, midnight: String, dayLength: Int, counts: [String: Int]) throws {
        let dayStart = date(midnight)
        let dayEnd = dayStart.addingTimeInterval(Double(dayLength))
        // Ticks at :03, :13, … so that no tick lands exactly on a slot.
        let firstTick = dayStart.addingTimeInterval(-7)
        let tickCount = (dayLength + 7) / 10
        for (text, count) in counts {
            let spec = text.hasPrefix("every ")
                ? try ScheduleSpec.parse(every: String(text.dropFirst(6)))
                : try ScheduleSpec.parse(cron: text, timeZone: zone)
            // The scheduler was already running: its last fire is the slot before the first tick.
            var lastFire = spec.previousFire(atOrBefore: firstTick)
            var fired: [Date] = []
            for k in 0..<tickCount {
                let now = firstTick.addingTimeInterval(Double(k) * 10)
                let fires = dueFires(schedule: spec, lastFire: lastFire, now: now, policy: .runOnce)
                for f in fires {
                    #expect(now.timeIntervalSince(f) >= 0 && now.timeIntervalSince(f) < 10, "\(spec): \(f) fired at \(now)")
                }
                fired += fires
                lastFire = fires.last ?? lastFire
            }
            #expect(Set(fired).count == fired.count, "\(spec) fired a slot twice")
            #expect(fired.count == count, "\(spec) fired \(fired.count) times")
            #expect(fired.allSatisfy { $0 >= dayStart && $0 < dayEnd })
            #expect(fired == spec.fires(in: (after: firstTick, through: dayEnd.addingTimeInterval(-1)), limit: 10_000))
        }
    }

    /// Two replicas that both believe they lead (split brain) tick with different phases: they
    /// compute the same FireKeys, so dedupe on the key enqueues each slot once. Then a clean
    /// failover: the new leader picks up the shared lastFire and neither skips nor repeats.
    @Test func replicasAgreeOnFireKeysAndFailoverNeitherSkipsNorRepeats() throws {
        let definition = try ScheduleDefinition(
            name: "refresh_campaign_analytics", spec: ScheduleSpec.parse(cron: "*/5 * * * *", timeZone: "Europe/Berlin"),
            kind: "refresh.matview", args: ["view": "campaign_analytics"], missedRuns: .skip)
        let start = date("2025-10-25T22:00:00Z")  // spans Berlin's fall-back night
        var enqueued = Set<FireKey>()
        var attempts = 0
        var lastA: Date?, lastB: Date?
        for k in 0..<(6 * 360) {
            let nowA = start.addingTimeInterval(Double(k) * 10 + 3)
            let nowB = start.addingTimeInterval(Double(k) * 10 + 8)
            let a = definition.dueFires(lastFire: lastA, now: nowA)
            let b = definition.dueFires(lastFire: lastB, now: nowB)
            attempts += a.count + b.count
            enqueued.formUnion(a)
            enqueued.formUnion(b)
            lastA = a.last?.fireTime ?? lastA
            lastB = b.last?.fireTime ?? lastB
        }
        // Every 5 minutes follows real time through the fall-back night: 6 real hours, 72 slots.
        #expect(enqueued.count == 6 * 12)
        #expect(attempts == 2 * enqueued.count)

        // Failover: A leads until 00:33:01Z and dies; B takes over at 00:35:41Z from the shared
        // store and still fires the 00:35 slot (50 s late, within the grace).
        var shared: Date?
        var fired: [FireKey] = []
        var now = start
        while now < date("2025-10-26T02:00:00Z") {
            if now < date("2025-10-26T00:33:01Z") || now > date("2025-10-26T00:35:41Z") {
                let due = definition.dueFires(lastFire: shared, now: now)
                fired += due
                shared = due.last?.fireTime ?? shared
            }
            now = now.addingTimeInterval(10)
        }
        #expect(fired.count == 4 * 12)
        #expect(fired.contains(definition.fireKey(date("2025-10-26T00:35:00Z"))))
        #expect(Set(fired).count == fired.count)
        #expect(fired.map(\.fireTime) == definition.spec.fires(in: (after: start.addingTimeInterval(-1), through: now.addingTimeInterval(-10)), limit: 1000))
    }
}
