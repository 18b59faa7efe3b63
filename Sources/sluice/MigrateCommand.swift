// `sluice migrate`: creates the ledger schema and applies pending migrations (idempotent; safe
// to run from several replicas at once).

import ArgumentParser
import SluiceCLI
import SluiceCore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create or upgrade the job ledger schema.")

    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.migrate", ledgerConnections: 1)
        let applied: [Int]
        do {
            applied = try await services.ledger.migrate()
        } catch {
            await services.close()
            throw error
        }
        if options.json {
            printJSON(["schema": .string(services.schema), "applied": .array(applied.map { .int(Int64($0)) })])
        } else if applied.isEmpty {
            print("ledger schema \(services.schema) is up to date")
        } else {
            print("ledger schema \(services.schema): applied migrations \(applied.map(String.init).joined(separator: ", "))")
        }
        await services.close()
    }
}
