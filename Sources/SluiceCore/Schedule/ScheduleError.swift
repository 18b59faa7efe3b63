// ScheduleError: why a cron expression, an interval, a time zone or a schedule definition is
// not valid. The text names the field and the offending token and says what is allowed
// (`hour: 24 is out of range 0-23`); the catalog loader prefixes the schedule's name.

public struct ScheduleError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A cron expression does not parse, or can never match.
        public static let invalidCron = Code("invalid_cron")
        /// An interval text (`every: 5m`) does not parse or is below the minimum.
        public static let invalidDuration = Code("invalid_duration")
        /// The time zone identifier is unknown to the system's tz database.
        public static let unknownTimeZone = Code("unknown_time_zone")
        /// A schedule definition field is empty, malformed or out of range.
        public static let invalidDefinition = Code("invalid_definition")
    }

    public var code: Code
    /// The field at fault: a cron field (`minute`, `hour`, `day-of-month`, `month`,
    /// `day-of-week`) or a definition field (`name`, `kind`, `unique_key`); nil for the whole text.
    public var field: String?
    public var reason: String

    public init(_ code: Code, field: String? = nil, reason: String) {
        self.code = code
        self.field = field
        self.reason = reason
    }

    /// `field: reason`, or the reason alone.
    public var description: String {
        if let field { return "\(field): \(reason)" }
        return reason
    }
}
