// `sluice import SPEC FILE [--dry-run] [--wait] [--json]`: stores FILE in Postgres as an upload
// (streamed in 1 MiB chunks; a file under SLUICE_IMPORT_DIR is referenced by path instead) and
// enqueues `import.file`. With --wait it shows progress (a bar on a terminal, plain lines
// otherwise, nothing but the final JSON with --json) and prints the report.
// `sluice import rejects ID`: every rejected row of an import as CSV (line,column,reason).

import ArgumentParser
import Foundation
import SluiceCatalog
import SluiceCLI
import SluiceCore
import SluiceJobs
import SluiceRuntime

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import a CSV or NDJSON file (optionally gzip) through a catalog import spec.",
        subcommands: [ImportFileCommand.self, ImportRejectsCommand.self], defaultSubcommand: ImportFileCommand.self)
}

struct ImportFileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "file", abstract: "Upload FILE and enqueue its import (the default).")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The import spec (catalog `imports:`), e.g. leads.") var spec: String
    @Argument(help: "The file: CSV, NDJSON (.ndjson/.jsonl), optionally gzip-compressed.") var file: String
    @Flag(help: "Check and count every row, then roll back.") var dryRun = false
    @Flag(help: "Wait for the import to finish and print its report.") var wait = false
    @Option(help: "csv or ndjson (default: from the file name).") var format: String?
    @Option(help: "The CSV delimiter (one character).") var delimiter: String?
    @Option(help: "Database target name.") var target = "main"
    @Option(help: "How long --wait waits.") var waitTimeout = "1h"

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.import")
        do {
            try await body(services)
        } catch {
            await services.close()
            throw error
        }
        await services.close()
    }

    private func body(_ services: RuntimeServices) async throws {
        guard let catalog = services.catalog, let importSpec = catalog.importSpec(named: spec) else {
            throw CommandFailure(description: "the catalog declares no import spec named \(spec.debugDescription)"
                + " (declared: \((services.catalog?.imports.map(\.name.rawValue) ?? []).joined(separator: ", ")))")
        }
        var importOptions = FileImporter.Options(delimiter: delimiter, dryRun: dryRun ? true : nil)
        if let format {
            guard let f = ImportFormat(rawValue: format) else { throw ValidationError("--format: csv or ndjson") }
            importOptions.format = f
        }
        // The same submission as POST /v1/imports: checked before a byte is stored, the upload
        // deleted when the job is refused, kept a day when the pipeline fails.
        let submission: ImportSubmission
        do {
            submission = try ImportSubmission(spec: importSpec, options: importOptions, target: target, producer: "sluice-cli",
                                              enqueuedBy: CLIIdentity.current, registry: services.registry)
        } catch {
            throw CommandFailure(description: "rejected: \(error)")
        }
        let result: EnqueueResult
        var uploadID: String?
        let importDirectory = services.settings.importDirectory
        if let importDirectory, let resolved = try? FileImporter.resolve(path: file, in: importDirectory) {
            let root = URL(fileURLWithPath: importDirectory).resolvingSymlinksInPath().path
            do {
                result = try await services.producer.enqueue(submission.request(source: .init(path: String(resolved.dropFirst(root.count + 1)))))
            } catch let e as EnvelopeError {
                throw CommandFailure(description: "rejected: \(e)")
            }
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw CommandFailure(description: "no file \(file.debugDescription)")
            }
            let store = ImportStore(pool: services.ledger.pool, schema: services.ledger.schema)
            try? await store.purgeExpired()
            let submitted: (upload: ImportStore.Upload, result: EnqueueResult)
            do {
                submitted = try await submission.submit(try FileByteSource(path: file), fileName: (file as NSString).lastPathComponent,
                                                        store: store, producer: services.producer)
            } catch let e as JobError {
                throw CommandFailure(description: "\(file): \(e.message)")
            } catch let e as EnvelopeError {
                throw CommandFailure(description: "rejected: \(e)")
            }
            result = submitted.result
            uploadID = submitted.upload.id.uuidString.lowercased()
            if !options.json && !wait { FileHandle.standardError.write(Data("stored \(submitted.upload.bytes) bytes as upload \(uploadID!)\n".utf8)) }
        }
        guard wait else {
            if options.json {
                printJSON(["id": .string(result.id.description), "upload": uploadID.map(JSONValue.string) ?? .null])
            } else {
                print(result.id)
            }
            return
        }
        let job = try await waitForJob(result.id, services: services)
        if options.json {
            printJSON(job.json)
        } else {
            printReport(job)
        }
        if job.state != .completed { throw ExitCode(2) }
    }

    private func waitForJob(_ id: JobID, services: RuntimeServices) async throws -> LedgerJob {
        let deadline = ContinuousClock.now + (try parseDuration(waitTimeout, option: "wait-timeout"))
        let tty = isatty(STDERR_FILENO) == 1
        var lastShown = ""
        var polls = 0
        while ContinuousClock.now < deadline {
            let status = try? await services.results.read(id)
            polls += 1
            // Redis says final first; the ledger is asked too, now and then, in case Redis lost it.
            if status?["state"].flatMap(JobState.init(rawValue:))?.isFinal == true || polls % 10 == 0 {
                if let job = try await services.ledger.job(id), job.state.isFinal {
                    if tty && !options.json && !lastShown.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
                    return job
                }
            }
            if !options.json, let text = status?["progress"], let p = try? JSONValue.parse(text), let line = Self.progressLine(p, bar: tty),
                line != lastShown {
                FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
                lastShown = line
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw CommandFailure(description: "job \(id) did not finish within \(waitTimeout)")
    }

    static func progressLine(_ p: JSONValue, bar: Bool) -> String? {
        guard let phase = p["phase"]?.stringValue else { return nil }
        let rows = p["rows"]?.stringValue ?? "0"
        let rejected = p["rejected"]?.stringValue ?? "0"
        let percent = Double(p["percent"]?.stringValue ?? "") ?? 0
        let text = "\(phase) \(rows) rows, \(rejected) rejected, \(String(format: "%.1f", percent))%"
        guard bar else { return text }
        let width = 30
        let filled = Int(percent / 100 * Double(width))
        return "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] " + text
    }

    private func printReport(_ job: LedgerJob) {
        guard job.state == .completed, let r = job.result else {
            print("import \(job.id) \(job.state)")
            if let e = job.error { print("error: \(e)") }
            return
        }
        func n(_ k: String) -> String { r[k].flatMap { $0.intValue.map(String.init) } ?? "0" }
        print("import \(job.id) \(r["dry_run"] == .bool(true) ? "(dry run, rolled back) " : "")into \(r["table"]?.stringValue ?? "")")
        print("  read \(n("rows_read")) rows: inserted \(n("inserted")), updated \(n("updated")), unchanged \(n("unchanged")), "
            + "skipped \(n("skipped")), rejected \(n("rejected")), duplicates \(n("duplicates"))")
        if case .array(let rejects)? = r["rejects"], !rejects.isEmpty {
            for x in rejects.prefix(10) {
                let col = x["column"]?.stringValue.map { " \($0)" } ?? ""
                print("  line \(x["line"]?.intValue ?? 0)\(col): \(x["reason"]?.stringValue ?? "")")
            }
            print("  all \(n("rejected")) rejects: sluice import rejects \(job.id) > rejects.csv")
        }
    }
}

struct ImportRejectsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rejects", abstract: "Print every rejected row of an import as CSV (line,column,reason).")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The import's job id.") var id: String

    func run() async throws {
        guard let job = JobID(id) else { throw ValidationError("not a job id: \(id)") }
        let services = try RuntimeServices(options, label: "sluice.import")
        let store = ImportStore(pool: services.ledger.pool, schema: services.ledger.schema)
        let out = FileHandle.standardOutput
        do {
            _ = try await store.rejectsCSV(jobID: job.uuid) { bytes in out.write(Data(bytes)) }
        } catch {
            await services.close()
            throw CommandFailure(description: "cannot read the rejects of \(id): \(error)")
        }
        await services.close()
    }
}
