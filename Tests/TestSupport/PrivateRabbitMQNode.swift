// PrivateRabbitMQNode: a RabbitMQ node owned by one test, with only TLS listeners on a loopback
// ephemeral port (127.0.0.1, and 127.0.0.2: an address the certificate does not name; its
// certificate from TestCertificates), its own node name, distribution port,
// Mnesia and logs in a temporary folder. Started the way `scripts/services` starts a node (the
// same RABBITMQ_* variables), but run in the foreground (RUNNING_UNDER_SYSTEMD makes the script
// exec the VM), so the child's pid is the broker's and `stop()` ends it by that pid.
//
// epmd: a node registers with the port mapper on 127.0.0.1:4369. When none runs, the node
// starts one of its own here (a foreground child, stopped by `stop()`); one already running
// (other nodes use it) is left alone.

import Foundation
import Glibc

public final class PrivateRabbitMQNode: @unchecked Sendable {
    // @unchecked Sendable: `broker` and `epmd` are only touched under `lock`; the rest is immutable.
    /// The TLS (amqps) port.
    public let port: Int
    public let user = "sluice"
    /// A distinctive password, so tests can check that no error shows it.
    public let password = "tls-secret-\(UInt32.random(in: 0...UInt32.max))"
    public let virtualHost = "sluice"
    public let directory: String
    private let lock = NSLock()
    private var broker: Process?
    private var epmd: Process?

    /// Starts the node; `requireClientCertificate` makes it refuse clients without a certificate
    /// from the test CA (`fail_if_no_peer_cert`).
    public init(certificates: TestCertificates, requireClientCertificate: Bool = false) async throws {
        directory = certificates.directory + "/rabbitmq"
        port = try freeLoopbackPort()
        let distPort = try freeLoopbackPort()
        for sub in ["home", "mnesia", "log"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        let config = """
            listeners.tcp = none
            listeners.ssl.1 = 127.0.0.1:\(port)
            listeners.ssl.2 = 127.0.0.2:\(port)
            ssl_options.cacertfile = \(certificates.caCertificate)
            ssl_options.certfile = \(certificates.serverCertificate)
            ssl_options.keyfile = \(certificates.serverKey)
            ssl_options.verify = \(requireClientCertificate ? "verify_peer" : "verify_none")
            ssl_options.fail_if_no_peer_cert = \(requireClientCertificate)
            loopback_users = none
            default_vhost = \(virtualHost)
            default_user = \(user)
            default_pass = \(password)
            default_permissions.configure = .*
            default_permissions.read = .*
            default_permissions.write = .*
            log.file.level = info
            log.console = false

            """
        try config.write(toFile: directory + "/rabbitmq.conf", atomically: true, encoding: .utf8)
        try "[].\n".write(toFile: directory + "/enabled_plugins", atomically: true, encoding: .utf8)
        try "".write(toFile: directory + "/rabbitmq-env.conf", atomically: true, encoding: .utf8)

        do {
            if !canConnect(port: 4369) {
                let e = Process()
                e.executableURL = URL(fileURLWithPath: "/usr/bin/epmd")
                e.arguments = ["-address", "127.0.0.1"]
                e.standardOutput = FileHandle.nullDevice
                e.standardError = FileHandle.nullDevice
                try e.run()
                lock.withLock { epmd = e }
                try await Self.wait(what: "epmd on 127.0.0.1:4369", seconds: 10) { canConnect(port: 4369) }
            }
            let b = Process()
            b.executableURL = URL(fileURLWithPath: "/usr/lib/rabbitmq/bin/rabbitmq-server")
            b.currentDirectoryURL = URL(fileURLWithPath: directory)
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("RABBITMQ_") && !$0.key.hasPrefix("ERL_") }
            env.merge([
                "HOME": directory + "/home",
                "RABBITMQ_NODENAME": "sluicetls\(port)@localhost",
                "RABBITMQ_USE_LONGNAME": "false",
                "RABBITMQ_DIST_PORT": "\(distPort)",
                "RABBITMQ_CONF_ENV_FILE": directory + "/rabbitmq-env.conf",
                "RABBITMQ_CONFIG_FILE": directory + "/rabbitmq.conf",
                "RABBITMQ_ADVANCED_CONFIG_FILE": directory + "/advanced.config",
                "RABBITMQ_ENABLED_PLUGINS_FILE": directory + "/enabled_plugins",
                "RABBITMQ_MNESIA_BASE": directory + "/mnesia",
                "RABBITMQ_LOG_BASE": directory + "/log",
                "RABBITMQ_LOGS": directory + "/log/rabbit.log",
                "RABBITMQ_PID_FILE": directory + "/rabbit.pid",
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
                // The script then execs the VM: the child's pid is the broker's.
                "RUNNING_UNDER_SYSTEMD": "true",
            ]) { _, new in new }
            b.environment = env
            let out = FileHandle(forWritingAtPath: directory + "/log/startup.log")
                ?? { FileManager.default.createFile(atPath: directory + "/log/startup.log", contents: nil)
                     return FileHandle(forWritingAtPath: directory + "/log/startup.log")! }()
            b.standardOutput = out
            b.standardError = out
            b.standardInput = FileHandle.nullDevice
            try b.run()
            lock.withLock { broker = b }
            let port = port
            try await Self.wait(what: "the TLS listener on 127.0.0.1:\(port)", seconds: 120) {
                guard b.isRunning else {
                    throw ServerError(message: "rabbitmq-server exited at start")
                }
                return canConnect(port: port)
            }
        } catch {
            let log = log()
            stop()
            throw ServerError(message: "the private TLS RabbitMQ node did not start: \(error)\n\(log)")
        }
    }

    deinit { stop() }

    /// The node's logs (startup output and rabbit.log), for failure messages and assertions.
    public func log() -> String {
        ["/log/startup.log", "/log/rabbit.log"].compactMap {
            try? String(contentsOfFile: directory + $0, encoding: .utf8)
        }.joined(separator: "\n")
    }

    /// Stops the broker (SIGTERM, then SIGKILL after 20 s) and the epmd this node started; waits
    /// for both. Idempotent.
    public func stop() {
        let (b, e) = lock.withLock { () -> (Process?, Process?) in
            defer { broker = nil; epmd = nil }
            return (broker, epmd)
        }
        for p in [b, e].compactMap({ $0 }) {
            if p.isRunning { kill(p.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(20)
            while p.isRunning && Date() < deadline { usleep(50_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
    }

    private static func wait(what: String, seconds: Double, _ ready: @Sendable () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try ready() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw ServerError(message: "\(what) not up within \(Int(seconds)) s")
    }
}
