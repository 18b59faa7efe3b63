// SchedulerError: what `Scheduler` refuses: an unknown schedule name for a manual run, two
// schedules with one name, a fire whose enqueue failed.

public struct SchedulerError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No schedule has this name.
        public static let unknownSchedule = Code("unknown_schedule")
        /// Two schedules share a name.
        public static let duplicateSchedule = Code("duplicate_schedule")
        /// The fire was recorded but its job could not be enqueued (a leader retries it).
        public static let enqueueFailed = Code("enqueue_failed")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
