// ScheduleSpec: when a periodic job fires — a cron expression in a named time zone, or a fixed
// interval anchored to an instant.
//
// Fire times are a pure function of the spec, so every scheduler replica computes the same
// ones. Interval schedules fire at anchor + k·interval (anchor: the Unix epoch unless given),
// never "interval after the last run", so a restart or a failover does not shift them.
// Intervals and anchors count in whole seconds. The arithmetic, including the DST rules, is in
// `ScheduleSpec+Fires.swift`.

import Foundation

public enum ScheduleSpec: Sendable, Hashable, CustomStringConvertible {
    /// Fires at the wall-clock minutes that match, in the time zone (DST rules in
    /// `ScheduleSpec+Fires.swift`).
    case cron(CronExpression, timeZone: TimeZone)
    /// Fires at anchor + k·interval for every integer k. Intervals under 1 s count as 1 s
    /// (the validating constructors reject them).
    case every(Duration, anchor: Date = ScheduleSpec.epoch)

    public static let epoch = Date(timeIntervalSince1970: 0)

    /// A cron schedule from catalog text: the expression and an IANA zone name (`Europe/Berlin`).
    public static func parse(cron text: String, timeZone identifier: String = "UTC") throws(ScheduleError) -> ScheduleSpec {
        let expression = try CronExpression(text)
        return .cron(expression, timeZone: try timeZone(identifier))
    }

    /// An interval schedule from catalog text (`every: 30s`), anchored at `anchor`.
    public static func parse(every text: String, anchor: Date = epoch) throws(ScheduleError) -> ScheduleSpec {
        .every(try interval(text), anchor: anchor)
    }

    /// The smallest interval a schedule may use: the scheduler ticks in seconds.
    public static let minimumInterval: Duration = .seconds(1)
    /// The largest interval (about 100 years), so arithmetic never overflows.
    public static let maximumInterval: Duration = DurationSyntax.maximum

    /// An interval in `DurationSyntax` (`90s`, `5m`, `1h30m`), at least `minimumInterval`.
    public static func interval(_ text: String) throws(ScheduleError) -> Duration {
        do {
            return try DurationSyntax.parseInterval(text, minimum: minimumInterval)
        } catch {
            throw ScheduleError(.invalidDuration, reason: error.reason)
        }
    }

    /// The zone for an IANA identifier; `UTC` in any case is accepted.
    public static func timeZone(_ identifier: String) throws(ScheduleError) -> TimeZone {
        let name = identifier.uppercased() == "UTC" ? "UTC" : identifier
        guard !name.isEmpty, name.utf8.count <= 64, let zone = TimeZone(identifier: name) else {
            throw ScheduleError(.unknownTimeZone, field: "time_zone",
                reason: "'\(identifier.prefix(64))' is not a known time zone (use an IANA name such as Europe/Berlin)")
        }
        return zone
    }

    /// `0 2 * * * (Europe/Berlin)`, `every 5m`, `every 1h from 2026-01-01T00:30:00.000Z`.
    public var description: String {
        switch self {
        case .cron(let expression, let zone):
            // Foundation names its UTC zone "GMT".
            return "\(expression) (\(zone.identifier == "GMT" ? "UTC" : zone.identifier))"
        case .every(let interval, let anchor):
            let text = "every \(DurationSyntax.formatCompound(interval))"
            return anchor == Self.epoch ? text : "\(text) from \(Timestamp.format(anchor))"
        }
    }
}
