// `sluice dead list | replay ID | purge`: inspect and act on the dead-letter queue.

import ArgumentParser
import SluiceCLI
import SluiceCore
import SluiceRuntime

struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead", abstract: "List, replay or purge dead letters.",
        subcommands: [DeadList.self, DeadReplay.self, DeadPurge.self])
}

struct DeadList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List dead letters (oldest first; the queue is left as it was).")
    @OptionGroup var options: RuntimeOptions
    @Option(help: "At most this many.") var limit = 100

    func run() async throws {
        let s = try RuntimeServices(options, label: "sluice.dead", ledgerConnections: 1)
        let dead = DeadLetters(amqp: s.amqp, topology: s.topology, ledger: s.ledger, publisher: s.publisher, logger: s.logger)
        let letters = try await dead.list(limit: limit)
        await s.close()
        if options.json {
            printJSON(["count": .int(Int64(letters.count)), "dead_letters": .array(letters.map(\.json))])
            return
        }
        if letters.isEmpty { print("no dead letters"); return }
        for l in letters {
            print("\(l.messageID ?? "-")  \(l.kind ?? "-")  \(l.workloadClass ?? "-")  attempt \(l.attempt.map(String.init) ?? "-")  \(l.reason ?? "-"): \(l.error ?? "")")
        }
    }
}

struct DeadReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replay", abstract: "Re-enqueue a dead-lettered job (attempt 1).")
    @OptionGroup var options: RuntimeOptions
    @Argument(help: "The job id.") var id: String

    func run() async throws {
        guard let jobID = JobID(id) else { throw ValidationError("'\(id)' is not a job id (UUID)") }
        let s = try RuntimeServices(options, label: "sluice.dead", ledgerConnections: 1)
        let dead = DeadLetters(amqp: s.amqp, topology: s.topology, ledger: s.ledger, publisher: s.publisher, logger: s.logger)
        let found: Bool
        do {
            found = try await dead.replay(jobID)
        } catch {
            await s.close()
            throw CommandFailure(description: "\(error)")
        }
        await s.close()
        if options.json {
            printJSON(["id": .string(jobID.description), "replayed": .bool(found)])
        } else {
            print(found ? "replayed \(jobID)" : "no dead letter for \(jobID)")
        }
        if !found { throw ExitCode(1) }
    }
}

struct DeadPurge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge", abstract: "Delete every dead letter.")
    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let s = try RuntimeServices(options, label: "sluice.dead", ledgerConnections: 1)
        let dead = DeadLetters(amqp: s.amqp, topology: s.topology, ledger: s.ledger, publisher: s.publisher, logger: s.logger)
        let n = try await dead.purge()
        await s.close()
        if options.json { printJSON(["purged": .int(Int64(n))]) } else { print("purged \(n) dead letters") }
    }
}
