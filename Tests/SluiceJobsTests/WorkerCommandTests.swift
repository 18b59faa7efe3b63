// `sluice worker` and `sluice enqueue` as a user runs them: a worker started with no flags
// serves every class (a maintenance.partitions job completes), `sluice enqueue` refuses a bad
// job with exit 1 naming the field, and SIGTERM drains the worker through the runtime's
// ServiceGroup to exit 0.

import Foundation
import Glibc
import SluiceCore
import TestSupport
import Testing

/// The `sluice` executable next to the test bundle (`swift build --build-tests` builds both).
let sluiceExecutable: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
    return dir.appendingPathComponent("sluice").path
}()

/// The environment of a CLI process on a scratch database with private names.
func cliEnvironment(database: ScratchDatabase, names: String) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    var url = URLComponents(string: TestEnvironment.postgresURL)!
    url.path = "/" + database.name
    env["SLUICE_POSTGRES_URL"] = url.string!
    env["SLUICE_AMQP_URL"] = TestEnvironment.amqpURL
    env["SLUICE_REDIS_URL"] = TestEnvironment.redisURL
    env["SLUICE_SCHEMA"] = names
    env["SLUICE_QUEUE_PREFIX"] = names
    env["SLUICE_REDIS_PREFIX"] = names + ":"
    env["SLUICE_CATALOG"] = ScratchDatabase.repositoryRoot.appendingPathComponent("jobs").path
    env["SLUICE_LOG_LEVEL"] = env["SLUICE_TEST_LOG_LEVEL"] ?? "warning"
    return env
}

/// Runs `sluice arguments…` to its end; returns the exit status and what it printed.
func runSluice(_ arguments: [String], environment: [String: String]) async throws -> (status: Int32, output: String) {
    try await runProcess(sluiceExecutable, arguments, environment: environment)
}

@Suite(.serialized) struct WorkerCommandTests {
    @Test("`sluice worker` with no --classes runs a maintenance.partitions job; bad jobs exit 1; SIGTERM drains to exit 0")
    func workerServesEveryClass() async throws {
        try await ScratchDatabase.with("cli_worker", seed: false) { db in
            let names = TestEnvironment.uniqueName("cli")
            let env = cliEnvironment(database: db, names: names)
            let migrate = try await runSluice(["migrate"], environment: env)
            #expect(migrate.status == 0, "\(migrate.output)")

            // Refused at enqueue, exit 1, the field named, nothing written.
            let typo = try await runSluice(["enqueue", "maintenance.vacuum", "--args", #"{"tabel":"demo.leads"}"#], environment: env)
            #expect(typo.status == 1)
            #expect(typo.output.contains("args.table"), "\(typo.output)")
            let injected = try await runSluice(["enqueue", "maintenance.vacuum", "--args", #"{"table":"demo.leads; drop table demo.leads"}"#],
                                               environment: env)
            #expect(injected.status == 1)
            #expect(injected.output.contains("args.table"), "\(injected.output)")
            let target = try await runSluice(["enqueue", "maintenance.vacuum", "--args", #"{"table":"demo.leads"}"#, "--target", "nowhere"],
                                             environment: env)
            #expect(target.status == 1)
            #expect(target.output.contains("target"), "\(target.output)")
            #expect(try await db.value("SELECT count(*)::int FROM \(names).jobs", as: Int.self) == 0)

            let worker = Process()
            worker.executableURL = URL(fileURLWithPath: sluiceExecutable)
            worker.arguments = ["worker", "--grace", "5s"]
            worker.environment = env
            let logPath = NSTemporaryDirectory() + names + ".log"
            FileManager.default.createFile(atPath: logPath, contents: nil)
            worker.standardOutput = FileHandle(forWritingAtPath: logPath)
            worker.standardError = FileHandle(forWritingAtPath: logPath)
            try worker.run()
            defer {
                if worker.isRunning { Glibc.kill(worker.processIdentifier, SIGKILL) }
                try? FileManager.default.removeItem(atPath: logPath)
            }
            let partitions = try await runSluice(
                ["enqueue", "maintenance.partitions", "--args", #"{"table":"demo.email_events"}"#, "--wait", "--wait-timeout", "60s", "--json"],
                environment: env)
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            #expect(partitions.status == 0, "\(partitions.output)\nworker log:\n\(log)")
            #expect(partitions.output.contains("completed"), "\(partitions.output)")
            #expect(try await db.value("SELECT count(*)::int FROM \(names).jobs WHERE state = 'completed'", as: Int.self) == 1)

            // SIGTERM: the ServiceGroup drains the worker, which exits 0.
            let status = try await offPool { () -> Int32? in
                Glibc.kill(worker.processIdentifier, SIGTERM)
                let deadline = Date().addingTimeInterval(20)
                while worker.isRunning && Date() < deadline { usleep(20_000) }
                return worker.isRunning ? nil : worker.terminationStatus
            }
            #expect(status == 0, "worker log:\n\((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
        }
    }
}
