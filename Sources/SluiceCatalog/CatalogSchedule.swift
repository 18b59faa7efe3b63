// CatalogSchedule: a periodic enqueue the scheduler performs (`schedules:`).
//
// The catalog checks the form: the cron expression parses (five fields or a macro such as
// `@hourly`), an `every` is a duration, the kind is well formed, the target is declared, the
// time zone is known, and the whole maps onto a `ScheduleDefinition` (`definition()`).
// Whether the kind exists and its arguments fit is for the scheduler and the jobs.

import SluiceCore

public struct CatalogSchedule: Sendable, Equatable {
    public enum Trigger: Sendable, Equatable {
        /// Five-field cron (`minute hour day-of-month month day-of-week`) or a macro, as written.
        case cron(String)
        /// A fixed period, at least one second.
        case every(Duration)
    }

    public var name: String
    public var trigger: Trigger
    /// IANA zone name the cron expression is read in. Default `UTC`.
    public var timeZone: String
    public var kind: JobKind
    /// The job's arguments (an object), as the envelope will carry them.
    public var args: JSONValue
    /// Target name; nil means the default target.
    public var target: String?
    /// The envelope's `unique_key` template (`{name}`, `{kind}`, `{fire}`, `{args.KEY}`); nil
    /// means `schedule:{name}`, so a fire never doubles a still-running previous one.
    public var uniqueKey: String?
    /// What the scheduler does about runs it missed while no scheduler held leadership.
    public var missed: MissedRunPolicy
    /// A disabled schedule is listed but never fires.
    public var enabled: Bool
    public var location: SourceLocation

    public init(
        name: String, trigger: Trigger, timeZone: String = "UTC", kind: JobKind, args: JSONValue = .object([:]),
        target: String? = nil, uniqueKey: String? = nil, missed: MissedRunPolicy = .skip, enabled: Bool = true,
        location: SourceLocation
    ) {
        self.name = name
        self.trigger = trigger
        self.timeZone = timeZone
        self.kind = kind
        self.args = args
        self.target = target
        self.uniqueKey = uniqueKey
        self.missed = missed
        self.enabled = enabled
        self.location = location
    }
}
