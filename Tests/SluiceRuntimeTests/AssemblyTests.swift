// The composition root without servers (building a process opens no connection): which roles
// become services and in what order, the metrics registry handed to the roles that record, and
// a role that cannot be built stopping the start with an error naming it.

import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import ServiceLifecycle
import SluiceCatalog
import SluiceCore
import SluiceMetrics
import SluiceRuntime
import Testing

@Suite struct AssemblyTests {
    static func runtime() throws -> Runtime {
        Runtime(configuration: RuntimeConfiguration(
                    postgres: PostgresConfiguration(host: "127.0.0.1", port: 1, database: "none", user: "none"),
                    amqp: try AMQPConfiguration(url: "amqp://none:none@127.0.0.1:1/none"),
                    redis: try RedisConfiguration(url: "redis://127.0.0.1:1/0"), schema: "assembly"),
                registry: .forTests, logger: testLogger)
    }

    static func worker() throws -> WorkerConfiguration {
        WorkerConfiguration(classes: [ClassSettings.defaults(for: .analytics)],
                            postgres: PostgresConfiguration(host: "127.0.0.1", port: 1, database: "none", user: "none"),
                            amqp: try AMQPConfiguration(url: "amqp://none:none@127.0.0.1:1/none"))
    }

    struct Named: AttachedRole {
        let name: String
        var fails = false
        struct Refused: Error, CustomStringConvertible { var description: String { "port taken" } }
        func service(for roles: AssembledRoles) throws -> any Service {
            if fails { throw Refused() }
            return Idle()
        }
    }

    struct Idle: Service {
        func run() async throws { try? await gracefulShutdown() }
    }

    @Test func rolesBecomeServicesAttachedFirst() async throws {
        let runtime = try Self.runtime()
        let metrics = MetricsRegistry()
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(
            worker: try Self.worker(), schedules: ScheduleRole(jobs: [try scheduled("a", .every(.seconds(60)))]),
            pruner: PrunerConfiguration(retention: RetentionSettings()), metrics: metrics, attached: [Named(name: "probe")]))
        #expect(process.services.count == 4)
        #expect(process.services.first is Idle, "attached roles start first, so the group stops them last")
        #expect(process.services[1] as AnyObject === process.worker)
        #expect(process.services[2] as AnyObject === process.pruner)
        #expect(process.services[3] as AnyObject === process.scheduler)
        // The roles that record get the process's registry.
        #expect(process.worker?.configuration.metrics != nil)
        #expect(process.pruner?.configuration.metrics != nil)
        #expect(process.roles.leads)
        await runtime.close()
    }

    @Test func aScheduleHandleIsNotAService() async throws {
        let runtime = try Self.runtime()
        let process = try AssembledProcess(runtime: runtime, roles: ProcessRoles(
            schedules: ScheduleRole(jobs: [try scheduled("a", .every(.seconds(60)))], lead: false)))
        #expect(process.scheduler != nil && process.services.isEmpty && !process.roles.leads)
        #expect(process.worker == nil && process.pruner == nil)
        // Without a registry nothing records.
        let plain = try AssembledProcess(runtime: runtime, roles: ProcessRoles(worker: try Self.worker()))
        #expect(plain.worker?.configuration.metrics == nil)
        await runtime.close()
    }

    @Test func aRoleThatCannotBeBuiltStopsTheStartNamingIt() async throws {
        let runtime = try Self.runtime()
        let twice = [try scheduled("a", .every(.seconds(60))), try scheduled("a", .every(.seconds(120)))]
        #expect { try AssembledProcess(runtime: runtime, roles: ProcessRoles(schedules: ScheduleRole(jobs: twice))) } throws: { error in
            let e = error as? AssemblyError
            return e?.role == "scheduler" && e?.description.hasPrefix("the scheduler cannot start: ") == true
                && e?.description.contains("'a'") == true
        }
        #expect { try AssembledProcess(runtime: runtime, roles: ProcessRoles(attached: [Named(name: "probe", fails: true)])) } throws: { error in
            (error as? AssemblyError)?.description == "the probe cannot start: port taken"
        }
        await runtime.close()
    }
}
