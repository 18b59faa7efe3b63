import Foundation
import Testing
@testable import SluiceCore

/// DST behaviour of cron schedules (the rules are documented in ScheduleSpec+Fires.swift).
/// 2025 changes: New York Mar 9 02:00 EST→03:00 EDT and Nov 2 02:00 EDT→01:00 EST;
/// Berlin Mar 30 02:00 CET→03:00 CEST and Oct 26 03:00 CEST→02:00 CET;
/// Santiago Apr 6 00:00→Apr 5 23:00 and Sep 7 00:00→01:00.
@Suite struct CronDSTTests {
    @Test(arguments: [
        // Daily 02:30: on the spring-forward day it fires once as the gap ends (03:00), never skipped.
        ("America/New_York", "30 2 * * *", "2025-03-08T00:00:00-05:00",
         ["2025-03-08T02:30:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00"]),
        ("Europe/Berlin", "30 2 * * *", "2025-03-29T00:00:00+01:00",
         ["2025-03-29T02:30:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"]),
        // Fall back: a repeated wall time fires at its first occurrence only.
        ("America/New_York", "30 2 * * *", "2025-11-01T00:00:00-04:00",
         ["2025-11-01T02:30:00-04:00", "2025-11-02T02:30:00-05:00", "2025-11-03T02:30:00-05:00"]),
        ("America/New_York", "30 1 * * *", "2025-11-01T00:00:00-04:00",
         ["2025-11-01T01:30:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"]),
        ("Europe/Berlin", "30 2 * * *", "2025-10-25T00:00:00+02:00",
         ["2025-10-25T02:30:00+02:00", "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]),
        // Hourly follows real hours: no gap at spring forward, no duplicate or gap at fall back.
        ("America/New_York", "0 * * * *", "2025-03-09T00:00:00-05:00",
         ["2025-03-09T01:00:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00"]),
        ("America/New_York", "@hourly", "2025-11-02T00:00:00-04:00",
         ["2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00", "2025-11-02T03:00:00-05:00"]),
        ("Europe/Berlin", "0 * * * *", "2025-03-30T00:00:00+01:00",
         ["2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"]),
        ("Europe/Berlin", "0 * * * *", "2025-10-26T01:00:00+02:00",
         ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00", "2025-10-26T03:00:00+01:00"]),
        // Every 15 minutes keeps a 15-minute cadence in real time across both changes.
        ("America/New_York", "*/15 * * * *", "2025-03-09T01:30:00-05:00",
         ["2025-03-09T01:45:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T03:15:00-04:00"]),
        ("America/New_York", "*/15 * * * *", "2025-11-02T01:30:00-04:00",
         ["2025-11-02T01:45:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T01:15:00-05:00",
          "2025-11-02T01:30:00-05:00", "2025-11-02T01:45:00-05:00", "2025-11-02T02:00:00-05:00"]),
        ("Europe/Berlin", "*/15 * * * *", "2025-03-30T01:30:00+01:00",
         ["2025-03-30T01:45:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T03:15:00+02:00"]),
        ("Europe/Berlin", "*/15 * * * *", "2025-10-26T02:30:00+02:00",
         ["2025-10-26T02:45:00+02:00", "2025-10-26T02:00:00+01:00", "2025-10-26T02:15:00+01:00",
          "2025-10-26T02:30:00+01:00", "2025-10-26T02:45:00+01:00", "2025-10-26T03:00:00+01:00"]),
        // A fixed-hour step keeps its time of day: 02:00 fires once in Berlin's repeated hour…
        ("Europe/Berlin", "0 */2 * * *", "2025-10-26T00:00:00+02:00",
         ["2025-10-26T02:00:00+02:00", "2025-10-26T04:00:00+01:00"]),
        // …and the skipped 02:00 fires as the gap ends.
        ("Europe/Berlin", "0 */2 * * *", "2025-03-30T00:00:00+01:00",
         ["2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"]),
        // Several matches inside one gap fire once.
        ("America/New_York", "*/30 2 * * *", "2025-03-09T00:00:00-05:00",
         ["2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00", "2025-03-10T02:30:00-04:00"]),
        ("America/New_York", "0 2 * * *", "2025-03-08T12:00:00-05:00",
         ["2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"]),
        ("America/New_York", "0 2 * * *", "2025-11-01T12:00:00-04:00",
         ["2025-11-02T02:00:00-05:00", "2025-11-03T02:00:00-05:00"]),
        // Santiago changes at midnight: a skipped midnight fires at 01:00, a repeated 23:30 once.
        ("America/Santiago", "0 0 * * *", "2025-09-06T12:00:00-04:00",
         ["2025-09-07T01:00:00-03:00", "2025-09-08T00:00:00-03:00"]),
        ("America/Santiago", "30 23 * * *", "2025-04-05T12:00:00-03:00",
         ["2025-04-05T23:30:00-03:00", "2025-04-06T23:30:00-04:00"]),
        // Offset changes that are not DST follow the same rules: Moscow went from +04 to +03 for
        // good on 2014-10-26 at 02:00, repeating 01:xx once.
        ("Europe/Moscow", "30 1 * * *", "2014-10-25T12:00:00+04:00",
         ["2014-10-26T01:30:00+04:00", "2014-10-27T01:30:00+03:00"]),
        // Samoa skipped 2011-12-30 entirely: the day's noon fires when the gap ends (midnight of the 31st).
        ("Pacific/Apia", "0 12 * * *", "2011-12-29T00:00:00-10:00",
         ["2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"]),
    ])
    func firesAcrossDSTChanges(zone: String, text: String, after: String, expected: [String]) throws {
        let spec = try ScheduleSpec.parse(cron: text, timeZone: zone)
        let fires = spec.fires(in: (after: date(after), through: date("2030-01-01T00:00:00Z")), limit: expected.count)
        #expect(stamps(fires) == stamps(expected.map(date)))
    }

    @Test func previousFireUsesTheSameRules() throws {
        let daily = try ScheduleSpec.parse(cron: "30 2 * * *", timeZone: "America/New_York")
        #expect(daily.previousFire(atOrBefore: date("2025-03-09T03:30:00-04:00")) == date("2025-03-09T03:00:00-04:00"))
        #expect(daily.previousFire(atOrBefore: date("2025-03-09T02:59:59-04:00")) == date("2025-03-08T02:30:00-05:00"))
        let early = try ScheduleSpec.parse(cron: "30 1 * * *", timeZone: "America/New_York")
        #expect(early.previousFire(atOrBefore: date("2025-11-02T01:45:00-05:00")) == date("2025-11-02T01:30:00-04:00"))
        let hourly = try ScheduleSpec.parse(cron: "0 * * * *", timeZone: "America/New_York")
        #expect(hourly.previousFire(atOrBefore: date("2025-11-02T01:30:00-05:00")) == date("2025-11-02T01:00:00-05:00"))
    }

    /// Every fire in a 60-hour window around each 2025 change of four zones (30-minute DST in
    /// Lord Howe, midnight changes in Santiago) agrees with a minute-by-minute scan that applies
    /// the documented rules directly: fixed-hour jobs fire at the first instant a matching wall
    /// time is shown and once after a gap that hid one; every-hour jobs fire whenever a
    /// matching wall time is shown. `previousFire` agrees with the list too.
    @Test(arguments: ["America/New_York", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe"])
    func agreesWithAMinuteByMinuteScan(zoneName: String) throws {
        let zone = TimeZone(identifier: zoneName)!
        let expressions = [
            "30 2 * * *", "0 * * * *", "*/15 * * * *", "30 1 * * *", "0 */2 * * *", "*/30 2 * * *", "15 2,3 * * *",
            "* 2 * * *", "0 0 * * *", "30 23 * * *", "*/7 * * * *", "0 1-3 * * *", "45 0 * * 0,6", "10 2 * * *",
        ].map { try! CronExpression($0) }
        var transition = date("2025-01-01T00:00:00Z")
        for _ in 0..<2 {
            transition = zone.nextDaylightSavingTimeTransition(after: transition)!
            let t = Int64(transition.timeIntervalSince1970)
            let windowStart = t - 30 * 3600, windowEnd = t + 30 * 3600
            // Wall clock of every UTC minute, from a day before the window (to know what was shown).
            let scanStart = windowStart - 86_400
            let instants = Array(stride(from: scanStart, through: windowEnd, by: 60))
            let civil = instants.map { $0 + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double($0)))) }
            let fields: [tm] = civil.map { c in
                var time = time_t(c)
                var parts = tm()
                gmtime_r(&time, &parts)
                return parts
            }
            // Whether each instant shows its wall time for the first time, and the wall minutes a
            // spring-forward gap hid just before it.
            var shown = Set<Int64>()
            var firstShowing: [Bool] = []
            var hidden: [[tm]] = []
            for i in instants.indices {
                firstShowing.append(shown.insert(civil[i]).inserted)
                var gap: [tm] = []
                if i > 0, civil[i] - civil[i - 1] > 60 {
                    for c in stride(from: civil[i - 1] + 60, to: civil[i], by: 60) {
                        var time = time_t(c)
                        var p = tm()
                        gmtime_r(&time, &p)
                        gap.append(p)
                    }
                }
                hidden.append(gap)
            }
            for e in expressions {
                func table(_ values: [Int], _ size: Int) -> [Bool] {
                    var t = [Bool](repeating: false, count: size)
                    for v in values { t[v] = true }
                    return t
                }
                let minutes = table(e.minutes, 60), hours = table(e.hours, 24), doms = table(e.daysOfMonth, 32)
                let months = table(e.months, 13), dows = table(e.daysOfWeek, 7)
                func matches(_ p: tm) -> Bool {
                    let domOK = doms[Int(p.tm_mday)], dowOK = dows[Int(p.tm_wday)]
                    return minutes[Int(p.tm_min)] && hours[Int(p.tm_hour)] && months[Int(p.tm_mon) + 1]
                        && (e.matchesEitherDay ? (domOK || dowOK) : (domOK && dowOK))
                }
                let everyHour = e.hours.count == 24
                var expected: [Int64] = []
                for i in instants.indices where instants[i] > windowStart {
                    var fires = matches(fields[i]) && (everyHour || firstShowing[i])
                    if !everyHour, hidden[i].contains(where: matches) { fires = true }
                    if fires { expected.append(instants[i]) }
                }
                let spec = ScheduleSpec.cron(e, timeZone: zone)
                let actual = spec.fires(
                    in: (after: Date(timeIntervalSince1970: Double(windowStart)), through: Date(timeIntervalSince1970: Double(windowEnd))),
                    limit: 10_000)
                #expect(actual.map { Int64($0.timeIntervalSince1970) } == expected, "\(e) in \(zoneName) around \(transition)")
                for (a, b) in zip(actual, actual.dropFirst()) where abs(a.timeIntervalSince(transition)) < 3 * 3600 {
                    #expect(spec.previousFire(atOrBefore: b.addingTimeInterval(-1)) == a, "\(e) previous before \(b)")
                }
            }
        }
    }
}
