// `sluice enqueue KIND [--args JSON] [--unique-key K] [--delay 30s] [--priority P]
// [--max-attempts N] [--timeout 60s] [--class C] [--wait]`: prints the job id once the broker
// confirmed it; with --wait, polls Redis (then the ledger) until the job is final and prints
// its result.
// `sluice enqueue --file jobs.ndjson`: one job object per line (POST /v1/jobs's), every line
// checked before anything is enqueued (a bad file enqueues nothing and names each bad line),
// then enqueued in batches of 500, several jobs per message; prints one id per line, in order.

import ArgumentParser
import SluiceCLI
import Foundation
import SluiceCore
import SluiceRuntime

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Enqueue a job.")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The job kind, e.g. sys.noop (not with --file).") var kind: String?
    @Option(help: ArgumentHelp("Enqueue every job of this file instead: one JSON job object per line (the API's job object), '-' for stdin.",
                               valueName: "jobs.ndjson")) var file: String?
    @Option(help: "Arguments as a JSON object.") var args = "{}"
    @Option(help: "At most one live job per key.") var uniqueKey: String?
    @Option(help: "Run no earlier than this from now (30s, 5m…).") var delay: String?
    @Option(help: "0 (lowest) to 9.") var priority: Int?
    @Option(help: "Attempts before dead-lettering (default: the kind's).") var maxAttempts: Int?
    @Option(help: "Time limit of one attempt (default: the kind's).") var timeout: String?
    @Option(name: .customLong("class"), help: "Workload class (default: the kind's).") var workloadClass: String?
    @Option(help: "Database target name.") var target = "main"
    @Flag(help: "Wait for the job to finish and print its result.") var wait = false
    @Option(help: "How long --wait waits.") var waitTimeout = "60s"

    func validate() throws {
        if file != nil {
            guard kind == nil, args == "{}", uniqueKey == nil, delay == nil, priority == nil, maxAttempts == nil, timeout == nil,
                  workloadClass == nil, target == "main", !wait
            else { throw ValidationError("--file takes every job's fields from its lines: give no KIND, job option or --wait with it") }
        } else if kind == nil {
            throw ValidationError("give a job KIND, or --file with one job per line")
        }
    }

    func run() async throws {
        if let file { return try await enqueueFile(file) }
        let kind = self.kind!
        let services = try RuntimeServices(options, label: "sluice.enqueue")
        let arguments: [String: JSONValue]
        do {
            guard let o = try JSONValue.parse(args).objectValue else { throw ValidationError("--args: expected a JSON object") }
            arguments = o
        } catch let e as ValidationError {
            throw e
        } catch {
            throw ValidationError("--args: not valid JSON (\(error))")
        }
        // The same body POST /v1/jobs reads, with the same checks.
        let body = JobRequestBody(
            kind: kind, args: arguments, workloadClass: workloadClass, target: target, uniqueKey: uniqueKey, priority: priority,
            maxAttempts: maxAttempts, timeoutSeconds: try timeout.map { max(1, Int(try parseDuration($0, option: "timeout").seconds)) })
        var request: JobRequest
        do {
            request = try body.request(producer: "sluice-cli")
            request.enqueuedBy = CLIIdentity.current
        } catch {
            let option = ["timeout_s": "timeout", "max_attempts": "max-attempts", "unique_key": "unique-key"][error.field ?? ""] ?? error.field ?? "args"
            throw ValidationError("--\(option): \(error.message)")
        }
        // A delay keeps its sub-second part (the body's delay_s is whole seconds).
        if let delay { request.delay(by: try parseDuration(delay, option: "delay")) }
        let result: EnqueueResult
        do {
            result = try await services.producer.enqueue(request)
        } catch let e as EnvelopeError {
            await services.close()
            throw CommandFailure(description: "rejected: \(e)")
        }
        if !wait {
            if options.json {
                printJSON(["id": .string(result.id.description), "duplicate": .bool(result.duplicate), "state": .string(result.state.rawValue),
                           "class": .string(result.workloadClass.rawValue)])
            } else {
                print(result.id)
            }
            await services.close()
            return
        }
        let deadline = ContinuousClock.now + (try parseDuration(waitTimeout, option: "wait-timeout"))
        var pause = Duration.milliseconds(5)
        while ContinuousClock.now < deadline {
            if let status = try? await services.results.read(result.id), let s = status["state"].flatMap(JobState.init(rawValue:)), s.isFinal {
                let job = try await services.ledger.job(result.id)
                await services.close()
                return try report(job, redis: status)
            }
            if let job = try await services.ledger.job(result.id), job.state.isFinal, pause >= .milliseconds(200) {
                await services.close()
                return try report(job, redis: nil)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(250))
        }
        await services.close()
        throw CommandFailure(description: "job \(result.id) did not finish within \(waitTimeout)")
    }

    private func report(_ job: LedgerJob?, redis: [String: String]?) throws {
        guard let job else { throw CommandFailure(description: "the job vanished from the ledger") }
        if options.json {
            printJSON(job.json)
        } else {
            print("\(job.id) \(job.state) attempt \(job.attempt)")
            if let r = job.result { print(r.jsonString) }
            if let e = job.error { print("error: \(e)") }
        }
        if job.state != .completed { throw ExitCode(2) }
    }
}

