// `sluice worker [--classes analytics,refresh] [--concurrency N] [--prefetch N]`: runs jobs of
// every class (or the given ones) against every target of the catalog until SIGTERM or SIGINT,
// then drains through the runtime's ServiceGroup (stop consuming, let running jobs finish within
// the grace period, requeue the rest) and exits 0.

import ArgumentParser
import SluiceCLI
import Foundation
import SluiceCatalog
import SluiceCore
import SluiceRuntime

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run jobs of the given classes.")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "Comma-separated classes: maintenance, refresh, import, analytics (default: all four).")
    var classes = WorkloadClass.allCases.map(\.rawValue).joined(separator: ",")
    @Option(help: "Slots per class (default: the class's setting).") var concurrency: Int?
    @Option(help: "Prefetch per class (default: the class's setting, at least the concurrency).") var prefetch: Int?
    @Option(help: "Lease length (heartbeat every third of it).") var lease = "30s"
    @Option(help: "Short-job threshold for every class: a job done within it is recorded once, unclaimed (default: the class's setting, else 250ms, at most a tenth of the lease; 0s claims every job before it runs).")
    var shortJobThreshold: String?
    @Option(help: "Shutdown grace period for running jobs.") var grace = "30s"
    @Option(help: "How often the elected leader rescues expired leases.") var rescueInterval = "5s"
    @Option(help: "Worker name in the ledger (default host:pid:random).") var name: String?
    @OptionGroup var metrics: MetricsOptions
    @Flag(inversion: .prefixedNo, help: "Compete for the pruner's lease and apply the catalog's retention when leading.")
    var pruner = true

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.worker")
        let workloadClasses: [WorkloadClass]
        do {
            workloadClasses = try WorkloadClass.parseList(classes)
        } catch {
            throw ValidationError("--classes: \(error.reason)")
        }
        let threshold = try shortJobThreshold.map { try parseDuration($0, option: "short-job-threshold") }
        let settings = workloadClasses.map { c -> ClassSettings in
            // The catalog's class settings (pool size, role, timeouts, slots, prefetch), else defaults.
            var s = services.catalog?.settings(for: c) ?? ClassSettings.defaults(for: c)
            if let concurrency {
                s.concurrency = concurrency
                s.poolSize = max(s.poolSize, min(concurrency, 50))
            }
            s.prefetch = prefetch ?? max(s.prefetch, s.concurrency)
            if let shortJobThreshold = threshold { s.shortJobThreshold = shortJobThreshold }
            return s
        }
        var configuration = WorkerConfiguration(
            classes: settings, postgres: services.postgres, amqp: services.amqp,
            lease: try parseDuration(lease, option: "lease"), shutdownGrace: try parseDuration(grace, option: "grace"),
            rescueInterval: try parseDuration(rescueInterval, option: "rescue-interval"), targets: services.targets)
        if let name { configuration.name = name }
        configuration.requireSigned = services.settings.requireSigned
        // The pruner (one leader among all workers) keeps the ledger to the catalog's retention;
        // `--metrics-port` adds the metrics role, which the worker and the pruner record to.
        let process = try services.assemble(metrics.add(to: ProcessRoles(
            worker: configuration,
            pruner: pruner ? PrunerConfiguration(retention: services.catalog?.retention ?? RetentionSettings(), name: configuration.name)
                : nil)))
        let worker = process.worker!
        try await process.prepare()
        if !options.json {
            FileHandle.standardError.write(Data("sluice worker \(configuration.name): classes \(workloadClasses.map(\.rawValue).joined(separator: ",")), targets \(configuration.targets.keys.sorted().joined(separator: ",")), pid \(getpid())\n".utf8))
        }
        // SIGTERM / SIGINT → graceful shutdown of the group → the worker drains.
        try await process.run()
        let s = worker.statistics
        if options.json {
            printJSON(["worker": .string(configuration.name), "completed": .int(Int64(s.completed)), "retried": .int(Int64(s.retried)),
                       "discarded": .int(Int64(s.discarded)), "cancelled": .int(Int64(s.cancelled)),
                       "requeued": .int(Int64(s.requeued)), "dead_lettered": .int(Int64(s.deadLettered))])
        }
    }
}
