// PartitionPeriod: one partition's UTC range [start, end) for a catalog's partitioned table,
// its name (`PartitionedTable.partitionName`) and its bound literals.
//
// Calendar arithmetic is done in UTC with the Gregorian calendar: months start on the 1st,
// weeks on Monday (ISO), days at midnight, matching jobs/demo/schema.sql.

import Foundation
import SluiceCatalog

struct PartitionPeriod: Sendable, Hashable {
    var start: Date
    var end: Date
    var name: SQLIdentifier

    static let calendar: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        c.firstWeekday = 2
        return c
    }()

    /// The period of `table` containing `date`.
    static func containing(_ date: Date, table: PartitionedTable) -> PartitionPeriod {
        let c = calendar
        let start: Date
        switch table.interval {
        case .monthly:
            start = c.date(from: c.dateComponents([.year, .month], from: date))!
        case .weekly:
            let day = c.startOfDay(for: date)
            let weekday = c.component(.weekday, from: day)  // 1 = Sunday … 7 = Saturday
            start = c.date(byAdding: .day, value: -((weekday + 5) % 7), to: day)!
        case .daily:
            start = c.startOfDay(for: date)
        }
        return period(starting: start, table: table)
    }

    static func period(starting start: Date, table: PartitionedTable) -> PartitionPeriod {
        let c = calendar
        let end: Date
        switch table.interval {
        case .monthly: end = c.date(byAdding: .month, value: 1, to: start)!
        case .weekly: end = c.date(byAdding: .day, value: 7, to: start)!
        case .daily: end = c.date(byAdding: .day, value: 1, to: start)!
        }
        let d = c.dateComponents([.year, .month, .day], from: start)
        return PartitionPeriod(start: start, end: end, name: table.partitionName(year: d.year!, month: d.month!, day: d.day!))
    }

    /// The period `n` intervals after this one.
    func advanced(by n: Int, table: PartitionedTable) -> PartitionPeriod {
        var p = self
        for _ in 0..<n { p = Self.period(starting: p.end, table: table) }
        return p
    }

    /// The period a catalog-style partition name stands for, or nil when `name` does not follow
    /// the table's naming (`<table>_pYYYY_MM` / `<table>_pYYYY_MM_DD`).
    static func parse(name: String, table: PartitionedTable) -> PartitionPeriod? {
        let prefix = table.table.name.rawValue + "_p"
        guard name.hasPrefix(prefix) else { return nil }
        let parts = name.dropFirst(prefix.count).split(separator: "_", omittingEmptySubsequences: false)
        let expected = table.interval == .monthly ? 2 : 3
        guard parts.count == expected, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) }),
            let year = Int(parts[0]), let month = Int(parts[1]), (1...12).contains(month), (1900...9999).contains(year)
        else { return nil }
        let day = expected == 3 ? Int(parts[2]) : 1
        guard let day, (1...31).contains(day),
            let start = calendar.date(from: DateComponents(year: year, month: month, day: day))
        else { return nil }
        let period = period(starting: start, table: table)
        // The name must round-trip (rejects 2026_02_30, and weekly names not on a Monday).
        guard period.name.rawValue == name, containing(start, table: table).start == start else { return nil }
        return period
    }

    /// `'2026-11-01 00:00:00+00'`: a timestamptz literal (digits only from our own formatting).
    static func literal(_ date: Date) -> String {
        let d = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "'\(d.year!)-\(two(d.month!))-\(two(d.day!)) \(two(d.hour!)):\(two(d.minute!)):\(two(d.second!))+00'"
    }
}
