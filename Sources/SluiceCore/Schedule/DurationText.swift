// DurationText: interval texts as operators write them in the catalog (`every: 30s`, `5m`,
// `2h`, `1d`, `1h30m`).
//
// Whole numbers with a unit: s, m, h, d (lower case; `M` is ambiguous). Parts may be combined
// largest unit first (`1h30m`). Intervals below one second are rejected: the scheduler ticks in
// seconds. Formatting gives the shortest text that parses back to the same value.

public enum DurationText {
    /// The smallest interval a schedule may use.
    public static let minimum: Duration = .seconds(1)
    /// The largest accepted interval (about 100 years), so arithmetic never overflows.
    public static let maximum: Duration = .seconds(100 * 366 * 86_400)

    private static let units: [(symbol: UInt8, seconds: Int64)] = [
        (UInt8(ascii: "d"), 86_400), (UInt8(ascii: "h"), 3_600), (UInt8(ascii: "m"), 60), (UInt8(ascii: "s"), 1),
    ]

    /// Parses `90s`, `5m`, `2h`, `1d`, `1h30m`; surrounding spaces are ignored.
    public static func parse(_ text: String) throws(ScheduleError) -> Duration {
        func fail(_ reason: String) -> ScheduleError { ScheduleError(.invalidDuration, reason: reason) }
        let shown = String(text.prefix(32))
        var bytes = Array(text.utf8)[...]
        while let f = bytes.first, f == 32 || f == 9 { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 32 || l == 9 { bytes = bytes.dropLast() }
        guard !bytes.isEmpty else { throw fail("the interval is empty; expected a number and a unit (30s, 5m, 2h, 1d)") }
        if bytes.first == UInt8(ascii: "-") { throw fail("'\(shown)' is negative") }

        var total: Int64 = 0
        var lastUnitIndex = -1
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let start = i
            while i < bytes.endIndex, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > start else {
                throw fail("'\(shown)' is not an interval; expected a number and a unit (30s, 5m, 2h, 1d)")
            }
            guard i - start <= 12, let n = Int64(String(decoding: bytes[start..<i], as: UTF8.self)) else {
                throw fail("'\(shown)' is too large")
            }
            guard i < bytes.endIndex else {
                throw fail("'\(shown)' has no unit; use s, m, h or d (30s, 5m, 2h, 1d)")
            }
            if bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ",") {
                throw fail("'\(shown)' has a fraction; use a smaller unit (90m, not 1.5h)")
            }
            guard let unitIndex = units.firstIndex(where: { $0.symbol == bytes[i] }) else {
                let unit = String(decoding: bytes[i...].prefix { !($0 >= 48 && $0 <= 57) }, as: UTF8.self)
                throw fail("unknown unit '\(unit.prefix(16))' in '\(shown)'; use s, m, h or d")
            }
            guard unitIndex > lastUnitIndex else {
                throw fail("'\(shown)' repeats or misorders units; write the largest first (1h30m)")
            }
            lastUnitIndex = unitIndex
            i += 1
            total += n * units[unitIndex].seconds
            guard total <= Int64(maximum.components.seconds) else { throw fail("'\(shown)' is too large") }
        }
        let duration = Duration.seconds(total)
        guard duration >= minimum else { throw fail("'\(shown)' is below the minimum of 1s") }
        return duration
    }

    /// The shortest text for a whole-second duration (`90s` → `1m30s`, `3600s` → `1h`).
    /// Sub-second parts are dropped.
    public static func format(_ duration: Duration) -> String {
        var rest = duration.components.seconds
        guard rest > 0 else { return "0s" }
        var out = ""
        for unit in units where rest >= unit.seconds {
            out += "\(rest / unit.seconds)\(Character(UnicodeScalar(unit.symbol)))"
            rest %= unit.seconds
        }
        return out
    }
}
