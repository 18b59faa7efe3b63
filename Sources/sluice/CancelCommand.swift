// `sluice cancel ID`: cancels a queued job at once, or asks the worker running it to cancel
// its statement (PQcancel) at its next heartbeat.

import ArgumentParser
import SluiceCLI
import Foundation
import SluiceCore
import SluiceRuntime

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a queued or running job.")

    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The job id.") var id: String

    func run() async throws {
        guard let jobID = JobID(id) else { throw ValidationError("'\(id)' is not a job id (UUID)") }
        let services = try RuntimeServices(options, label: "sluice.cancel", ledgerConnections: 1)
        let (outcome, state) = try await services.ledger.cancel(jobID)
        if outcome == .cancelled {
            services.results.record(JobStatusUpdate(id: jobID, state: .cancelled, fields: [
                "error": "cancelled by operator", "finished_at": Timestamp.format(Date())]))
            await services.results.flush()
        }
        await services.close()
        if options.json {
            printJSON(["id": .string(jobID.description), "outcome": .string(outcome.rawValue), "state": state.map { .string($0.rawValue) } ?? .null])
        } else {
            switch outcome {
            case .cancelled: print("cancelled \(jobID)")
            case .requested: print("cancel requested: \(jobID) is running; its worker stops it within a heartbeat")
            case .alreadyFinal: print("\(jobID) already finished (\(state?.rawValue ?? "?"))")
            case .notFound: print("no job \(jobID)")
            }
        }
        if outcome == .notFound { throw ExitCode(1) }
    }
}
