// FireKey: the identity of one fire of one schedule, used to deduplicate enqueues when two
// scheduler replicas (or one after a restart) decide the same fire.
//
// Text form, stable across versions: `<schedule name>@<fire time as Timestamp>`, e.g.
// `refresh_campaign_analytics@2026-11-22T10:00:00.000Z`. Schedule names cannot contain `@`.
// Fire times are kept to the millisecond, like every Timestamp on the wire.

import Foundation

public struct FireKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let schedule: String
    /// Milliseconds since the Unix epoch: the exact value the text form carries.
    public let milliseconds: Int64

    /// `schedule` should satisfy `ScheduleDefinition.isValidName` (as every definition's name
    /// does) for the text form to parse back; the time is truncated to the millisecond.
    public init(schedule: String, fireTime: Date) {
        self.schedule = schedule
        self.milliseconds = Int64((fireTime.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Parses the text form; nil when it is not `<valid schedule name>@<timestamp>`.
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let name = String(text[..<at])
        guard ScheduleDefinition.isValidName(name), let date = Timestamp.parse(String(text[text.index(after: at)...]))
        else { return nil }
        self.init(schedule: name, fireTime: date)
    }

    public var fireTime: Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// The fire time as a Timestamp (`2026-11-22T10:00:00.000Z`).
    public var fireTimeText: String {
        // Half a millisecond in, so that formatting's floor never lands on the previous one.
        Timestamp.format(Date(timeIntervalSince1970: (Double(milliseconds) + 0.5) / 1000))
    }

    public var description: String { "\(schedule)@\(fireTimeText)" }

    /// By fire time, then by schedule name.
    public static func < (a: FireKey, b: FireKey) -> Bool {
        (a.milliseconds, a.schedule) < (b.milliseconds, b.schedule)
    }
}
