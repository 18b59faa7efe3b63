// CronExpression+Parsing: the text grammar, with errors that name the field, the token and
// what is allowed.
//
// Accepted per field: `*`, numbers, names (JAN-DEC in month, SUN-SAT in day-of-week, any case),
// ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (= a to the field's end), and comma lists of
// those; `*` must stand alone in its field. Macros: @yearly @annually @monthly @weekly @daily
// @midnight @hourly. Expressions whose day-of-month never occurs in any selected month
// (`0 0 30 2 *`) are rejected here, so the search for a matching time always ends.

extension CronExpression {
    static let maximumLength = 256

    static let macros: [(name: String, expansion: String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ]

    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let weekdayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses a 5-field expression or a macro. Fields are separated by spaces or tabs.
    public init(_ text: String) throws(ScheduleError) {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard text.utf8.count <= Self.maximumLength else {
            throw Self.error(nil, "the expression is longer than \(Self.maximumLength) characters")
        }
        let fields = text.split(whereSeparator: isBlank)
        guard !fields.isEmpty else { throw Self.error(nil, "the expression is empty") }
        if fields[0].hasPrefix("@") {
            let name = fields[0].lowercased()
            guard let macro = Self.macros.first(where: { $0.name == name }) else {
                switch name {
                case "@reboot":
                    throw Self.error(nil, "@reboot is not supported: schedules are time-based")
                case "@every":
                    throw Self.error(nil, "@every is not a cron macro: use an interval schedule (every: 5m)")
                default:
                    throw Self.error(nil, "unknown macro '\(fields[0].prefix(32))'; expected "
                        + "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly")
                }
            }
            guard fields.count == 1 else {
                throw Self.error(nil, "\(macro.name) stands alone, found \(fields.count - 1) more field(s)")
            }
            try self.init(macro.expansion)
            return
        }
        guard fields.count == 5 else { throw Self.error(nil, "expected 5 fields, found \(fields.count)") }

        let minute = try Self.parseField(fields[0], .minute)
        let hour = try Self.parseField(fields[1], .hour)
        let dom = try Self.parseField(fields[2], .dayOfMonth)
        let month = try Self.parseField(fields[3], .month)
        let dow = try Self.parseField(fields[4], .dayOfWeek)
        // 7 is Sunday too.
        let dowBits = (dow.bits & 0x7F) | (dow.bits >> 7 & 1)

        // A day-of-month that fits no selected month never matches, whatever the weekday
        // (unless the OR rule lets the weekday alone match).
        let orRule = !dom.star && !dow.star
        if !orRule {
            let feasible = Self.values(month.bits, .month).contains { m in
                let longest = m == 2 ? 29 : CivilCalendar.daysInMonth(year: 2001, month: m)
                return Self.values(dom.bits, .dayOfMonth).contains { $0 <= longest }
            }
            if !feasible {
                let days = Self.values(dom.bits, .dayOfMonth)
                let months = Self.values(month.bits, .month).map { Self.monthNames[$0 - 1] }
                let what = days.count == 1 ? "day \(days[0]) never occurs" : "days \(Self.render(dom.bits, .dayOfMonth, star: false)) never occur"
                throw Self.error(.dayOfMonth, "\(what) in \(months.joined(separator: ", "))")
            }
        }
        self.init(
            minuteBits: minute.bits, hourBits: hour.bits, dayOfMonthBits: dom.bits, monthBits: month.bits,
            dayOfWeekBits: dowBits, dayOfMonthIsStar: dom.star, dayOfWeekIsStar: dow.star)
    }

    private static func error(_ field: Field?, _ reason: String) -> ScheduleError {
        ScheduleError(.invalidCron, field: field?.rawValue, reason: reason)
    }

    /// One field's bit set, and whether its text starts with `*` (Vixie's star flag).
    private static func parseField(_ text: Substring, _ field: Field) throws(ScheduleError) -> (bits: UInt64, star: Bool) {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        var bits: UInt64 = 0
        for item in items {
            guard !item.isEmpty else { throw error(field, "empty item in list '\(text.prefix(64))'") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw error(field, "'\(item.prefix(32))' has more than one '/'") }
            let base = parts[0]
            var step = 1
            if parts.count == 2 {
                let stepText = parts[1]
                guard !stepText.isEmpty, stepText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    throw error(field, "step '\(stepText.prefix(32))' is not a number")
                }
                let span = field.starRange.count
                guard stepText.utf8.count <= 4, let n = Int(stepText), n <= span else {
                    throw error(field, "step \(stepText.prefix(32)) is larger than the field's span of \(span)")
                }
                guard n > 0 else { throw error(field, "step 0 is not allowed") }
                step = n
            }
            let low: Int
            let high: Int
            if base == "*" {
                guard items.count == 1 else {
                    throw error(field, "'*' cannot be combined with other items in a list")
                }
                low = field.starRange.lowerBound
                high = field.starRange.upperBound
            } else if base.isEmpty {
                throw error(field, "'\(item.prefix(32))' has no value before '/'")
            } else if let dash = base.firstIndex(of: "-") {
                let a = base[..<dash]
                let b = base[base.index(after: dash)...]
                guard !a.isEmpty, !b.isEmpty, !b.contains("-") else {
                    throw error(field, "'\(base.prefix(32))' is not a range (expected a-b)")
                }
                low = try value(a, field, rangeEnd: false)
                var end = try value(b, field, rangeEnd: true)
                if end == 7, low == 0, field == .dayOfWeek, b.uppercased() == "SUN" { end = 0 }  // SUN-SUN
                high = end
                guard low <= high else { throw error(field, "range \(a)-\(b) is reversed") }
            } else {
                low = try value(base, field, rangeEnd: false)
                // `a/n` runs from a to the end of the field.
                high = parts.count == 2 ? max(low, field.starRange.upperBound) : low
            }
            for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(v) }
        }
        return (bits, text.first == "*")
    }

    /// A number or (in month and day-of-week) a name. SUN closing a range means 7 (`FRI-SUN`).
    private static func value(_ token: Substring, _ field: Field, rangeEnd: Bool) throws(ScheduleError) -> Int {
        if token.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            let allowed = field.allowed
            guard token.utf8.count <= 4, let v = Int(token), allowed.contains(v) else {
                throw error(field, "\(token.prefix(32)) is out of range \(allowed.lowerBound)-\(allowed.upperBound)")
            }
            return v
        }
        let upper = token.uppercased()
        switch field {
        case .month:
            if let i = monthNames.firstIndex(of: upper) { return i + 1 }
            throw error(field, "'\(token.prefix(32))' is not a number (1-12) or a month name (JAN-DEC)")
        case .dayOfWeek:
            if let i = weekdayNames.firstIndex(of: upper) { return i == 0 && rangeEnd ? 7 : i }
            if upper == "?" || upper.contains("#") || upper.hasSuffix("L") {
                throw error(field, "'\(token.prefix(32))' (Quartz syntax) is not supported")
            }
            throw error(field, "'\(token.prefix(32))' is not a number (0-7) or a weekday name (SUN-SAT)")
        case .dayOfMonth:
            if upper == "?" || upper == "L" || upper.hasSuffix("W") || upper.hasPrefix("L") {
                throw error(field, "'\(token.prefix(32))' (Quartz syntax) is not supported")
            }
            throw error(field, "'\(token.prefix(32))' is not a number")
        case .minute, .hour:
            throw error(field, "'\(token.prefix(32))' is not a number")
        }
    }
}
