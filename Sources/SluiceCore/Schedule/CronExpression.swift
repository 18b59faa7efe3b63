// CronExpression: a standard 5-field cron expression (minute hour day-of-month month
// day-of-week), parsed once into one bit set per field.
//
// Semantics follow Vixie cron as pg_cron, cronie and Sidekiq-cron users know them: 0 and 7 are
// both Sunday, and when both day fields are restricted a day matches if EITHER matches. As in
// Vixie's `entry.c`, a day field counts as unrestricted when its text starts with `*` (so
// `*/2` is unrestricted too). No seconds field, no Quartz extensions (`L`, `W`, `#`, `?`).
// Parsing is in `CronExpression+Parsing.swift`, the search for matching times in
// `CronExpression+Search.swift`; time zones are applied by `ScheduleSpec`.

public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The five fields, in order, with the names error messages use.
    public enum Field: String, CaseIterable, Sendable, CustomStringConvertible {
        case minute
        case hour
        case dayOfMonth = "day-of-month"
        case month
        case dayOfWeek = "day-of-week"

        public var description: String { rawValue }

        /// The values a number in this field may take (day-of-week accepts 7 for Sunday).
        public var allowed: ClosedRange<Int> {
            switch self {
            case .minute: return 0...59
            case .hour: return 0...23
            case .dayOfMonth: return 1...31
            case .month: return 1...12
            case .dayOfWeek: return 0...7
            }
        }

        /// The values `*` stands for.
        var starRange: ClosedRange<Int> { self == .dayOfWeek ? 0...6 : allowed }
    }

    // One bit per value: bit n set means value n matches. Day-of-week uses bits 0-6 (7 folded to 0).
    let minuteBits: UInt64
    let hourBits: UInt64
    let dayOfMonthBits: UInt64
    let monthBits: UInt64
    let dayOfWeekBits: UInt64
    /// The field's text started with `*` (Vixie's DOM_STAR / DOW_STAR).
    let dayOfMonthIsStar: Bool
    let dayOfWeekIsStar: Bool

    init(
        minuteBits: UInt64, hourBits: UInt64, dayOfMonthBits: UInt64, monthBits: UInt64, dayOfWeekBits: UInt64,
        dayOfMonthIsStar: Bool, dayOfWeekIsStar: Bool
    ) {
        self.minuteBits = minuteBits
        self.hourBits = hourBits
        self.dayOfMonthBits = dayOfMonthBits
        self.monthBits = monthBits
        self.dayOfWeekBits = dayOfWeekBits
        self.dayOfMonthIsStar = dayOfMonthIsStar
        self.dayOfWeekIsStar = dayOfWeekIsStar
    }

    /// The matching values of each field, ascending. Day-of-week uses 0-6 (0 = Sunday).
    public var minutes: [Int] { Self.values(minuteBits, .minute) }
    public var hours: [Int] { Self.values(hourBits, .hour) }
    public var daysOfMonth: [Int] { Self.values(dayOfMonthBits, .dayOfMonth) }
    public var months: [Int] { Self.values(monthBits, .month) }
    public var daysOfWeek: [Int] { Self.values(dayOfWeekBits, .dayOfWeek) }

    /// Both day fields are restricted, so a day matches when its day-of-month OR its weekday
    /// matches (Vixie); otherwise both must match.
    public var matchesEitherDay: Bool { !dayOfMonthIsStar && !dayOfWeekIsStar }

    /// The hour field covers all 24 hours (`*`, `0-23`). Such jobs follow elapsed time across
    /// DST changes; see `ScheduleSpec` for the rules.
    public var coversEveryHour: Bool { hourBits == Self.allHours }

    static let allHours: UInt64 = (1 << 24) - 1

    /// Whether a wall-clock day matches both day fields under the Vixie rule.
    func dayMatches(day: Int, weekday: Int) -> Bool {
        let dom = dayOfMonthBits >> UInt64(day) & 1 == 1
        let dow = dayOfWeekBits >> UInt64(weekday) & 1 == 1
        return matchesEitherDay ? (dom || dow) : (dom && dow)
    }

    /// The canonical text: numbers only (no names or macros), `*` and `*/n` where the field
    /// allows, so that equal expressions print the same and `CronExpression(e.description) == e`.
    public var description: String {
        [
            Self.render(minuteBits, .minute, star: nil), Self.render(hourBits, .hour, star: nil),
            Self.render(dayOfMonthBits, .dayOfMonth, star: dayOfMonthIsStar),
            Self.render(monthBits, .month, star: nil),
            Self.render(dayOfWeekBits, .dayOfWeek, star: dayOfWeekIsStar),
        ].joined(separator: " ")
    }

    static func values(_ bits: UInt64, _ field: Field) -> [Int] {
        field.starRange.filter { bits >> UInt64($0) & 1 == 1 }
    }

    /// Renders one field. `star` is the Vixie flag for the day fields (true: must render as
    /// `*` or `*/n`; false: must not), nil for the other fields (free to use the short form).
    static func render(_ bits: UInt64, _ field: Field, star: Bool?) -> String {
        let v = values(bits, field)
        let lo = field.starRange.lowerBound
        let hi = field.starRange.upperBound
        if star != false, v.first == lo {
            if v.count == 1, star == true { return "*/\(hi - lo + 1)" }
            if v.count >= 2 {
                let step = v[1] - v[0]
                if zip(v, v.dropFirst()).allSatisfy({ $1 - $0 == step }), v[v.count - 1] + step > hi {
                    return step == 1 ? "*" : "*/\(step)"
                }
            }
        }
        if v.count >= 3 {
            let step = v[1] - v[0]
            if step > 1, zip(v, v.dropFirst()).allSatisfy({ $1 - $0 == step }) {
                return "\(v[0])-\(v[v.count - 1])/\(step)"
            }
        }
        var parts: [String] = []
        var i = 0
        while i < v.count {
            var j = i
            while j + 1 < v.count, v[j + 1] == v[j] + 1 { j += 1 }
            if j - i >= 2 {
                parts.append("\(v[i])-\(v[j])")
            } else {
                parts.append(contentsOf: v[i...j].map(String.init))
            }
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
