// `sluice scheduler [--tick 1s] [--lease 15s] [--json]`: runs a scheduler replica until SIGTERM
// or SIGINT. Run as many as you like: one leads (a lease row in the ledger schema) and fires
// the catalog's schedules; the others take over within the lease length if it dies. On a signal
// the replica gives its lease up, so a standby takes over at its next tick.

import ArgumentParser
import SluiceCLI
import Foundation
import SluiceCatalog
import SluiceCore
import SluiceRuntime

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler", abstract: "Run a scheduler replica.")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "The catalog folder (default: SLUICE_CATALOG or jobs).") var catalog: String?
    @Option(help: "How often due fires are computed.") var tick = "1s"
    @Option(help: "Leadership lease length; a takeover after a crash takes at most this plus a tick.") var lease = "15s"
    @Option(help: "How late a fire may be and still count as on time.") var grace = "60s"
    @Option(help: "Re-enqueue a recorded fire whose enqueue did not confirm after this long.") var recoveryAge = "10s"
    @Option(help: "Replica name in the lease row (default host:pid:random).") var name: String?
    /// Leadership and the last fire per schedule.
    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.scheduler", catalogPath: catalog)
        let loaded = try ScheduleCommand.loadJobs(catalog, settings: services.settings)
        var configuration = SchedulerConfiguration(
            tick: try parseDuration(tick, option: "tick"), leaseTTL: try parseDuration(lease, option: "lease"),
            grace: try parseDuration(grace, option: "grace"), recoveryAge: try parseDuration(recoveryAge, option: "recovery-age"))
        if let name { configuration.name = name }
        guard configuration.leaseTTL >= .seconds(1), configuration.tick >= .milliseconds(10) else {
            throw ValidationError("--lease must be at least 1s and --tick at least 10ms")
        }
        let process = try services.assemble(metrics.add(to: ProcessRoles(
            schedules: ScheduleRole(jobs: loaded.jobs, configuration: configuration))))
        let scheduler = process.scheduler!
        try await process.prepare()
        if !options.json {
            FileHandle.standardError.write(Data(
                "sluice scheduler \(configuration.name): \(loaded.jobs.count) schedules, lease \(lease), pid \(getpid())\n".utf8))
        }
        // SIGTERM / SIGINT → graceful shutdown of the group → the scheduler steps down.
        try await process.run()
        if options.json {
            printJSON(["scheduler": .string(configuration.name), "fires_enqueued": .int(Int64(scheduler.firesEnqueued))])
        }
    }
}
