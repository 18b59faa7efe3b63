// AlertTracker: turns a health report's findings into alert state changes on the
// `{prefix}alerts` stream: `firing` when a finding appears, `resolved` when it is gone, nothing
// while it holds. The firing set lives in the hash `{prefix}alerts:firing:{target}` (field: the
// finding's key, value: the finding as JSON with `fired_at`).
//
// One report at a time per target (the job's unique key) keeps the read-compare-write honest.
// Redis is a cache: if it loses the hash, alerts that still hold fire once more.

import Foundation
import Redis
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct AlertTracker: Sendable {
    public let redis: any RedisClient
    public let prefix: String
    /// The stream keeps about this many entries (XADD MAXLEN ~).
    public var streamLength = 10_000

    public init(redis: any RedisClient, prefix: String = "sluice:") {
        self.redis = redis
        self.prefix = prefix
    }

    var keys: RedisKeys { RedisKeys(prefix: prefix) }
    public var streamKey: String { keys.alerts }
    public func stateKey(target: String) -> String { keys.firingAlerts(target: target) }
    public func reportKey(target: String, report: HealthReport) -> String { keys.health(target: target, report: report.rawValue) }

    public struct Transition: Sendable, Equatable {
        public var state: String  // firing | resolved
        public var key: String
        public var streamID: String
    }

    /// Stores the report at `sluice:health:{target}:{report}` and records the alert changes.
    public func record(_ output: HealthReportOutput, ttl: Duration = .seconds(86_400)) async throws(RedisError) -> [Transition] {
        _ = try await redis.send(["SET", RedisArgument(reportKey(target: output.target, report: output.report)),
                                  RedisArgument(output.json.encoded()), "EX", RedisArgument(Int(ttl.components.seconds))])
        let stateKey = stateKey(target: output.target)
        let firing = try await redis.send(["HGETALL", RedisArgument(stateKey)]).dictionary ?? [:]
        var held: [String: JSONValue] = [:]
        for (key, text) in firing {
            guard let v = try? JSONValue.parse(text), v["report"]?.stringValue == output.report.rawValue else { continue }
            held[key] = v
        }
        var transitions: [Transition] = []
        let now = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        for finding in output.findings where held[finding.key] == nil {
            guard case .object(var o) = finding.json else { continue }
            o["fired_at"] = .string(now)
            o["target"] = .string(output.target)
            let id = try await add(state: "firing", finding: .object(o), at: now)
            _ = try await redis.send(["HSET", RedisArgument(stateKey), RedisArgument(finding.key), RedisArgument(JSONValue.object(o).encoded())])
            transitions.append(Transition(state: "firing", key: finding.key, streamID: id))
        }
        let current = Set(output.findings.map(\.key))
        for (key, previous) in held.sorted(by: { $0.key < $1.key }) where !current.contains(key) {
            let id = try await add(state: "resolved", finding: previous, at: now)
            _ = try await redis.send(["HDEL", RedisArgument(stateKey), RedisArgument(key)])
            transitions.append(Transition(state: "resolved", key: key, streamID: id))
        }
        return transitions
    }

    private func add(state: String, finding: JSONValue, at time: String) async throws(RedisError) -> String {
        func s(_ k: String) -> String {
            switch finding[k] {
            case .string(let v)?: return v
            case .double(let d)?: return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            case .int(let i)?: return String(i)
            case let v?: return v.jsonString
            case nil: return ""
            }
        }
        let reply = try await redis.send([
            "XADD", RedisArgument(streamKey), "MAXLEN", "~", RedisArgument(streamLength), "*",
            "state", RedisArgument(state), "alert", RedisArgument(s("key")), "target", RedisArgument(s("target")),
            "report", RedisArgument(s("report")), "metric", RedisArgument(s("metric")), "subject", RedisArgument(s("subject")),
            "value", RedisArgument(s("value")), "threshold", RedisArgument(s("threshold")), "message", RedisArgument(s("message")),
            "evidence", RedisArgument((finding["evidence"] ?? .object([:])).encoded()), "fired_at", RedisArgument(s("fired_at")),
            "at", RedisArgument(time),
        ])
        return reply.string ?? ""
    }
}

/// Runs a report (or all of them) and records each: the work of `analytics.health`.
public enum HealthRun {
    public struct Report: Codable, Sendable, Equatable {
        public var target: String
        public var reports: [String]
        public var findings: Int
        public var fired: [String]
        public var resolved: [String]
    }

    public static func run(
        _ report: HealthReport, pool: Postgres.PostgresPool, catalog: SluiceCatalog.Catalog, target: String, alerts: AlertTracker
    ) async throws -> (Report, [HealthReportOutput]) {
        let reports = report == .all ? HealthReport.each : [report]
        var outputs: [HealthReportOutput] = []
        try await pool.withConnection { c in
            for r in reports {
                try Task.checkCancellation()
                outputs.append(try await HealthChecks.run(r, on: c, catalog: catalog, target: target))
            }
        }
        var fired: [String] = [], resolved: [String] = []
        for output in outputs {
            for t in try await alerts.record(output) {
                if t.state == "firing" { fired.append(t.key) } else { resolved.append(t.key) }
            }
        }
        return (Report(target: target, reports: reports.map(\.rawValue), findings: outputs.reduce(0) { $0 + $1.findings.count },
                       fired: fired, resolved: resolved), outputs)
    }
}
