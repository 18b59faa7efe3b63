// Private processes for the failure tests: a RabbitMQ broker on its own ports (started with
// scripts/services, stopped through its pid file), and `sluice worker` processes.

import Foundation
import Glibc
import SluiceCore
import TestSupport

/// The repository root (this file is Tests/SluiceRuntimeTests/PrivateProcesses.swift).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `sluice` executable next to the test bundle (`swift build --build-tests` builds both).
let sluiceExecutable: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    if dir.path.hasSuffix(".xctest") || dir.lastPathComponent == "MacOS" { dir = dir.deletingLastPathComponent() }
    return dir.appendingPathComponent("sluice").path
}()

/// A RabbitMQ node of our own on an ephemeral AMQP port (the shared Postgres and Redis are reused).
final class PrivateRabbitMQ: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; start/stop are called from one test task.
    let port: Int
    let distPort: Int
    let consumerTimeoutMS: Int?
    var url: String { "amqp://sluice:sluice@127.0.0.1:\(port)/sluice" }
    private var pidFile: String { repositoryRoot.appendingPathComponent(".sluice/rabbitmq-\(port)/rabbit.pid").path }

    init(consumerTimeoutMS: Int? = nil) throws {
        // AMQP port in 30000-44999, distribution port +20000 (both must be free).
        var chosen: Int?
        for _ in 0..<20 {
            let p = Int.random(in: 30000...44999)
            if !canConnect(port: p) && !canConnect(port: p + 20000) { chosen = p; break }
        }
        guard let chosen else { throw ServerError(message: "no free port pair for a private broker") }
        port = chosen
        distPort = chosen + 20000
        self.consumerTimeoutMS = consumerTimeoutMS
    }

    /// A started broker.
    static func launch(consumerTimeoutMS: Int? = nil) async throws -> PrivateRabbitMQ {
        let b = try PrivateRabbitMQ(consumerTimeoutMS: consumerTimeoutMS)
        try await b.startOffThread()
        return b
    }

    private func startOffThread() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            Thread { c.resume(with: Result { try self.start() }) }.start()
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: repositoryRoot.appendingPathComponent(".sluice/rabbitmq-\(port)"))
    }

    /// Runs `scripts/services up` for this port (blocking; ~6 s). Uses system(3), not Process:
    /// Foundation's Process on Linux can miss the exit of a script whose grandchild (the
    /// broker) lives on, leaving waitUntilExit hanging.
    func start() throws {
        func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        var command = "SLUICE_AMQP_URL=\(q(url)) SLUICE_RABBITMQ_DIST_PORT=\(distPort) "
        if let consumerTimeoutMS { command += "SLUICE_RABBITMQ_CONSUMER_TIMEOUT_MS=\(consumerTimeoutMS) " }
        command += q(repositoryRoot.appendingPathComponent("scripts/services").path) + " up >/dev/null 2>&1"
        _ = system(command)
        guard canConnect(port: port) else {
            throw ServerError(message: "scripts/services up failed for a private broker on \(port)")
        }
    }

    var pid: Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return pid
    }

    /// Kills the node (SIGKILL: a crash; confirmed persistent messages are on disk) and
    /// waits until it has exited.
    func stop() {
        guard let pid else { return }
        Glibc.kill(pid, SIGKILL)
        for _ in 0..<500 where Glibc.kill(pid, 0) == 0 { usleep(10_000) }
        try? FileManager.default.removeItem(atPath: pidFile)
    }

    /// `start()` on a thread of its own, so the test's task does not block a cooperative thread.
    func restart() async throws {
        stop()
        try await startOffThread()
    }
}

/// A `sluice worker` child process serving one harness's names.
final class WorkerProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is set in init and only read afterwards.
    let process: Process
    let logPath: String

    init(_ h: Harness, amqpURL: String = TestEnvironment.amqpURL, redisURL: String = TestEnvironment.redisURL,
         arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: sluiceExecutable)
        process.arguments = ["worker", "--schema", h.schema, "--queue-prefix", h.topology.prefix] + arguments
        var env = ProcessInfo.processInfo.environment
        env["SLUICE_POSTGRES_URL"] = TestEnvironment.postgresURL
        env["SLUICE_AMQP_URL"] = amqpURL
        env["SLUICE_REDIS_URL"] = redisURL
        env["SLUICE_REDIS_PREFIX"] = h.redisPrefix
        env["SLUICE_LOG_LEVEL"] = env["SLUICE_TEST_LOG_LEVEL"] ?? "info"
        env.merge(environment) { _, new in new }
        process.environment = env
        logPath = NSTemporaryDirectory() + TestEnvironment.uniqueName("worker") + ".log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    deinit {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: logPath)
    }

    func kill9() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits up to `seconds` for the exit; returns the exit status (nil: still running, killed).
    func terminate(waiting seconds: Double) -> Int32? {
        Glibc.kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill9()
            return nil
        }
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
