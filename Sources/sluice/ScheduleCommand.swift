// `sluice schedule list [--json]`: each schedule with its spec, kind, time zone, missed-run
// policy, last recorded fire and next fire. `sluice schedule run NAME [--json]`: fires NAME now
// (one job, keyed `NAME@manual@<now>`), whether or not a scheduler runs, and prints the job id.

import ArgumentParser
import SluiceCLI
import Foundation
import SluiceCatalog
import SluiceCatalogLoader
import SluiceCore
import SluiceRuntime

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "List the catalog's schedules or fire one now.",
        subcommands: [ScheduleListCommand.self, ScheduleRunCommand.self])

    /// The catalog and its schedules, or a failure naming the problems.
    static func loadJobs(_ directory: String?, settings: Settings) throws -> (catalog: Catalog, jobs: [ScheduledJob]) {
        let path = directory ?? settings.catalogPath
        let catalog: Catalog
        do {
            catalog = try CatalogLoader.load(directory: path)
        } catch {
            throw CommandFailure(description: "catalog \(path): \(error)")
        }
        let jobs: [ScheduledJob]
        do {
            jobs = try ScheduledJob.all(in: catalog)
        } catch {
            throw CommandFailure(description: "catalog \(path): \(error)")
        }
        // A kind no worker knows would fail at every fire: refuse it up front.
        let registry = JobRegistry.standard(catalog: catalog)
        for job in jobs {
            do {
                try registry.validate(kind: job.definition.kind, args: job.definition.args)
            } catch {
                throw CommandFailure(description: "catalog \(path): schedule \(job.name): \(error)")
            }
        }
        return (catalog, jobs)
    }

    /// A scheduler that does not run: for status and manual fires.
    static func scheduler(_ options: RuntimeOptions, catalog directory: String?) async throws -> (Scheduler, RuntimeServices) {
        let services = try RuntimeServices(options, label: "sluice.schedule", catalogPath: directory)
        let loaded = try loadJobs(directory, settings: services.settings)
        let process = try services.assemble(ProcessRoles(schedules: ScheduleRole(jobs: loaded.jobs, lead: false)))
        try await process.prepare()
        return (process.scheduler!, services)
    }
}

struct ScheduleListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Each schedule with its last and next fire.")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "The catalog folder (default: SLUICE_CATALOG or jobs).") var catalog: String?

    func run() async throws {
        let (scheduler, services) = try await ScheduleCommand.scheduler(options, catalog: catalog)
        let statuses: [ScheduleStatus]
        do {
            statuses = try await scheduler.status()
        } catch {
            await services.close()
            throw CommandFailure(description: "could not read the schedule state: \(error)")
        }
        await services.close()
        if options.json {
            printJSON(["schedules": .array(statuses.map(\.json))])
            return
        }
        func t(_ d: Date?) -> String { d.map(Timestamp.format) ?? "-" }
        let rows = [["NAME", "SPEC", "KIND", "MISSED", "ENABLED", "LAST FIRE", "NEXT FIRE"]] + statuses.map { s in
            [s.name, s.job.definition.spec.description, s.job.definition.kind.rawValue, s.job.definition.missedRuns.description,
             s.job.definition.enabled ? "yes" : "no", t(s.lastFire), t(s.nextFire)]
        }
        let widths = (0..<rows[0].count).map { i in rows.map { $0[i].count }.max() ?? 0 }
        for row in rows {
            print(row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
    }
}

struct ScheduleRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Fire a schedule now; prints the job id.")

    @OptionGroup var options: RuntimeOptions
    @Option(help: "The catalog folder (default: SLUICE_CATALOG or jobs).") var catalog: String?
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        let (scheduler, services) = try await ScheduleCommand.scheduler(options, catalog: catalog)
        let fire: Scheduler.ManualFire
        do {
            fire = try await scheduler.fireNow(name)
        } catch {
            await services.close()
            throw CommandFailure(description: "\(error)")
        }
        await services.close()
        if options.json {
            printJSON(["schedule": .string(fire.schedule), "fire": .string(fire.key), "id": .string(fire.jobID.description),
                       "duplicate": .bool(fire.duplicate)])
        } else {
            print(fire.jobID)
        }
    }
}
