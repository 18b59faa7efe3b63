// `sluice demo schema` applies jobs/demo/schema.sql (idempotent); `sluice demo load` fills it
// with seed-deterministic demo data through COPY (`DemoLoader`), reporting progress on stderr
// and a summary (rows per table, seconds, rows/s) on stdout. The database is SLUICE_POSTGRES_URL.

import ArgumentParser
import SluiceCLI
import ClientSupport
import Foundation
import Logging
import Postgres
import SluiceDemo
import SluiceJobs

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The demo email-marketing platform: apply its schema, load realistic data.",
        subcommands: [DemoSchemaCommand.self, DemoLoadCommand.self])

    /// `<catalog>/demo/schema.sql` unless given.
    static func schemaPath(_ given: String?, _ settings: Settings) -> String {
        given ?? URL(fileURLWithPath: settings.catalogPath).appendingPathComponent("demo/schema.sql").path
    }

    static func readSchema(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure(description: "cannot read the demo schema at \(path) (pass --schema-file)")
        }
        return text
    }

    static func connect(_ settings: Settings, _ logger: Logger, name: String) async throws -> PostgresConnection {
        var configuration = try PostgresConfiguration(url: settings.postgresURL)
        configuration.applicationName = name
        return try await PostgresConnection.connect(configuration, logger: logger)
    }
}

struct DemoSchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "Apply the demo schema (jobs/demo/schema.sql); safe to re-run.")

    @Option(help: "The schema file (default: <SLUICE_CATALOG>/demo/schema.sql).") var schemaFile: String?

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.demo")
        let path = DemoCommand.schemaPath(schemaFile, settings)
        let sql = try DemoCommand.readSchema(path)
        let connection = try await DemoCommand.connect(settings, logger, name: "sluice demo schema")
        let start = ContinuousClock.now
        do {
            let existed = try await DemoLoader.schemaExists(on: connection)
            try await DemoLoader.applySchema(sql, on: connection)
            print("applied \(path) to \(connection.endpoint) (\(existed ? "schema was present; missing objects created" : "new schema")) "
                + String(format: "in %.2f s", (ContinuousClock.now - start).seconds))
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
    }
}

struct DemoLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Generate realistic demo data with COPY (deterministic for a seed); ANALYZE and refresh the views.")

    @Option(help: "Leads (contacts) to create.") var leads: Int = 10_000
    @Option(help: "email_events rows to create (sends follow: ~2.4 events per send).") var events: Int = 50_000
    @Option(help: "Workspaces (tenants); default one per 20,000 leads, 2 to 200.") var workspaces: Int?
    @Option(help: "Seed: the same seed and sizes give the same rows.") var seed: UInt64 = 1
    @Option(help: "Reference time as Unix seconds (default now): nothing is created after it.") var now: Int?
    @Option(help: "lead_activities rows per lead, on average.") var activitiesPerLead: Double = 1
    @Flag(help: "Truncate the demo tables first when they hold rows.") var replace = false
    @Flag(help: "Skip ANALYZE and the view refreshes at the end.") var noFinish = false
    @Option(help: "The schema file applied when the schema is missing (default: <SLUICE_CATALOG>/demo/schema.sql).")
    var schemaFile: String?
    @Flag(help: "Print the summary as one JSON document.") var json = false

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.demo")
        let configuration = DemoLoadConfiguration(
            leads: leads, events: events, workspaces: workspaces, seed: seed,
            now: now.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date(),
            activitiesPerLead: activitiesPerLead, replace: replace, finish: !noFinish)
        try configuration.validate()
        let path = DemoCommand.schemaPath(schemaFile, settings)
        let connection = try await DemoCommand.connect(settings, logger, name: "sluice demo load")
        let summary: DemoLoadSummary
        do {
            let schema = try await DemoLoader.schemaExists(on: connection) ? nil : try DemoCommand.readSchema(path)
            summary = try await DemoLoader(configuration: configuration, logger: logger).load(on: connection, schemaSQL: schema) {
                FileHandle.standardError.write(Data(("demo load: " + $0.description + "\n").utf8))
            }
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        if json {
            var d = summary.dictionary
            d["build"] = build
            d["database"] = connection.endpoint
            Output.json(d)
            return
        }
        if build == "debug" { print("note: debug build; use `swift build -c release` for real figures") }
        print("demo data (seed \(summary.seed)) loaded into \(connection.endpoint)\(summary.appliedSchema ? " (schema applied)" : "")")
        print("table".padding(toLength: 24, withPad: " ", startingAt: 0) + "rows".leftPad(12) + "seconds".leftPad(10) + "rows/s".leftPad(11))
        for t in summary.tables {
            print(t.name.padding(toLength: 24, withPad: " ", startingAt: 0) + "\(t.rows)".leftPad(12)
                + String(format: "%.2f", t.seconds).leftPad(10) + String(format: "%.0f", t.rowsPerSecond).leftPad(11))
        }
        print("total".padding(toLength: 24, withPad: " ", startingAt: 0) + "\(summary.totalRows)".leftPad(12)
            + String(format: "%.2f", summary.copySeconds).leftPad(10) + String(format: "%.0f", summary.rowsPerSecond).leftPad(11))
        print(String(format: "  of which rebuilding keys and indexes of the big tables: %.2f s", summary.indexSeconds))
        if configuration.finish {
            print(String(format: "VACUUM (ANALYZE) and 4 view refreshes: %.2f s", summary.finishSeconds))
        }
        print(String(format: "whole load: %.2f s", summary.totalSeconds)
            + (summary.defaultPartitionRows > 0 ? "; WARNING: \(summary.defaultPartitionRows) rows in DEFAULT partitions" : ""))
    }
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
