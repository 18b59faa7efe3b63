// WorkloadClass: a queue, a Postgres pool, a concurrency and a prefetch (DESIGN.md).
//
// The four classes split work the way the seed platforms split their database connections, so
// a slow REINDEX never starves the dashboards' analytics queries.

public enum WorkloadClass: String, CaseIterable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// VACUUM, ANALYZE, REINDEX, partitions, retention cleanup: few slots, prefetch 1.
    case maintenance
    /// Materialized-view refresh: few slots, prefetch 1, one refresh per view at a time.
    case refresh
    /// Bulk loads through COPY: few slots, prefetch 1.
    case `import`
    /// Read-only queries, segments, health reports: many slots, high prefetch.
    case analytics

    public var description: String { rawValue }

    public static func < (a: WorkloadClass, b: WorkloadClass) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Parses a comma-separated list (`analytics,refresh`); throws naming the unknown class.
    public static func parseList(_ text: String) throws(JSONValueError) -> [WorkloadClass] {
        var out: [WorkloadClass] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let c = WorkloadClass(rawValue: part) else {
                throw JSONValueError(reason: "unknown class '\(part)'; expected one of "
                    + allCases.map(\.rawValue).joined(separator: ", "), field: "classes")
            }
            if !out.contains(c) { out.append(c) }
        }
        if out.isEmpty { throw JSONValueError(reason: "no class given", field: "classes") }
        return out
    }
}

import Foundation
