// CivilCalendar: proleptic Gregorian arithmetic on wall-clock ("civil") time, without time zones.
//
// Civil time is counted as seconds since 1970-01-01T00:00 on the wall clock, so a wall-clock
// minute is a multiple of 60 whatever the zone's offset. The day conversions are Howard
// Hinnant's `days_from_civil` / `civil_from_days`: exact for every Int64 year we can reach.

enum CivilCalendar {
    static let secondsPerDay: Int64 = 86_400

    /// Days since 1970-01-01 for a proleptic Gregorian date (month 1-12, day 1-31).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day number (days since 1970-01-01).
    static func date(days z0: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
    static func weekday(days: Int64) -> Int { Int(floorMod(days + 4, 7)) }

    static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysInMonth(year: Int64, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Civil seconds for a wall-clock minute.
    static func seconds(year: Int64, month: Int, day: Int, hour: Int, minute: Int) -> Int64 {
        days(year: year, month: month, day: day) * secondsPerDay + Int64(hour * 3600 + minute * 60)
    }

    /// The wall-clock fields of civil seconds.
    static func fields(_ seconds: Int64) -> (year: Int64, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let days = floorDiv(seconds, secondsPerDay)
        let sod = Int(seconds - days * secondsPerDay)
        let (y, m, d) = date(days: days)
        return (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

    /// The smallest multiple of `b` (> 0) that is >= `a`.
    static func ceil(_ a: Int64, toMultipleOf b: Int64) -> Int64 { -floorDiv(-a, b) * b }
}
