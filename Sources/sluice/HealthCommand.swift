// `sluice health [REPORT] [--target T] [--json]`: runs a health report now, on the target with
// the analytics class's settings (read-only, its statement timeout), stores it in Redis and
// records alert changes exactly as the analytics.health job does, then prints it.

import ArgumentParser
import SluiceCLI
import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Run a health report now and print it (\(HealthReport.allCases.map(\.rawValue).joined(separator: ", "))).")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The report (default: all).") var report: String = "all"
    @Option(help: "The target database.") var target: String = "main"

    func run() async throws {
        guard let which = HealthReport(rawValue: report) else {
            throw ValidationError("unknown report '\(report)'; reports: \(HealthReport.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let services = try RuntimeServices(options, label: "sluice.health", ledgerConnections: 1)
        defer { Task { await services.close() } }
        let catalog = services.catalog ?? Catalog()
        guard let declared = catalog.target(named: target) else { throw CommandFailure(description: "no target named \(target)") }
        let connection: PostgresConfiguration
        switch TargetResolution.resolve(declared, settings: services.settings) {
        case .success(let c): connection = c
        case .failure(let reason): throw CommandFailure(description: reason.description)
        }
        var settings = catalog.settings(for: .analytics)
        settings.poolSize = 1
        let pool = PostgresPool(configuration: TargetPools.poolConfiguration(connection, settings: settings, target: target),
                                logger: services.logger)
        defer { Task { await pool.close() } }
        let (result, outputs) = try await HealthRun.run(
            which, pool: pool, catalog: catalog, target: target,
            alerts: AlertTracker(redis: services.redis, prefix: services.settings.redisPrefix))
        if options.json {
            printJSON(["target": .string(target), "reports": .array(outputs.map(\.json)),
                       "fired": .array(result.fired.map { .string($0) }), "resolved": .array(result.resolved.map { .string($0) })])
            return
        }
        for output in outputs {
            print("== \(output.report.rawValue) (\(target), \(Int(output.durationMS)) ms)")
            for (k, v) in output.summary.sorted(by: { $0.key < $1.key }) { print("   \(k): \(v.stringValue ?? v.jsonString)") }
            for f in output.findings { print("   ALERT \(f.key): \(f.message)") }
            for row in output.rows.prefix(10) { print("   · \(Self.line(row))") }
            if output.rows.count > 10 { print("   · … \(output.rows.count - 10) more (use --json)") }
        }
        print("alerts: \(result.fired.count) fired, \(result.resolved.count) resolved (stream \(RedisKeys(prefix: services.settings.redisPrefix).alerts))")
        for k in result.fired { print("  firing   \(k)") }
        for k in result.resolved { print("  resolved \(k)") }
    }

    static func line(_ row: JSONValue) -> String {
        guard case .object(let o) = row else { return row.jsonString }
        return o.sorted(by: { $0.key < $1.key }).filter { !$0.value.isNull }.map { k, v in
            let text = v.stringValue ?? v.jsonString
            return "\(k)=\(text.count > 80 ? String(text.prefix(80)) + "…" : text)"
        }.joined(separator: " ")
    }
}
