// The `sluice` command: the only place that reads the environment and bootstraps logging.

import ArgumentParser
import Foundation
import Logging
import SluiceCLI

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
                      StatusCommand.self, DeadCommand.self, CancelCommand.self, CatalogCommand.self, DemoForward.self,
                      BenchForward.self, SchedulerCommand.self, ScheduleCommand.self,
                      CacheCommand.self, HealthCommand.self])
}
