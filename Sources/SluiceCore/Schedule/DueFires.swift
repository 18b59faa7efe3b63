// dueFires: the scheduler's per-tick decision, as a pure function of the schedule, the last
// fire it recorded, the clock and the missed-run policy.
//
// The scheduler calls it every tick, enqueues one job per returned fire time (deduplicated by
// `FireKey`), and records the latest returned time as the new `lastFire`. Nothing here reads a
// clock: tests drive it with plain Dates.

import Foundation

/// The fire times to enqueue now, oldest first.
///
/// * Due slots are those in `(lastFire, now]`; if `lastFire >= now` (a clock stepped back, a
///   replica's skew) nothing is due.
/// * `lastFire == nil` means a first start with no history: no backfill, whatever the policy.
///   Only a slot that is on time (less than `grace` old) fires; otherwise the scheduler waits
///   for the next slot.
/// * Otherwise the policy decides: `.skip` fires only the latest due slot and only if it is on
///   time; `.runOnce` fires the latest due slot (one run standing for all of them);
///   `.runEach(max:)` fires every due slot, at most the `max` most recent.
///
/// Cost: one or two `nextFire` computations on a quiet tick; a catch-up costs a bounded search.
public func dueFires(
    schedule: ScheduleSpec, lastFire: Date?, now: Date, policy: MissedRunPolicy,
    grace: Duration = MissedRunPolicy.defaultGrace
) -> [Date] {
    guard let nowSeconds = ScheduleSpec.wholeSeconds(now) else { return [] }
    let graceSeconds = max(Int64(0), grace.components.seconds)
    // Slots on time are those after this instant.
    let onTimeAfter = nowSeconds - graceSeconds

    /// The latest fire in (after, now], if any.
    func latest(after: Int64) -> Int64? {
        guard let first = schedule.nextFire(after: after), first <= nowSeconds else { return nil }
        guard let second = schedule.nextFire(after: first), second <= nowSeconds else { return first }
        return schedule.previousFire(atOrBefore: nowSeconds)
    }
    func dates(_ seconds: [Int64]) -> [Date] { seconds.map { Date(timeIntervalSince1970: Double($0)) } }

    guard let lastFire else {
        return dates(latest(after: onTimeAfter).map { [$0] } ?? [])
    }
    guard let last = ScheduleSpec.wholeSeconds(lastFire), last < nowSeconds else { return [] }

    switch policy {
    case .skip:
        return dates(latest(after: max(last, onTimeAfter)).map { [$0] } ?? [])
    case .runOnce:
        return dates(latest(after: last).map { [$0] } ?? [])
    case .runEach(let limit):
        let limit = max(1, limit)
        // Walk forward while that stays within the limit…
        var forward: [Int64] = []
        var cursor = last
        while forward.count <= limit, let f = schedule.nextFire(after: cursor), f <= nowSeconds {
            forward.append(f)
            cursor = f
        }
        if forward.count <= limit { return dates(forward) }
        // …otherwise more than `limit` slots are due: collect the most recent ones backwards.
        var backward: [Int64] = []
        var point = nowSeconds
        while backward.count < limit, let p = schedule.previousFire(atOrBefore: point), p > last {
            backward.append(p)
            point = p - 1
        }
        return dates(backward.reversed())
    }
}
