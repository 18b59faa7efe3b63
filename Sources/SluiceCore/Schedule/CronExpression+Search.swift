// CronExpression+Search: the first matching wall-clock minute at or after a given one.
//
// Works on civil (wall-clock) seconds with no time zone; `ScheduleSpec` maps the result to an
// instant. It skips by field — to the next matching month, then day, hour and minute — so a
// yearly expression costs a few dozen steps, not a minute-by-minute scan.

extension CronExpression {
    /// The first civil minute `c` with `from <= c < limit` that matches, or nil.
    /// `from` is rounded up to a whole minute.
    func firstMatch(atOrAfter from: Int64, before limit: Int64) -> Int64? {
        guard from < limit else { return nil }
        let start = CivilCalendar.ceil(from, toMultipleOf: 60)
        let f = CivilCalendar.fields(start)
        var year = f.year
        var month = f.month
        var day = f.day
        var hour = f.hour
        var minute = f.minute
        let last = CivilCalendar.fields(limit - 1)
        let lastMonthIndex = last.year * 12 + Int64(last.month)

        while year * 12 + Int64(month) <= lastMonthIndex {
            guard let m = Self.next(monthBits, atOrAfter: month) else {
                year += 1
                month = 1; day = 1; hour = 0; minute = 0
                continue
            }
            if m != month {
                month = m; day = 1; hour = 0; minute = 0
                if year * 12 + Int64(month) > lastMonthIndex { return nil }
            }
            let length = CivilCalendar.daysInMonth(year: year, month: month)
            var weekday = day <= length ? CivilCalendar.weekday(days: CivilCalendar.days(year: year, month: month, day: day)) : 0
            while day <= length, !dayMatches(day: day, weekday: weekday) {
                day += 1; hour = 0; minute = 0
                weekday = (weekday + 1) % 7
            }
            if day > length {
                month += 1; day = 1; hour = 0; minute = 0
                if month > 12 { year += 1; month = 1 }
                continue
            }
            guard let h = Self.next(hourBits, atOrAfter: hour) else {
                day += 1; hour = 0; minute = 0
                continue
            }
            if h != hour { hour = h; minute = 0 }
            guard let mi = Self.next(minuteBits, atOrAfter: minute) else {
                hour += 1; minute = 0
                if hour > 23 { day += 1; hour = 0 }
                continue
            }
            let c = CivilCalendar.seconds(year: year, month: month, day: day, hour: hour, minute: mi)
            return c < limit ? c : nil
        }
        return nil
    }

    /// The smallest set bit at or above `value`, if any.
    @inline(__always)
    static func next(_ bits: UInt64, atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let masked = bits & (~UInt64(0) << UInt64(value))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }
}
