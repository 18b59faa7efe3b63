// `sluice migrate`: creates the ledger schema and applies pending migrations (idempotent; safe
// to run from several replicas at once).

import ArgumentParser
import SluiceCLI
import RabbitMQ
import SluiceCore
import SluiceRuntime

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Create or upgrade the job ledger schema.")

    @OptionGroup var options: RuntimeOptions
    @Flag(help: "Also declare the broker topology (exchanges, queues, bindings): run it with the operator's SLUICE_AMQP_URL when producers and workers use least-privilege users that may not declare.")
    var topology = false

    func run() async throws {
        let services = try RuntimeServices(options, label: "sluice.migrate", ledgerConnections: 1)
        let applied: [Int]
        do {
            applied = try await services.ledger.migrate()
            if topology {
                let connection = try await AMQPConnection.connect(configuration: services.amqp, logger: services.logger)
                do {
                    try await Topology.declare(on: try await connection.openChannel(), services.topology)
                } catch {
                    await connection.close()
                    throw error
                }
                await connection.close()
            }
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
