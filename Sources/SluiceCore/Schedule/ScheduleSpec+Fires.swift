// ScheduleSpec+Fires: next and previous fire times, with the DST rules.
//
// Cron schedules are evaluated on the zone's wall clock, one stretch of constant UTC offset at
// a time (the zone's transitions come from Foundation's tz data), skipping by field inside
// each stretch. The DST rules, chosen to match Vixie cron / cronie as closely as a pure
// function can:
//
// * Jobs whose hour field covers every hour (`*/15 * * * *`, `@hourly`) follow elapsed time:
//   a wall time that does not exist (spring forward) is simply not a fire, and a wall time that
//   occurs twice (fall back) fires at both instants. An hourly job thus fires once per real
//   hour, with no duplicate and no gap.
// * Jobs with a fixed hour (`30 2 * * *`, `0 */2 * * *`) are about a time of day:
//   - spring forward: matching wall times inside the gap fire once, at the first instant after
//     it (02:30 New York on the change day fires at 03:00 EDT); the day is never skipped.
//   - fall back: a wall time that occurs twice fires only at its first occurrence.
//
// Other offset changes (a zone moving its standard time) follow the same rules. The search
// assumes a zone's offset changes are more than a day apart, as in every current zone.
// Searches end after 400 years (a full Gregorian cycle), so nothing can loop forever.
// Interval schedules ignore zones: anchor + k·interval in elapsed seconds.

import Foundation

extension ScheduleSpec {
    /// How far a search looks ahead: 400 Gregorian years and a day.
    static let searchHorizon: Int64 = 146_097 * 86_400 + 86_400

    /// The first fire strictly after `date`, or nil if there is none within 400 years.
    /// Cron fires follow the DST rules above: never a skipped day for a fixed-hour job, never
    /// a duplicate or a gap in real time for an every-hour job.
    public func nextFire(after date: Date) -> Date? {
        guard let after = Self.wholeSeconds(date) else { return nil }
        return nextFire(after: after).map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// The latest fire at or before `date`, or nil if there is none within 400 years.
    public func previousFire(atOrBefore date: Date) -> Date? {
        guard let target = Self.wholeSeconds(date) else { return nil }
        return previousFire(atOrBefore: target).map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// The fires `f` with `range.after < f <= range.through`, oldest first, at most `limit`.
    public func fires(in range: (after: Date, through: Date), limit: Int) -> [Date] {
        guard let after = Self.wholeSeconds(range.after), let through = Self.wholeSeconds(range.through) else { return [] }
        var out: [Date] = []
        var cursor = after
        while out.count < limit, let f = nextFire(after: cursor), f <= through {
            out.append(Date(timeIntervalSince1970: Double(f)))
            cursor = f
        }
        return out
    }

    // MARK: - Whole-second arithmetic

    /// Fires fall on whole seconds, so "f > date" is "f > floor(date)" and "f <= date" is
    /// "f <= floor(date)". Dates outside ±100 000 years are refused.
    static func wholeSeconds(_ date: Date) -> Int64? {
        let t = date.timeIntervalSince1970
        guard t.isFinite, abs(t) < 3.0e12 else { return nil }
        return Int64(t.rounded(.down))
    }

    func nextFire(after: Int64) -> Int64? {
        switch self {
        case .every(let interval, let anchor):
            let (a, i) = Self.interval(interval, anchor)
            return a + (CivilCalendar.floorDiv(after - a, i) + 1) * i
        case .cron(let expression, let zone):
            return Self.nextCronFire(expression, zone, after: after)
        }
    }

    func previousFire(atOrBefore target: Int64) -> Int64? {
        switch self {
        case .every(let interval, let anchor):
            let (a, i) = Self.interval(interval, anchor)
            return a + CivilCalendar.floorDiv(target - a, i) * i
        case .cron:
            // Widen a window back from `target` until it holds a fire, then bisect for the last
            // one. Reusing `nextFire` keeps both directions under exactly the same DST rules.
            var high = target  // invariant: no fire in (high, target]
            var width: Int64 = 3_600
            while width <= Self.searchHorizon * 2 {
                let low = target - width
                if let f = nextFire(after: low), f <= target {
                    var l = low
                    var h = high
                    while h - l > 1 {
                        let m = l + (h - l) / 2
                        if let f = nextFire(after: m), f <= target { l = m } else { h = m }
                    }
                    return nextFire(after: l)
                }
                high = low
                width *= 2
            }
            return nil
        }
    }

    /// Anchor and interval in whole seconds; the interval is at least 1 s.
    static func interval(_ interval: Duration, _ anchor: Date) -> (anchor: Int64, interval: Int64) {
        let seconds = min(max(interval.components.seconds, 1), Int64(ScheduleSpec.maximumInterval.components.seconds))
        return (wholeSeconds(anchor) ?? 0, seconds)
    }

    /// The cron search, one stretch of constant UTC offset ("segment") at a time.
    static func nextCronFire(_ cron: CronExpression, _ zone: TimeZone, after: Int64) -> Int64? {
        func offset(_ t: Int64) -> Int64 { Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t)))) }
        func transition(after t: Int64) -> Int64? {
            guard let d = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(t))) else {
                return nil
            }
            return max(Int64(d.timeIntervalSince1970.rounded()), t + 1)
        }
        let horizon = after + searchHorizon
        let fixedHour = !cron.coversEveryHour

        // Start a day back so that a transition just before `after` is seen: a fall-back
        // overlap we are inside must still suppress repeated fixed-hour times.
        var start = after - 86_400
        var previousOffset: Int64? = nil  // the offset before `start`, when `start` is a transition
        var end = transition(after: start)
        while let e = end, e <= after {
            previousOffset = offset(e - 1)
            start = e
            end = transition(after: e)
        }
        while start < horizon {
            let o = offset(start)
            let segmentEnd = min(end ?? horizon, horizon)
            if fixedHour, let p = previousOffset, o > p, start > after,
                cron.firstMatch(atOrAfter: start + p, before: start + o) != nil
            {
                // Spring forward: a matching wall time was skipped; fire as the gap ends.
                return start
            }
            var low = max(after + 1, start) + o
            if fixedHour, let p = previousOffset, p > o {
                // Fall back: wall times before start + p already happened in the last segment.
                low = max(low, start + p)
            }
            if let civil = cron.firstMatch(atOrAfter: low, before: segmentEnd + o) {
                return civil - o
            }
            guard let e = end, e < horizon else { return nil }
            previousOffset = o
            start = e
            end = transition(after: e)
        }
        return nil
    }
}