extension EnqueueCommand {
    /// Jobs per `enqueue(batch:)` call of `--file`.
    static let fileBatch = 500

    /// `--file`: reads and checks every line, then enqueues them all in batches.
    func enqueueFile(_ path: String) async throws {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CommandFailure(description: "--file \(path): cannot read it (\(error.localizedDescription))")
        }
        let services = try RuntimeServices(options, label: "sluice.enqueue")
        var requests: [(line: Int, request: JobRequest)] = []
        var problems: [String] = []
        let identity = CLIIdentity.current
        for (n, line) in data.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            let text = line.last == 0x0D ? line.dropLast() : line[...]
            if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let lineNumber = n + 1
            guard let value = try? JSONValue.parse(Array(text)) else {
                problems.append("line \(lineNumber): not valid JSON")
                continue
            }
            do {
                var request = try JobRequestBody.decode(value).request(producer: "sluice-cli")
                request.enqueuedBy = identity
                try services.producer.check(request)
                requests.append((lineNumber, request))
            } catch let e as JobRequestBody.Invalid {
                problems.append("line \(lineNumber): \(e)")
            } catch let e as EnvelopeError {
                problems.append("line \(lineNumber): \(e)")
            }
        }
        guard problems.isEmpty else {
            await services.close()
            let shown = problems.prefix(20).joined(separator: "\n")
            let more = problems.count > 20 ? "\n… and \(problems.count - 20) more bad lines" : ""
            throw CommandFailure(description: "--file \(path): nothing enqueued; \(problems.count) bad line\(problems.count == 1 ? "" : "s"):\n\(shown)\(more)")
        }
        var out: [JSONValue] = []
        var failures: [String] = []
        var start = 0
        while start < requests.count {
            let chunk = requests[start..<min(start + Self.fileBatch, requests.count)]
            let results = try await services.producer.enqueue(batch: chunk.map(\.request))
            for ((line, _), r) in zip(chunk, results) {
                switch r {
                case .success(let e):
                    if options.json {
                        out.append(["line": .int(Int64(line)), "id": .string(e.id.description), "duplicate": .bool(e.duplicate),
                                    "state": .string(e.state.rawValue), "class": .string(e.workloadClass.rawValue)])
                    } else {
                        print(e.id)
                    }
                case .failure(let error):
                    failures.append("line \(line): \(error)")
                    if options.json { out.append(["line": .int(Int64(line)), "error": .string("\(error)")]) }
                }
            }
            start += Self.fileBatch
        }
        await services.close()
        if options.json { printJSON(["jobs": .array(out)]) }
        if !failures.isEmpty {
            throw CommandFailure(description: "\(failures.count) of \(requests.count) jobs failed to enqueue (the others are enqueued):\n"
                                 + failures.prefix(20).joined(separator: "\n"))
        }
    }
}
