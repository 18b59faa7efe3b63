// Sentinel discovery against real servers: a private master, its replica and one Sentinel on
// ephemeral ports (children of the test, killed at the end). Covers asking Sentinel, skipping a
// dead Sentinel, following a failover, and dropping a connection whose server became a replica.

import Foundation
import Glibc
import Logging
import Redis
import TestSupport
import Testing

@Suite(.serialized) struct RedisSentinelTests {
    /// A Sentinel child process watching `masterPort` as master `name` (quorum 1).
    final class Sentinel: @unchecked Sendable {
        // @unchecked Sendable: `process` is set once in init and only read afterwards.
        let port: Int
        let process: Process
        let directory: String

        init(name: String, masterPort: Int) throws {
            port = try freeLoopbackPort()
            directory = NSTemporaryDirectory() + "sluice-sentinel-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let conf = directory + "/sentinel.conf"
            try """
                port \(port)
                bind 127.0.0.1
                dir "\(directory)"
                sentinel monitor \(name) 127.0.0.1 \(masterPort) 1
                sentinel down-after-milliseconds \(name) 1000
                sentinel failover-timeout \(name) 5000

                """.write(toFile: conf, atomically: true, encoding: .utf8)
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
            process.arguments = [conf, "--sentinel"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(10)
            while !canConnect(port: port) {
                guard Date() < deadline, process.isRunning else { throw ServerError(message: "sentinel did not start") }
                usleep(20_000)
            }
        }

        func kill() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    let logger = Logger(label: "test.sentinel")

    @Test func asksSentinelSkipsADeadOneAndFollowsAFailover() async throws {
        let master = try PrivateRedisServer()
        defer { master.kill() }
        let replica = try PrivateRedisServer(["--replicaof", "127.0.0.1", "\(master.port)"])
        defer { replica.kill() }
        let name = "m\(UInt32.random(in: 0...UInt32.max))"
        let sentinel = try Sentinel(name: name, masterPort: master.port)
        defer { sentinel.kill() }
        let dead = try freeLoopbackPort()

        // A dead Sentinel listed first: the next one is asked.
        let configuration = try RedisConfiguration(url: "redis-sentinel://127.0.0.1:\(dead),127.0.0.1:\(sentinel.port)/\(name)")
        let first = try await RedisConnection.connect(configuration: configuration, logger: logger)
        _ = try await first.send(["SET", "sentinel-test", "1"])
        #expect(try await first.send(["ROLE"]).array?.first?.string == "master")
        #expect(try await first.send(["INFO", "server"]).string?.contains("tcp_port:\(master.port)") == true)

        // Wait until the replica is in sync and the Sentinel knows it, then force a failover.
        let s = try await RedisConnection.connect(configuration: RedisConfiguration(port: sentinel.port), logger: logger)
        var ready = false
        for _ in 0..<100 where !ready {
            let replicas = try await s.send(["SENTINEL", "replicas", RedisArgument(name)])
            let info = try await first.send(["INFO", "replication"]).string ?? ""
            ready = !(replicas.array ?? []).isEmpty && info.contains("state=online")
            if !ready { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(ready)
        _ = try await s.send(["SENTINEL", "FAILOVER", RedisArgument(name)])
        var moved = false
        for _ in 0..<100 where !moved {
            let addr = try await s.send(["SENTINEL", "get-master-addr-by-name", RedisArgument(name)])
            moved = addr.array?.last?.int == replica.port
            if !moved { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(moved)
        await s.close()

        // A new connection lands on the promoted replica (once it answers ROLE master).
        var second: RedisConnection?
        for _ in 0..<50 where second == nil {
            second = try? await RedisConnection.connect(configuration: configuration, logger: logger)
            if second == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let promoted = try #require(second)
        #expect(try await promoted.send(["INFO", "server"]).string?.contains("tcp_port:\(replica.port)") == true)
        #expect(try await promoted.send(["GET", "sentinel-test"]).string == "1")
        await promoted.close()

        // The old connection's server is a replica now: Sentinel closes its clients when it
        // reconfigures it, or a write fails READONLY; either way the connection is broken, so a
        // pool reconnects through Sentinel.
        var failed = false
        for _ in 0..<150 where !failed {
            do throws(RedisError) {
                _ = try await first.send(["SET", "sentinel-test", "2"])
            } catch {
                failed = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(failed)
        #expect(first.isBroken)
    }

    @Test func aReadOnlyReplyBreaksTheConnection() async throws {
        let master = try PrivateRedisServer()
        defer { master.kill() }
        let replica = try PrivateRedisServer(["--replicaof", "127.0.0.1", "\(master.port)"])
        defer { replica.kill() }
        let connection = try await RedisConnection.connect(configuration: RedisConfiguration(port: replica.port), logger: logger)
        let error = await #expect(throws: RedisError.self) { _ = try await connection.send(["SET", "k", "v"]) }
        #expect(error?.message.hasPrefix("READONLY") == true)
        #expect(connection.isBroken)
        // In a pipeline too.
        let second = try await RedisConnection.connect(configuration: RedisConfiguration(port: replica.port), logger: logger)
        let replies = try await second.pipeline([["GET", "k"], ["SET", "k", "v"]])
        #expect((try? replies[0].get()) != nil)
        #expect(second.isBroken)
    }

    @Test func noSentinelAnswersIsAClearError() async throws {
        let dead = try freeLoopbackPort()
        let configuration = try RedisConfiguration(url: "redis-sentinel://127.0.0.1:\(dead)/nobody")
        await #expect(throws: RedisError.self) { _ = try await RedisConnection.connect(configuration: configuration, logger: logger) }
    }
}
