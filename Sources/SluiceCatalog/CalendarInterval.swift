// CalendarInterval: a retention or age in calendar units, `90 days`, `2 weeks`, `12 months`,
// `1 year`: a positive whole number, a space, and a unit (singular or plural).
//
// Kept apart from `Duration` because months and years have no fixed length: the interval goes
// to Postgres as a bound `interval` parameter (`postgresInterval`), and Postgres does the
// calendar arithmetic (`now() - $1::interval`).

public struct CalendarInterval: Sendable, Hashable, CustomStringConvertible {
    public enum Unit: String, Sendable, CaseIterable {
        case day, week, month, year
    }

    public var count: Int
    public var unit: Unit

    public init(count: Int, unit: Unit) {
        precondition(count > 0, "a calendar interval is positive")
        self.count = count
        self.unit = unit
    }

    public static let expectedForm = "a whole number, a space and days, weeks, months or years (90 days, 12 months)"

    /// Parses `N unit` / `N units`; nil for anything else (`12m`, `1.5 months`, `0 days`).
    public init?(parsing text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), parts[0].count <= 6,
            let n = Int(parts[0]), n > 0
        else { return nil }
        var word = String(parts[1])
        if word.hasSuffix("s") { word.removeLast() }
        guard let unit = Unit(rawValue: word) else { return nil }
        self.init(count: n, unit: unit)
    }

    /// `12 months`: the text to bind as a Postgres `interval` parameter.
    public var postgresInterval: String { "\(count) \(unit.rawValue)\(count == 1 ? "" : "s")" }

    /// Approximate length in days (month = 30, year = 365), for comparing intervals in checks.
    public var approximateDays: Int {
        switch unit {
        case .day: count
        case .week: count * 7
        case .month: count * 30
        case .year: count * 365
        }
    }

    public var description: String { postgresInterval }
}
