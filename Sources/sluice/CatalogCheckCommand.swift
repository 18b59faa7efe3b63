// `sluice catalog check`: validates the catalog folder statically (the loader: syntax, names,
// values, references) and, unless --offline, against each target's live database
// (`CatalogLiveCheck`). Prints one `file:line:column: code: message` line per finding, warnings
// marked as such; exits 1 when there is any problem (warnings alone do not fail).

import ArgumentParser
import SluiceCLI
import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCatalogLoader
import SluiceJobs

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Work with the catalog of objects jobs may touch (jobs/).",
        subcommands: [CatalogCheckCommand.self])
}

struct CatalogCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the catalog's files and, unless --offline, its declarations against the live databases.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "The catalog folder (default: SLUICE_CATALOG or jobs).") var catalog: String?
    @Flag(help: "Only the static checks: connect to no database.") var offline = false
    @Option(name: .customLong("target"), help: "Check only this target (repeatable; default: every target).")
    var targets: [String] = []

    struct Finding {
        var problem: CatalogProblem
        var warning: Bool
        var target: String?

        var line: String {
            let where_ = target.map { " [target \($0)]" } ?? ""
            return "\(problem.location): \(warning ? "warning: " : "")\(problem.code): \(problem.message)\(where_)"
        }

        var dictionary: [String: Any] {
            var d: [String: Any] = [
                "file": problem.location.file, "line": problem.location.line, "column": problem.location.column,
                "code": problem.code.rawValue, "message": problem.message, "severity": warning ? "warning" : "error",
            ]
            if let target { d["target"] = target }
            return d
        }
    }

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.catalog")
        let directory = catalog ?? settings.catalogPath
        let check = CatalogLoader.check(directory: directory)
        var findings = check.problems.map { Finding(problem: $0, warning: false, target: nil) }
        var checkedTargets: [String] = []

        if !offline {
            let environment = settings.environment
            for name in targets where check.catalog.target(named: name) == nil {
                findings.append(Finding(problem: CatalogProblem(.unknownTarget, at: SourceLocation(file: directory, line: 0),
                    "--target \(name) is not declared in the catalog"), warning: false, target: nil))
            }
            let chosen = check.catalog.targets.filter { targets.isEmpty || targets.contains($0.name) }
            let label = chosen.count > 1
            for target in chosen {
                let at = target.location ?? SourceLocation(file: "target \(target.name)", line: 0)
                func unavailable(_ message: String) {
                    findings.append(Finding(problem: CatalogProblem(.targetUnavailable, at: at, message), warning: false,
                                            target: target.name))
                }
                var configuration: PostgresConfiguration
                switch TargetResolution.resolve(target, settings: settings, environment: environment) {
                case .success(let c): configuration = c
                case .failure(let reason):
                    unavailable(reason.description)
                    continue
                }
                configuration.applicationName = "sluice catalog check"
                let connection: PostgresConnection
                do {
                    connection = try await PostgresConnection.connect(configuration, logger: logger)
                } catch {
                    unavailable("target \(target.name): cannot connect: \(error)")
                    continue
                }
                do {
                    let report = try await CatalogLiveCheck(catalog: check.catalog, target: target.name).run(on: connection)
                    let name = label ? target.name : nil
                    findings += report.problems.map { Finding(problem: $0, warning: false, target: name) }
                    findings += report.warnings.map { Finding(problem: $0, warning: true, target: name) }
                    checkedTargets.append(target.name)
                } catch {
                    unavailable("target \(target.name): the live check failed: \(error)")
                }
                await connection.close()
            }
        }

        findings.sort { ($0.problem.location, $0.warning ? 1 : 0) < ($1.problem.location, $1.warning ? 1 : 0) }
        let errors = findings.filter { !$0.warning }.count
        let warnings = findings.count - errors
        if json {
            Output.json([
                "ok": errors == 0, "catalog": directory, "files": check.catalog.files, "offline": offline,
                "targets_checked": checkedTargets, "errors": errors, "warnings": warnings,
                "findings": findings.map(\.dictionary),
            ])
        } else {
            for finding in findings { print(finding.line) }
            let files = check.catalog.files.count
            let live = offline ? "static checks only" : "checked against " + (checkedTargets.isEmpty ? "no target"
                : "target" + (checkedTargets.count > 1 ? "s " : " ") + checkedTargets.joined(separator: ", "))
            print("catalog \(directory): \(files) file\(files == 1 ? "" : "s"), \(live): "
                + "\(errors) problem\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        }
        if errors > 0 { throw ExitCode(1) }
    }
}
