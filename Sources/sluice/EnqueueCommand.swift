// `sluice enqueue KIND [--args JSON] [--unique-key K] [--delay 30s] [--priority P]
// [--max-attempts N] [--timeout 60s] [--class C] [--wait]`: prints the job id once the broker
// confirmed it; with --wait, polls Redis (then the ledger) until the job is final and prints
// its result.

import ArgumentParser
import SluiceCLI
import Foundation
import SluiceCore
import SluiceRuntime

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Enqueue a job.")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The job kind, e.g. sys.noop.") var kind: String
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

    func run() async throws {
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
