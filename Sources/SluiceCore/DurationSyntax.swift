// DurationSyntax: Sluice's one way to write a time span, in the catalog (timeouts, pauses,
// budgets, `every:` intervals), on the command line (`--grace 30s`) and in job arguments: whole
// numbers with a unit and no space, `250ms`, `30s`, `5m`, `2h`, `1d`, parts combined largest
// first (`1h30m`). Spaces around the text are ignored.
//
// `m` is minutes; months are calendar intervals (`CalendarInterval`, `12 months`) and never
// written this way, so `5m` cannot be misread. `M`, fractions (`1.5h`), signs, bare numbers and
// words (`5 minutes`, `5min`) are rejected, with the reason. Schedule intervals use the same
// grammar without milliseconds and at least one second (`parseInterval`).

public enum DurationSyntax {
    /// What the error messages show as the accepted form.
    public static let expectedForm = "a whole number and a unit: ms, s, m, h or d (250ms, 30s, 5m, 2h, 1d)"

    /// The largest accepted span (about 100 years), so arithmetic never overflows.
    public static let maximum: Duration = .seconds(100 * 366 * 86_400)

    /// Units, largest first, in milliseconds.
    private static let allUnits: [(symbol: String, ms: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// Why a text is not a duration; `reason` is the message shown to users.
    public struct Failure: Error, Sendable, Equatable {
        public var reason: String
    }

    /// Parses `text`; nil when it does not follow the syntax or exceeds `maximum`. Zero is allowed.
    public static func parse(_ text: String) -> Duration? {
        try? scan(text, units: allUnits, unitsHint: "ms, s, m, h or d")
    }

    /// Parses `text` as a schedule interval: no milliseconds, at least `minimum`. The failure's
    /// reason names what is wrong (`'30m1h' repeats or misorders units; write the largest first (1h30m)`).
    public static func parseInterval(_ text: String, minimum: Duration = .seconds(1)) throws(Failure) -> Duration {
        let shown = String(text.prefix(32))
        let d = try scan(text, units: Array(allUnits.dropLast()), unitsHint: "s, m, h or d")
        guard d >= minimum else { throw Failure(reason: "'\(shown)' is below the minimum of \(formatCompound(minimum))") }
        return d
    }

    private static func scan(_ text: String, units: [(symbol: String, ms: Int64)], unitsHint: String) throws(Failure) -> Duration {
        func fail(_ reason: String) -> Failure { Failure(reason: reason) }
        let shown = String(text.prefix(32))
        let example = "(30s, 5m, 2h, 1d)"
        var bytes = Array(text.utf8)[...]
        while let f = bytes.first, f == 32 || f == 9 { bytes = bytes.dropFirst() }
        while let l = bytes.last, l == 32 || l == 9 { bytes = bytes.dropLast() }
        guard !bytes.isEmpty else { throw fail("the interval is empty; expected a number and a unit \(example)") }
        if bytes.first == UInt8(ascii: "-") { throw fail("'\(shown)' is negative") }
        let maximumMS = Int64(maximum.components.seconds) * 1000
        var total: Int64 = 0
        var lastUnitIndex = -1
        var i = bytes.startIndex
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        while i < bytes.endIndex {
            let start = i
            while i < bytes.endIndex, isDigit(bytes[i]) { i += 1 }
            guard i > start else { throw fail("'\(shown)' is not an interval; expected a number and a unit \(example)") }
            guard i - start <= 12, let n = Int64(String(decoding: bytes[start..<i], as: UTF8.self)) else {
                throw fail("'\(shown)' is too large")
            }
            guard i < bytes.endIndex else { throw fail("'\(shown)' has no unit; use \(unitsHint) \(example)") }
            if bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ",") {
                throw fail("'\(shown)' has a fraction; use a smaller unit (90m, not 1.5h)")
            }
            let unitStart = i
            while i < bytes.endIndex, !isDigit(bytes[i]) { i += 1 }
            let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            guard let unitIndex = units.firstIndex(where: { $0.symbol == unit }) else {
                throw fail("unknown unit '\(unit.prefix(16))' in '\(shown)'; use \(unitsHint)")
            }
            guard unitIndex > lastUnitIndex else {
                throw fail("'\(shown)' repeats or misorders units; write the largest first (1h30m)")
            }
            lastUnitIndex = unitIndex
            let (part, overflow) = n.multipliedReportingOverflow(by: units[unitIndex].ms)
            total += part
            guard !overflow, total <= maximumMS else { throw fail("'\(shown)' is too large") }
        }
        return .milliseconds(total)
    }

    /// The shortest exact single-unit form of `duration` (`90s` → `90s`, `120s` → `2m`,
    /// `1500ms`); sub-millisecond parts are dropped. Parses back to the same value.
    public static func format(_ duration: Duration) -> String {
        let ms = milliseconds(duration)
        if ms % 1000 != 0 { return "\(ms)ms" }
        let s = ms / 1000
        if s != 0 && s % 86_400 == 0 { return "\(s / 86_400)d" }
        if s != 0 && s % 3600 == 0 { return "\(s / 3600)h" }
        if s != 0 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }

    /// The shortest compound form of a whole-second duration (`90s` → `1m30s`, `3600s` → `1h`);
    /// sub-second parts are dropped. Parses back to the same value.
    public static func formatCompound(_ duration: Duration) -> String {
        var rest = duration.components.seconds
        guard rest > 0 else { return "0s" }
        var out = ""
        for unit in allUnits.dropLast() where rest >= unit.ms / 1000 {
            let seconds = unit.ms / 1000
            out += "\(rest / seconds)\(unit.symbol)"
            rest %= seconds
        }
        return out
    }

    /// Whole milliseconds, the unit of Postgres's `statement_timeout` and `lock_timeout`.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
