// Connecting: success with server information, and every way it fails, each reported as a typed
// error that names the endpoint and the cause but never the password, within connectTimeout.

import ClientSupport
import Foundation
import RabbitMQ
import TestSupport
import Testing

@Suite struct ConnectTests {
    @Test func connectsAndReportsTheServer() async throws {
        let connection = try await AMQPConnection.connect(configuration: AMQPTest.configuration(), logger: AMQPTest.logger)
        #expect(connection.serverProduct == "RabbitMQ")
        let version = try #require(connection.serverVersion)
        #expect(version.first?.isNumber == true)
        #expect(connection.serverProperties["capabilities"]?.tableValue?["publisher_confirms"] == .bool(true))
        #expect(!connection.isBroken)
        await connection.close()
        #expect(!connection.isBroken)
        let error = await amqpError { _ = try await connection.openChannel() }
        #expect(error?.code == .closed)
    }

    @Test func refusedConnectionNamesTheEndpoint() async throws {
        let port = TCPProxy.unusedPort()
        let config = try AMQPTest.configuration { $0.port = port; $0.password = "pw-never-shown-1" }
        let error = await amqpError { _ = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger) }
        #expect(error?.code == .connectionRefused)
        #expect(error?.endpoint == "127.0.0.1:\(port)")
        #expect("\(error!)".contains("127.0.0.1:\(port)"))
        #expect(!"\(error!)".contains("pw-never-shown-1"))
    }

    @Test func aClusterURLSkipsADeadNodeAndSpreadsConnections() async throws {
        let dead = TCPProxy.unusedPort()
        let real = try AMQPTest.configuration()
        var config = real
        config.host = "127.0.0.1"
        config.port = dead
        config.otherNodes = [.init(host: real.host, port: real.port)]
        // Whichever node a connect starts with, it ends on the live one; several in a row
        // start on different nodes (rotation), and none fails.
        for _ in 0..<3 {
            let connection = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger)
            #expect(connection.serverProduct == "RabbitMQ")
            await connection.close()
        }
        // Every node dead: the last node's error, naming it.
        config.otherNodes = [.init(host: "127.0.0.1", port: TCPProxy.unusedPort())]
        let error = await amqpError { _ = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger) }
        #expect(error?.code == .connectionRefused)
    }

    @Test func unknownHostIsReported() async throws {
        let config = try AMQPTest.configuration { $0.host = "no-such-host.invalid" }
        let error = await amqpError { _ = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger) }
        #expect(error?.code == .hostNotFound)
    }

    @Test func wrongPasswordIsAnAuthenticationFailure() async throws {
        let password = "wrong-\(UUID().uuidString)"
        let config = try AMQPTest.configuration { $0.password = password }
        let error = await amqpError { _ = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger) }
        #expect(error?.code == .authenticationFailed)
        #expect(error?.replyCode == 403)
        #expect(error?.replyText?.contains("ACCESS_REFUSED") == true)
        #expect(error?.endpoint == config.endpoint)
        #expect(!"\(error!)".contains(password))
        #expect(error?.isTransient == false)
    }

    @Test func missingVirtualHostIsReported() async throws {
        let vhost = TestEnvironment.uniqueName("novhost")
        let config = try AMQPTest.configuration { $0.virtualHost = vhost }
        let error = await amqpError { _ = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger) }
        #expect(error?.code == .virtualHostNotFound)
        #expect(error?.replyCode == 530)
        #expect("\(error!)".contains(vhost))
    }

    @Test func silentServerTimesOutAtConnectTimeout() async throws {
        let listener = try TCPProxy(upstreamPort: nil)
        defer { listener.close() }
        let config = try AMQPTest.configuration { $0.port = listener.port; $0.connectTimeout = .milliseconds(600) }
        let start = ContinuousClock.now
        let error = await amqpError { _ = try await AMQPConnection.connect(configuration: config, logger: AMQPTest.logger) }
        let elapsed = ContinuousClock.now - start
        #expect(error?.code == .connectTimeout)
        #expect(error?.endpoint == "127.0.0.1:\(listener.port)")
        #expect(elapsed >= .milliseconds(500))
        #expect(elapsed < .seconds(5))
    }

    @Test func retryHelperRetriesTransientFailuresOnly() async throws {
        // Refused: retried `attempts` times, then the last error.
        let refused = try AMQPTest.configuration { $0.port = TCPProxy.unusedPort() }
        let backoff = Backoff(base: .milliseconds(20), cap: .milliseconds(40), jitter: 0)
        let start = ContinuousClock.now
        let error = await amqpError {
            _ = try await AMQPConnection.connect(configuration: refused, retry: backoff, attempts: 3, logger: AMQPTest.logger)
        }
        #expect(error?.code == .connectionRefused)
        #expect(ContinuousClock.now - start >= .milliseconds(60))  // waited 20 + 40 ms between the 3 attempts
        // Authentication: not transient, fails on the first attempt.
        let badAuth = try AMQPTest.configuration { $0.password = "nope" }
        let slow = Backoff(base: .seconds(10), cap: .seconds(10), jitter: 0)
        let authError = await amqpError {
            _ = try await AMQPConnection.connect(configuration: badAuth, retry: slow, attempts: 5, logger: AMQPTest.logger)
        }
        #expect(authError?.code == .authenticationFailed)
        // And it succeeds when the broker is there.
        let ok = try await AMQPConnection.connect(configuration: AMQPTest.configuration(), retry: backoff, attempts: 2, logger: AMQPTest.logger)
        await ok.close()
    }
}
