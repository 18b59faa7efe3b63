// PrivateRedisServer: a redis-server child process on an ephemeral port, owned by one test
// (shared by the Redis client's and the runtime's failure tests).
//
// Tests that kill Redis, restart it or set a password use one of these, never the shared server.
// No persistence (`--save ''`, `--appendonly no`); the process is killed by `stop()` (call it in
// a `defer`) and, as a safety net, in `deinit`.

import Foundation
import Glibc

public final class PrivateRedisServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched under `lock`; the rest is immutable.
    public let port: Int
    private let extraArguments: [String]
    private let directory: String
    private let lock = NSLock()
    private var process: Process?

    /// Starts a server with `extraArguments` (e.g. ["--requirepass", "x"]).
    public init(_ extraArguments: [String] = []) throws {
        self.extraArguments = extraArguments
        directory = NSTemporaryDirectory() + "sluice-redis-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lastError: Error?
        var started: (Int, Process)?
        // The free port could be taken between probing and binding: try a few.
        for _ in 0..<3 {
            let candidate = try freeLoopbackPort()
            do {
                started = (candidate, try Self.launch(port: candidate, extra: extraArguments, directory: directory))
                break
            } catch {
                lastError = error
            }
        }
        guard let started else { throw lastError ?? ServerError(message: "could not start redis-server") }
        port = started.0
        process = started.1
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server again on the same port (after `kill()`).
    public func start() throws {
        let p = try Self.launch(port: port, extra: extraArguments, directory: directory)
        lock.lock()
        process = p
        lock.unlock()
    }

    /// SIGKILL: the server dies at once, as in a crash.
    public func kill() {
        lock.lock()
        let p = process
        process = nil
        lock.unlock()
        guard let p else { return }
        if p.isRunning { Glibc.kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    public func stop() { kill() }

    private static func launch(port: Int, extra: [String], directory: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        p.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                       "--daemonize", "no", "--dir", directory, "--logfile", ""] + extra
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !p.isRunning {
                throw ServerError(message: "redis-server exited at start (port \(port) taken?)")
            }
            if canConnect(port: port) { return p }
            usleep(10_000)
        }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        throw ServerError(message: "redis-server did not listen on \(port) within 10 s")
    }
}

public struct ServerError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A loopback TCP port that was free a moment ago.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ServerError(message: "socket() failed") }
    defer { close(fd) }
    var addr = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw ServerError(message: "bind() failed") }
    return try boundPort(fd)
}

public func boundPort(_ fd: Int32) throws -> Int {
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    guard ok == 0 else { throw ServerError(message: "getsockname() failed") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

public func loopbackAddress(port: Int) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return addr
}

/// True when a TCP connection to 127.0.0.1:`port` succeeds.
public func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = loopbackAddress(port: port)
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
