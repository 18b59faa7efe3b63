import Foundation
import Testing
@testable import SluiceCore

@Suite struct CronExpressionTests {
    // MARK: Parsing

    @Test(arguments: [
        ("5 0 * 8 *", [5], [0], Array(1...31), [8], Array(0...6)),
        ("0 22 * * 1-5", [0], [22], Array(1...31), Array(1...12), [1, 2, 3, 4, 5]),
        ("23 0-20/2 * * *", [23], Array(stride(from: 0, through: 20, by: 2)), Array(1...31), Array(1...12), Array(0...6)),
        ("0 0,12 1 */2 *", [0], [0, 12], [1], [1, 3, 5, 7, 9, 11], Array(0...6)),
        ("0 4 8-14 * *", [0], [4], Array(8...14), Array(1...12), Array(0...6)),
        ("5/15 * * * *", [5, 20, 35, 50], Array(0...23), Array(1...31), Array(1...12), Array(0...6)),
        ("0 9 * JAN-mar,Dec sun,Sat", [0], [9], Array(1...31), [1, 2, 3, 12], [0, 6]),
        ("0 0 * * 7", [0], [0], Array(1...31), Array(1...12), [0]),
        ("0 0 * * 0,7", [0], [0], Array(1...31), Array(1...12), [0]),
        ("0 0 * * 5-7", [0], [0], Array(1...31), Array(1...12), [0, 5, 6]),
        ("0 0 * * FRI-SUN", [0], [0], Array(1...31), Array(1...12), [0, 5, 6]),
        ("0 0 * * sun-sun", [0], [0], Array(1...31), Array(1...12), [0]),
        ("0 0 * * */2", [0], [0], Array(1...31), Array(1...12), [0, 2, 4, 6]),
        ("0 0 * * mon/2", [0], [0], Array(1...31), Array(1...12), [1, 3, 5]),
        ("*/25 */7 */10 */5 *", [0, 25, 50], [0, 7, 14, 21], [1, 11, 21, 31], [1, 6, 11], Array(0...6)),
        ("\t0  3 *\t* *  ", [0], [3], Array(1...31), Array(1...12), Array(0...6)),
        ("59 23 31 12 6", [59], [23], [31], [12], [6]),
    ])
    func parsesEveryFieldForm(text: String, minutes: [Int], hours: [Int], days: [Int], months: [Int], weekdays: [Int]) throws {
        let e = try CronExpression(text)
        #expect(e.minutes == minutes)
        #expect(e.hours == hours)
        #expect(e.daysOfMonth == days)
        #expect(e.months == months)
        #expect(e.daysOfWeek == weekdays)
    }

    @Test(arguments: [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@HOURLY", "0 * * * *"),
        (" @Daily ", "0 0 * * *"),
    ])
    func expandsMacros(macro: String, expansion: String) throws {
        let e = try CronExpression(macro)
        #expect(e == (try CronExpression(expansion)))
        #expect(e.description == expansion)
    }

