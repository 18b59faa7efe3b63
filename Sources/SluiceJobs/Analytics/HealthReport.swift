// HealthReport: the reports of `analytics.health {report}`, what one run produces (rows for
// people, findings for alerts), and how a finding is named so an alert can fire once, hold
// quietly and resolve.
//
// A report only reads statistics views (pg_stat_*, pg_class, pg_stat_statements); it never
// touches user data except to count rows in a DEFAULT partition (bounded). Findings carry the
// evidence: the query, the table, the value and the threshold.

import Foundation
import SluiceCore

public enum HealthReport: String, Sendable, CaseIterable, Codable {
    case slowQueries = "slow_queries"
    case indexUsage = "index_usage"
    case bloat
    case connections
    case cacheHitRatio = "cache_hit_ratio"
    case locks
    case longQueries = "long_queries"
    case idleInTransaction = "idle_in_transaction"
    case wraparound
    case sequences
    case partitions
    case matviews
    /// Every report above.
    case all

    /// The reports `all` runs.
    public static var each: [HealthReport] { allCases.filter { $0 != .all } }
}

/// A threshold crossed, with its evidence. `key` names the thing (`dead_tuples:demo.leads`), so a
/// finding that holds across runs is the same alert.
public struct HealthFinding: Sendable, Equatable {
    public var key: String
    public var report: HealthReport
    /// What was measured (`dead_tuple_ratio`, `mean_exec_time_ms`).
    public var metric: String
    /// The table, index, query or session concerned.
    public var subject: String
    public var value: Double
    public var threshold: Double
    public var message: String
    /// More context (the query text, the pid, the blocking pids).
    public var evidence: [String: JSONValue]

    public init(key: String, report: HealthReport, metric: String, subject: String, value: Double, threshold: Double,
                message: String, evidence: [String: JSONValue] = [:]) {
        self.key = key
        self.report = report
        self.metric = metric
        self.subject = subject
        self.value = value
        self.threshold = threshold
        self.message = message
        self.evidence = evidence
    }

    public var json: JSONValue {
        .object([
            "key": .string(key), "report": .string(report.rawValue), "metric": .string(metric), "subject": .string(subject),
            "value": .double(value), "threshold": .double(threshold), "message": .string(message), "evidence": .object(evidence),
        ])
    }
}

/// One report's output, stored as JSON at `sluice:health:{target}:{report}`.
public struct HealthReportOutput: Sendable {
    public var report: HealthReport
    public var target: String
    public var generatedAt: Date
    public var durationMS: Double
    /// One object per row (slow statements, tables, sessions…).
    public var rows: [JSONValue]
    /// Figures of the whole report (ratios, totals, the method of an estimate).
    public var summary: [String: JSONValue]
    public var findings: [HealthFinding]

    public var json: JSONValue {
        .object([
            "report": .string(report.rawValue), "target": .string(target),
            "generated_at": .string(generatedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
            "duration_ms": .double(durationMS), "rows": .array(rows), "summary": .object(summary),
            "findings": .array(findings.map(\.json)),
        ])
    }
}
