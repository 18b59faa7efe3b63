// Shared helpers for the RabbitMQ integration tests: configuration from TestEnvironment, a
// logger, topology scaffolding with cleanup, a timeout guard so that no test can hang, and
// discovery of a working rabbitmqctl for the one test that needs the broker's side.

import Foundation
import Logging
import RabbitMQ
import TestSupport
import Testing

enum AMQPTest {
    static let logger: Logger = {
        var logger = Logger(label: "sluice.rabbitmq.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["SLUICE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }()

    static func configuration(_ change: (inout AMQPConfiguration) -> Void = { _ in }) throws -> AMQPConfiguration {
        var config = try AMQPConfiguration(url: TestEnvironment.amqpURL)
        config.connectTimeout = .seconds(5)
        change(&config)
        return config
    }

    /// Opens a connection and channel, runs `body`, then deletes `queues` and `exchanges` and
    /// closes the connection, whether `body` threw or not.
    static func withChannel<T>(
        cleanupQueues queues: [String] = [], exchanges: [String] = [],
        _ body: (AMQPChannel) async throws -> T
    ) async throws -> T {
        let connection = try await AMQPConnection.connect(configuration: configuration(), logger: logger)
        let channel = try await connection.openChannel()
        func cleanup() async {
            for q in queues { _ = try? await channel.deleteQueue(q) }
            for x in exchanges { try? await channel.deleteExchange(x) }
            await connection.close()
        }
        do {
            let result = try await body(channel)
            await cleanup()
            return result
        } catch {
            await cleanup()
            throw error
        }
    }

    /// A durable test queue that the broker removes on its own 60 s after it was last used,
    /// should a test die before its cleanup.
    static let safetyNet: AMQPTable = [AMQPArgument.expires: .int32(60_000)]
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out: \(what)" }
}

/// Runs `body`, failing with TimedOut after `seconds`: a hang becomes a test failure. The body
/// runs in an unstructured task, so that even a continuation that is never resumed cannot hold
/// the test (a task group would wait for it).
func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        once.set(continuation)
        let work = Task {
            do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            once.resume(.failure(TimedOut(what: what)))
            work.cancel()
        }
    }
}

final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `continuation` is only touched under `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Error>?

    func set(_ c: CheckedContinuation<T, Error>) { lock.withLock { continuation = c } }

    func resume(_ result: Result<T, Error>) {
        let c = lock.withLock { () -> CheckedContinuation<T, Error>? in
            defer { continuation = nil }
            return continuation
        }
        c?.resume(with: result)
    }
}

/// The AMQPError `body` throws; records an issue when it throws nothing or something else.
func amqpError(_ body: () async throws -> Void) async -> AMQPError? {
    do {
        try await body()
        Issue.record("expected an AMQPError, got success")
        return nil
    } catch let error as AMQPError {
        return error
    } catch {
        Issue.record("expected an AMQPError, got \(error)")
        return nil
    }
}

/// Runs rabbitmqctl against the test broker: `SLUICE_RABBITMQCTL` (a command line), or the
/// local RabbitMQ node listening on the test URL's port, found through /proc (its
/// RABBITMQ_NODENAME and HOME, run as its user). Tests needing it are skipped when neither works.
enum RabbitMQCtl {
    static let command: [String]? = discover()

    static func run(_ args: [String]) throws -> String {
        guard let command else { throw TimedOut(what: "rabbitmqctl unavailable") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command + args
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    private static func discover() -> [String]? {
        if let cmd = ProcessInfo.processInfo.environment["SLUICE_RABBITMQCTL"], !cmd.isEmpty {
            return cmd.split(separator: " ").map(String.init)
        }
        guard getuid() == 0, let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for pid in pids where Int(pid) != nil {
            guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains("beam.smp"),
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let vars = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            func value(_ key: String) -> String? {
                vars.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
            }
            // Several nodes may run (other suites start private ones): take the test broker's.
            let port = (try? AMQPTest.configuration().port) ?? 5672
            guard (value("RABBITMQ_NODE_PORT").flatMap(Int.init) ?? 5672) == port else { continue }
            guard let node = value("RABBITMQ_NODENAME"), let home = value("HOME"),
                  let attrs = try? FileManager.default.attributesOfItem(atPath: "/proc/\(pid)"),
                  let uid = attrs[.ownerAccountID] as? NSNumber,
                  let gid = attrs[.groupOwnerAccountID] as? NSNumber else { continue }
            let ctl = FileManager.default.fileExists(atPath: "/usr/lib/rabbitmq/bin/rabbitmqctl")
                ? "/usr/lib/rabbitmq/bin/rabbitmqctl" : "rabbitmqctl"
            let cmd = ["setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "env", "HOME=\(home)", ctl, "-q", "-n", node]
            if let out = try? runRaw(cmd + ["status"]), out.0 == 0 { return cmd }
        }
        return nil
    }

    private static func runRaw(_ cmd: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = cmd
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, "")
    }
}