    @Test(arguments: [
        ("0 9 * JAN-mar,Dec sun,Sat", "0 9 * 1-3,12 0,6"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("0,15,30,45 * * * *", "*/15 * * * *"),
        ("5/15 * * * *", "5-50/15 * * * *"),
        ("1,2,3,5 * * * *", "1-3,5 * * * *"),
        ("1,2 * * * *", "1,2 * * * *"),
        ("0-59 0-23 * 1-12 *", "* * * * *"),
        ("0 0 1-31 * 1", "0 0 1-31 * 1"),
        ("0 0 */2 * MON", "0 0 */2 * 1"),
        ("0 0 1-31/2 * MON", "0 0 1-31/2 * 1"),
        ("0 0 */31 * *", "0 0 */31 * *"),
        ("0 0 1 * *", "0 0 1 * *"),
        ("0 0 * * 0-6", "0 0 * * 0-6"),
        ("0 0 * * 7", "0 0 * * 0"),
        ("0 */2 * * *", "0 */2 * * *"),
        ("0 0-22/2 * * *", "0 */2 * * *"),
        ("0 0 * * */3", "0 0 * * */3"),
    ])
    func printsCanonicalText(text: String, canonical: String) throws {
        let e = try CronExpression(text)
        #expect(e.description == canonical)
        #expect(try CronExpression(canonical) == e)
    }

    @Test func equalExpressionsCompareEqual() throws {
        #expect(try CronExpression("@weekly") == CronExpression("0 0 * * SUN"))
        #expect(try CronExpression("0 0 * * 7") == CronExpression("0 0 * * 0"))
        // The Vixie star flag is part of the meaning: `*/1` and `1-31` select the same days
        // but only the second makes the day-of-week rule an OR.
        #expect(try CronExpression("0 0 */1 * 1") != CronExpression("0 0 1-31 * 1"))
    }

    @Test(arguments: [
        ("0 24 * * *", "hour", "hour: 24 is out of range 0-23"),
        ("60 * * * *", "minute", "minute: 60 is out of range 0-59"),
        ("0 0 0 * *", "day-of-month", "day-of-month: 0 is out of range 1-31"),
        ("0 0 * 13 *", "month", "month: 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week", "day-of-week: 8 is out of range 0-7"),
        ("99999999999999999999 * * * *", "minute", "minute: 99999999999999999999 is out of range 0-59"),
        ("* * * * * *", nil, "expected 5 fields, found 6"),
        ("* * * *", nil, "expected 5 fields, found 4"),
        ("", nil, "the expression is empty"),
        ("   ", nil, "the expression is empty"),
        ("*/0 * * * *", "minute", "minute: step 0 is not allowed"),
        ("0 5-2 * * *", "hour", "hour: range 5-2 is reversed"),
        ("0 0 * * FRI-MON", "day-of-week", "day-of-week: range FRI-MON is reversed"),
        ("0 0 30 2 *", "day-of-month", "day-of-month: day 30 never occurs in FEB"),
        ("0 0 30,31 FEB *", "day-of-month", "day-of-month: days 30,31 never occur in FEB"),
        ("0 0 31 4,6,9,11 *", "day-of-month", "day-of-month: day 31 never occurs in APR, JUN, SEP, NOV"),
        ("0 0 * FOO *", "month", "month: 'FOO' is not a number (1-12) or a month name (JAN-DEC)"),
        ("0 0 * * MONDAY", "day-of-week", "day-of-week: 'MONDAY' is not a number (0-7) or a weekday name (SUN-SAT)"),
        ("x * * * *", "minute", "minute: 'x' is not a number"),
        ("0 JAN * * *", "hour", "hour: 'JAN' is not a number"),
        ("1,,2 * * * *", "minute", "minute: empty item in list '1,,2'"),
        ("*/a * * * *", "minute", "minute: step 'a' is not a number"),
        ("*/61 * * * *", "minute", "minute: step 61 is larger than the field's span of 60"),
        ("*,5 * * * *", "minute", "minute: '*' cannot be combined with other items in a list"),
        ("1-2-3 * * * *", "minute", "minute: '1-2-3' is not a range (expected a-b)"),
        ("-5 * * * *", "minute", "minute: '-5' is not a range (expected a-b)"),
        ("1/2/3 * * * *", "minute", "minute: '1/2/3' has more than one '/'"),
        ("/5 * * * *", "minute", "minute: '/5' has no value before '/'"),
        ("0 0 L * *", "day-of-month", "day-of-month: 'L' (Quartz syntax) is not supported"),
        ("0 0 ? * 1", "day-of-month", "day-of-month: '?' (Quartz syntax) is not supported"),
        ("0 0 * * 1#2", "day-of-week", "day-of-week: '1#2' (Quartz syntax) is not supported"),
        ("@fortnightly", nil, "unknown macro '@fortnightly'; expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"),
        ("@reboot", nil, "@reboot is not supported: schedules are time-based"),
        ("@every 5m", nil, "@every is not a cron macro: use an interval schedule (every: 5m)"),
        ("@daily 0", nil, "@daily stands alone, found 1 more field(s)"),
        (String(repeating: "1,", count: 200) + "1 * * * *", nil, "the expression is longer than 256 characters"),
    ] as [(String, String?, String)])
    func rejectsInvalidExpressionsWithTheReason(text: String, field: String?, message: String) {
        do {
            let e = try CronExpression(text)
            Issue.record("'\(text)' parsed as \(e)")
        } catch {
            #expect(error.code == .invalidCron)
            #expect(error.field == field)
            #expect(error.description == message)
        }
    }

    // MARK: Next fire (UTC)

    static let utcZone = TimeZone(identifier: "UTC")!

    @Test(arguments: [
        // Month ends: the 31st skips 30-day months and February.
        ("0 0 31 * *", "2025-01-31T00:00:00Z", ["2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-31T00:00:00Z", "2025-10-31T00:00:00Z"]),
        ("0 0 30 * *", "2025-01-30T00:00:00Z", ["2025-03-30T00:00:00Z", "2025-04-30T00:00:00Z"]),
        ("0 0 29,30,31 * *", "2025-02-01T00:00:00Z", ["2025-03-29T00:00:00Z", "2025-03-30T00:00:00Z", "2025-03-31T00:00:00Z", "2025-04-29T00:00:00Z"]),
        ("0 0 29,30,31 * *", "2024-02-01T00:00:00Z", ["2024-02-29T00:00:00Z", "2024-03-29T00:00:00Z"]),
        // Feb 29 finds the next leap year; 2100 is not one.
        ("0 0 29 2 *", "2025-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        ("0 0 29 2 *", "2024-02-28T12:00:00Z", ["2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"]),
        ("0 0 29 2 *", "2096-03-01T00:00:00Z", ["2104-02-29T00:00:00Z"]),
        ("0 0 28 2 *", "2024-02-28T00:00:00Z", ["2025-02-28T00:00:00Z"]),
        // Lists, ranges and steps.
        ("0 12 1,15 * *", "2025-01-15T12:00:00Z", ["2025-02-01T12:00:00Z", "2025-02-15T12:00:00Z", "2025-03-01T12:00:00Z"]),
        ("*/20 9-10 * * *", "2025-01-01T00:00:00Z", ["2025-01-01T09:00:00Z", "2025-01-01T09:20:00Z", "2025-01-01T09:40:00Z", "2025-01-01T10:00:00Z", "2025-01-01T10:20:00Z", "2025-01-01T10:40:00Z", "2025-01-02T09:00:00Z"]),
        ("30 9 * * MON-FRI", "2025-01-03T09:30:00Z", ["2025-01-06T09:30:00Z", "2025-01-07T09:30:00Z"]),
        ("0 0 1 1 *", "2025-12-31T23:59:59Z", ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]),
        ("@monthly", "2025-06-15T08:00:00Z", ["2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z"]),
        ("@weekly", "2025-06-01T00:00:00Z", ["2025-06-08T00:00:00Z", "2025-06-15T00:00:00Z"]),
        ("0 0 * * 7", "2025-06-01T00:00:00Z", ["2025-06-08T00:00:00Z", "2025-06-15T00:00:00Z"]),
        ("0 1 1 * *", "2025-12-01T01:00:00Z", ["2026-01-01T01:00:00Z", "2026-02-01T01:00:00Z"]),
        // Vixie: both day fields restricted, so the 13th OR any Friday (June 1 2025 is a Sunday).
        ("0 0 13 * FRI", "2025-06-01T00:00:00Z", ["2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z", "2025-06-27T00:00:00Z", "2025-07-04T00:00:00Z", "2025-07-11T00:00:00Z", "2025-07-13T00:00:00Z", "2025-07-18T00:00:00Z"]),
        ("0 0 1,15 * 3", "2025-06-30T00:00:00Z", ["2025-07-01T00:00:00Z", "2025-07-02T00:00:00Z", "2025-07-09T00:00:00Z", "2025-07-15T00:00:00Z", "2025-07-16T00:00:00Z"]),
        // Vixie: a day field starting with `*` is unrestricted, so */2 with Friday means AND.
        ("0 0 */2 * FRI", "2025-06-01T00:00:00Z", ["2025-06-13T00:00:00Z", "2025-06-27T00:00:00Z", "2025-07-11T00:00:00Z", "2025-07-25T00:00:00Z"]),
        // …and the same days written without `*` are restricted: odd days OR Fridays.
        ("0 0 1-31/2 * FRI", "2025-06-01T00:00:00Z", ["2025-06-03T00:00:00Z", "2025-06-05T00:00:00Z", "2025-06-06T00:00:00Z", "2025-06-07T00:00:00Z"]),
        // Only one day field restricted: it alone decides.
        ("0 0 * * FRI", "2025-06-01T00:00:00Z", ["2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z"]),
        ("0 0 13 * *", "2025-06-01T00:00:00Z", ["2025-06-13T00:00:00Z", "2025-07-13T00:00:00Z"]),
        // Rare AND: Feb 29 that is a Monday (dom `*/28` = 1,29).
        ("0 0 */28 2 MON", "2021-01-01T00:00:00Z", ["2021-02-01T00:00:00Z", "2027-02-01T00:00:00Z", "2038-02-01T00:00:00Z", "2044-02-01T00:00:00Z", "2044-02-29T00:00:00Z"]),
    ])
    func nextFiresInUTC(text: String, after: String, expected: [String]) throws {
        let spec = ScheduleSpec.cron(try CronExpression(text), timeZone: Self.utcZone)
        let fires = spec.fires(in: (after: date(after), through: date("2200-01-01T00:00:00Z")), limit: expected.count)
        #expect(stamps(fires) == stamps(expected.map(date)))
    }

    @Test func nextFireIsStrictlyAfter() throws {
        let spec = ScheduleSpec.cron(try CronExpression("0 * * * *"), timeZone: Self.utcZone)
        #expect(spec.nextFire(after: date("2025-01-01T10:00:00Z")) == date("2025-01-01T11:00:00Z"))
        #expect(spec.nextFire(after: date("2025-01-01T09:59:59.999Z")) == date("2025-01-01T10:00:00Z"))
        #expect(spec.nextFire(after: date("2025-01-01T10:00:00.001Z")) == date("2025-01-01T11:00:00Z"))
        #expect(spec.previousFire(atOrBefore: date("2025-01-01T10:00:00Z")) == date("2025-01-01T10:00:00Z"))
        #expect(spec.previousFire(atOrBefore: date("2025-01-01T09:59:59.999Z")) == date("2025-01-01T09:00:00Z"))
    }

    @Test func previousFireFindsRareFires() throws {
        let spec = ScheduleSpec.cron(try CronExpression("0 0 29 2 *"), timeZone: Self.utcZone)
        #expect(spec.previousFire(atOrBefore: date("2031-06-01T00:00:00Z")) == date("2028-02-29T00:00:00Z"))
        #expect(spec.previousFire(atOrBefore: date("2104-02-28T00:00:00Z")) == date("2096-02-29T00:00:00Z"))
    }

    // MARK: Against a brute-force oracle

    /// Random expressions from every syntactic form, checked against a scan that tests each
    /// minute with a matcher written independently of the skipping search.
    @Test func randomExpressionsAgreeWithABruteForceScan() throws {
        var rng = SplitMix64(seed: 0x5EED_C805)
        var checked = 0
        for _ in 0..<300 {
            let text = randomExpression(&rng)
            let e: CronExpression
            do { e = try CronExpression(text) } catch { continue }  // e.g. 31 in February only
            #expect(try CronExpression(e.description) == e, "round trip of \(text) via \(e.description)")
            let spec = ScheduleSpec.cron(e, timeZone: Self.utcZone)
            let start = Int64(rng.next() % (80 * 365 * 86_400)) + 631_152_000  // 1990…2070
            let expected = bruteForceNext(e, after: start)
            let actual = spec.nextFire(after: Date(timeIntervalSince1970: Double(start)))
            #expect(actual.map { Int64($0.timeIntervalSince1970) } == expected, "\(text) after \(start)")
            checked += 1
        }
        #expect(checked > 200)
    }
}

// MARK: - Test support shared by the schedule tests

func date(_ text: String) -> Date {
    guard let d = Timestamp.parse(text) else { fatalError("bad timestamp in test: \(text)") }
    return d
}

func stamps(_ dates: [Date]) -> [String] { dates.map(Timestamp.format) }

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A random field item list within `range`, using every form the grammar has.
func randomField(_ range: ClosedRange<Int>, _ rng: inout SplitMix64, names: [String] = []) -> String {
    func value() -> String {
        let v = Int.random(in: range, using: &rng)
        if !names.isEmpty, Bool.random(using: &rng), v - range.lowerBound < names.count {
            return names[v - range.lowerBound].lowercased()
        }
        return String(v)
    }
    switch Int.random(in: 0..<10, using: &rng) {
    case 0, 1: return "*"
    case 2: return "*/\(Int.random(in: 1...(range.count / 2), using: &rng))"
    default:
        let count = Int.random(in: 1...3, using: &rng)
        return (0..<count).map { _ in
            let a = Int.random(in: range, using: &rng)
            let b = Int.random(in: a...range.upperBound, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: return "\(a)-\(b)"
            case 1: return "\(a)-\(b)/\(Int.random(in: 1...5, using: &rng))"
            case 2: return "\(a)/\(Int.random(in: 1...7, using: &rng))"
            default: return value()
            }
        }.joined(separator: ",")
    }
}

func randomExpression(_ rng: inout SplitMix64) -> String {
    [
        randomField(0...59, &rng), randomField(0...23, &rng), randomField(1...31, &rng),
        randomField(1...12, &rng, names: CronExpression.monthNames),
        randomField(0...6, &rng, names: CronExpression.weekdayNames),
    ].joined(separator: " ")
}

/// The first matching UTC minute after `after`, by testing days and then minutes one by one,
/// with the Vixie day rule written out from the public field values.
func bruteForceNext(_ e: CronExpression, after: Int64) -> Int64? {
    let minutes = Set(e.minutes), hours = Set(e.hours), doms = Set(e.daysOfMonth)
    let months = Set(e.months), dows = Set(e.daysOfWeek)
    var t = (after / 60 + 1) * 60
    let end = after + 40 * 366 * 86_400
    while t < end {
        var time = time_t(t)
        var parts = tm()
        gmtime_r(&time, &parts)
        let domOK = doms.contains(Int(parts.tm_mday)), dowOK = dows.contains(Int(parts.tm_wday))
        let dayOK = months.contains(Int(parts.tm_mon) + 1) && (e.matchesEitherDay ? (domOK || dowOK) : (domOK && dowOK))
        if !dayOK {
            t = (t / 86_400 + 1) * 86_400  // next midnight
            continue
        }
        if hours.contains(Int(parts.tm_hour)) && minutes.contains(Int(parts.tm_min)) { return t }
        t += 60
    }
    return nil
}
