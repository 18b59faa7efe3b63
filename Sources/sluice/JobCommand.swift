// `sluice job ID`: a job's status from Redis, falling back to the ledger (Redis is a cache).

import ArgumentParser
import SluiceCLI
import SluiceCore
import SluiceRuntime

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show a job's status and result.")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The job id.") var id: String
    @Flag(help: "Read the ledger row even when Redis has the job.") var ledger = false

    func run() async throws {
        guard let jobID = JobID(id) else { throw ValidationError("'\(id)' is not a job id (UUID)") }
        let services = try RuntimeServices(options, label: "sluice.job", ledgerConnections: 1)
        defer { Task { await services.close() } }
        // Redis first (what dashboards see); the ledger when Redis has nothing, or when Redis
        // still shows a live state the ledger has moved past (a worker killed between its
        // ledger write and its Redis write).
        var fromRedis = ledger ? nil : try? await services.results.read(jobID)
        if let hash = fromRedis, let s = hash[JobStatusField.state].flatMap(JobState.init(rawValue:)), !s.isFinal,
           let row = try? await services.ledger.job(jobID), row.state.isFinal {
            fromRedis = nil
        }
        if let hash = fromRedis {
            if options.json {
                var o: [String: JSONValue] = ["id": .string(jobID.description), "source": "redis"]
                for (k, v) in hash {
                    o[k] = (k == "result" || k == "progress") ? ((try? JSONValue.parse(v)) ?? .string(v)) : .string(v)
                }
                printJSON(.object(o))
            } else {
                print("job \(jobID) (from Redis)")
                for k in hash.keys.sorted() { print("  \(k): \(hash[k]!)") }
            }
            return
        }
        guard let job = try await services.ledger.job(jobID) else {
            throw CommandFailure(description: "no job \(jobID) in the ledger (\(services.schema).jobs)")
        }
        if options.json {
            var o = job.json.objectValue ?? [:]
            o["source"] = "ledger"
            printJSON(.object(o))
        } else {
            print("job \(jobID) (from the ledger)")
            for (k, v) in (job.json.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) where !v.isNull {
                print("  \(k): \(v.stringValue ?? v.jsonString)")
            }
        }
    }
}
