// The `sluice` command: the only place that reads the environment and bootstraps logging.

import ArgumentParser
import Foundation
import Logging

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Job orchestration for PostgreSQL operations over RabbitMQ and Redis.",
        discussion: """
            Servers come from SLUICE_POSTGRES_URL, SLUICE_AMQP_URL and SLUICE_REDIS_URL \
            (local defaults: see the README). Log level: SLUICE_LOG_LEVEL (default warning).
            """,
        subcommands: [Doctor.self, MigrateCommand.self, WorkerCommand.self, EnqueueCommand.self, JobCommand.self,
                      StatusCommand.self, DeadCommand.self, CancelCommand.self, CatalogCommand.self, DemoCommand.self,
                      Bench.self, SchedulerCommand.self, ScheduleCommand.self, APICommand.self])

    static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["SLUICE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Commands that print either human text or one JSON document.
enum Output {
    static func json(_ value: [String: Any]) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Exit with a message on stderr and a non-zero status.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
}
