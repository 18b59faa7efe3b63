// AnalyticsHealthJob (`analytics.health {report}`): runs a health report (or `all`) on the
// target's analytics pool, stores it at `sluice:health:{target}:{report}` and puts alert state
// changes on `sluice:alerts` (see AlertTracker).

import Foundation
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct AnalyticsHealthJob: JobWorker {
    public init() {}

    public static let kind: JobKind = "analytics.health"
    public static var defaultClass: WorkloadClass { .analytics }

    public struct Arguments: Codable, Sendable, Equatable {
        public var report: String?
        public init(report: String? = nil) { self.report = report }
    }

    public typealias Report = HealthRun.Report

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        if let report = arguments.report, HealthReport(rawValue: report) == nil {
            throw .argument("report", "must be one of \(HealthReport.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        let report = arguments.report.flatMap(HealthReport.init(rawValue:)) ?? .all
        guard let redis = context.redis else {
            throw JobError("analytics.health needs Redis for its reports and alerts; none is configured", retryable: false)
        }
        let (result, _) = try await HealthRun.run(
            report, pool: context.pool, catalog: context.catalog, target: context.envelope.target,
            alerts: AlertTracker(redis: redis, prefix: context.redisPrefix))
        return result
    }
}
