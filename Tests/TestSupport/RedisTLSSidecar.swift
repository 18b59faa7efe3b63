// RedisTLSSidecar: a private redis-server listening only on a TLS port (`port 0`, a certificate
// from TestCertificates) and an stunnel client in front of it on a loopback port: the sidecar
// the README documents while Debian 12's hiredis (0.14) has no TLS client. stunnel verifies the
// chain against `caFile` and the host name (verifyChain, CAfile, checkHost); Sluice's Redis
// client uses `url`, stunnel's plaintext port. Both run in the foreground and are stopped by
// their pids (SIGTERM, SIGKILL after 3 s: stunnel has ignored SIGTERM in a test before).

import Foundation
import Glibc

public final class RedisTLSSidecar: @unchecked Sendable {
    // @unchecked Sendable: `children` is only touched under `lock`; the rest is immutable.
    /// redis-server's TLS port.
    public let tlsPort: Int
    /// stunnel's plaintext loopback port.
    public let port: Int
    /// stunnel's log (`output =`): it names why a server certificate was refused.
    public let stunnelLogPath: String
    private let lock = NSLock()
    private var children: [Process] = []

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public init(certificates certs: TestCertificates, caFile: String, name: String = "redis") throws {
        let dir = certs.directory + "/" + name + "-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        tlsPort = try freeLoopbackPort()
        port = try freeLoopbackPort()
        stunnelLogPath = dir + "/stunnel.log"
        do {
            let redis = try Self.launch("/usr/bin/redis-server", [
                "--port", "0", "--tls-port", "\(tlsPort)", "--bind", "127.0.0.1",
                "--tls-cert-file", certs.serverCertificate, "--tls-key-file", certs.serverKey,
                "--tls-ca-cert-file", certs.caCertificate, "--tls-auth-clients", "no",
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir,
            ], output: dir + "/redis.log")
            lock.withLock { children.append(redis) }
            try Self.waitListening(redis, tlsPort, what: "redis-server (TLS)")
            let config = dir + "/stunnel.conf"
            try Self.stunnelConfiguration(acceptPort: port, connectPort: tlsPort, caFile: caFile, log: stunnelLogPath)
                .write(toFile: config, atomically: true, encoding: .utf8)
            let stunnel = try Self.launch("/usr/bin/stunnel4", [config], output: dir + "/stunnel.out")
            lock.withLock { children.append(stunnel) }
            try Self.waitListening(stunnel, port, what: "stunnel")
        } catch {
            stop()
            let log = (try? String(contentsOfFile: stunnelLogPath, encoding: .utf8)) ?? ""
            throw ServerError(message: "the Redis TLS sidecar did not start: \(error)\n\(log)")
        }
    }

    deinit { stop() }

    /// The client-mode configuration the README shows (with this test's ports and files).
    public static func stunnelConfiguration(acceptPort: Int, connectPort: Int, caFile: String, log: String) -> String {
        """
        foreground = yes
        pid =
        output = \(log)
        debug = info

        [redis]
        client = yes
        accept = 127.0.0.1:\(acceptPort)
        connect = 127.0.0.1:\(connectPort)
        verifyChain = yes
        CAfile = \(caFile)
        checkHost = localhost
        sslVersionMin = TLSv1.2

        """
    }

    public func stunnelLog() -> String {
        (try? String(contentsOfFile: stunnelLogPath, encoding: .utf8)) ?? ""
    }

    /// Stops stunnel, then redis-server, each by its pid; waits for both. Idempotent.
    public func stop() {
        let all = lock.withLock { () -> [Process] in
            defer { children = [] }
            return children
        }
        for p in all.reversed() {
            let pid = p.processIdentifier
            if p.isRunning { kill(pid, SIGTERM) }
            let deadline = Date().addingTimeInterval(3)
            while p.isRunning && Date() < deadline { usleep(20_000) }
            if p.isRunning { kill(pid, SIGKILL) }
            p.waitUntilExit()
        }
    }

    private static func launch(_ executable: String, _ arguments: [String], output: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        FileManager.default.createFile(atPath: output, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    private static func waitListening(_ p: Process, _ port: Int, what: String) throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard p.isRunning else { throw ServerError(message: "\(what) exited at start") }
            if canConnect(port: port) { return }
            usleep(20_000)
        }
        throw ServerError(message: "\(what) did not listen on 127.0.0.1:\(port) within 15 s")
    }
}
