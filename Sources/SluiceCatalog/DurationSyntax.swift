// DurationSyntax: the catalog's one way to write a time span for timeouts, pauses and budgets:
// a whole number and a unit with no space, `250ms`, `30s`, `5m`, `2h`, `1d`.
//
// `m` is minutes; months are calendar intervals (`CalendarInterval`, `12 months`) and never
// written this way, so `5m` cannot be misread. Anything else (`5 minutes`, `5min`, `1.5h`,
// `30`) is rejected with the expected form in the message.

public enum DurationSyntax {
    /// What the error messages show as the accepted form.
    public static let expectedForm = "a whole number and a unit: ms, s, m, h or d (250ms, 30s, 5m, 2h, 1d)"

    /// Parses `text`; nil when it is not `<digits><unit>` or overflows.
    public static func parse(_ text: String) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 12, let n = Int64(digits) else { return nil }
        switch unit {
        case "ms": return .milliseconds(n)
        case "s": return .seconds(n)
        case "m": return .seconds(n * 60)
        case "h": return .seconds(n * 3600)
        case "d": return .seconds(n * 86_400)
        default: return nil
        }
    }

    /// The shortest exact form of `duration` in this syntax (`90s` → `90s`, `120s` → `2m`);
    /// sub-millisecond parts are dropped.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if ms % 1000 != 0 { return "\(ms)ms" }
        let s = ms / 1000
        if s != 0 && s % 86_400 == 0 { return "\(s / 86_400)d" }
        if s != 0 && s % 3600 == 0 { return "\(s / 3600)h" }
        if s != 0 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }

    /// Whole milliseconds, the unit of Postgres's `statement_timeout` and `lock_timeout`.
    public static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
