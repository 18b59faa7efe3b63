// amqps:// against a private RabbitMQ node whose only listener is TLS on a loopback ephemeral
// port, with a server certificate from a CA this test makes and client certificates required.
// Verified TLS carries declares, confirmed publishes (many, and bodies over several frames) and
// consumes; the wrong CA, a host the certificate does not name, a missing client certificate, an unreadable CA file and plaintext to
// the TLS port are refused with errors that name the endpoint and the cause and show no password
// or key; verify_none connects whatever the CA.

import Foundation
import RabbitMQ
import TestSupport
import Testing

@Suite(.serialized) struct AMQPTLSTests {
    static func url(_ node: PrivateRabbitMQNode, host: String = "localhost", scheme: String = "amqps", _ query: String) -> String {
        "\(scheme)://\(node.user):\(node.password)@\(host):\(node.port)/\(node.virtualHost)\(query.isEmpty ? "" : "?" + query)"
    }

    static func configuration(_ url: String) throws -> AMQPConfiguration {
        var config = try AMQPConfiguration(url: url)
        config.connectTimeout = .seconds(10)
        return config
    }

    /// The error's text holds neither the password nor any line of a private key.
    static func expectNoSecrets(_ text: String, _ node: PrivateRabbitMQNode, _ certs: TestCertificates) throws {
        #expect(!text.contains(node.password), "\(text)")
        #expect(!text.contains("BEGIN"), "\(text)")
        for keyFile in [certs.serverKey, certs.clientKey] {
            let key = try String(contentsOfFile: keyFile, encoding: .utf8)
            for line in key.split(separator: "\n") where !line.hasPrefix("-----") {
                #expect(!text.contains(line), "key material in: \(text)")
            }
        }
    }

    @Test("verified amqps carries publishes and consumes; the wrong CA, no client certificate and plaintext are refused, naming the cause")
    func verifiedTLS() async throws {
        let certs = try await TestCertificates.make()
        defer { certs.remove() }
        let node = try await PrivateRabbitMQNode(certificates: certs, requireClientCertificate: true)
        defer { node.stop() }
        let client = "certfile=\(certs.clientCertificate)&keyfile=\(certs.clientKey)"
        let good = try Self.configuration(Self.url(node, "cacertfile=\(certs.caCertificate)&\(client)"))
        #expect(good.tls?.verifyPeer == true && good.tls?.verifyHostname == true)
        #expect(!good.description.contains(node.password))

        // Both names of the certificate (DNS localhost, IP 127.0.0.1) pass host name verification.
        for host in ["localhost", "127.0.0.1"] {
            let conn = try await AMQPConnection.connect(
                configuration: try Self.configuration(Self.url(node, host: host, "cacertfile=\(certs.caCertificate)&\(client)")),
                logger: AMQPTest.logger)
            #expect(conn.serverVersion?.isEmpty == false)
            await conn.close()
        }

        let queue = TestEnvironment.uniqueName("tls")
        let connection = try await AMQPConnection.connect(configuration: good, logger: AMQPTest.logger)
        let channel = try await connection.openChannel()
        try await channel.declareQueue(queue, arguments: AMQPTest.safetyNet)
        let publisher = try await AMQPPublisher.connect(configuration: good, logger: AMQPTest.logger)
        let big = (0..<400_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // several body frames
        try await publisher.publish(AMQPMessage(body: big, properties: AMQPProperties(messageId: "big")), routingKey: queue)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                group.addTask {
                    try await publisher.publish(AMQPMessage(body: Array("m\(i)".utf8), properties: AMQPProperties(messageId: "m\(i)")),
                                                routingKey: queue)
                }
            }
            try await group.waitForAll()
        }
        await publisher.close()
        #expect(try await channel.declareQueuePassive(queue).messageCount == 301)

        let consumer = try await AMQPConsumer.start(configuration: good, queue: queue, prefetch: 50, logger: AMQPTest.logger)
        let received = try await withTimeout(30, "301 deliveries over TLS") {
            var out: [AMQPDelivery] = []
            for try await d in consumer.deliveries {
                out.append(d)
                consumer.ack(d.deliveryTag)
                if out.count == 301 { break }
            }
            return out
        }
        await consumer.stop()
        #expect(received.first { $0.properties.messageId == "big" }?.body == big)
        #expect(Set(received.compactMap(\.properties.messageId)).count == 301)
        _ = try? await channel.deleteQueue(queue)
        await connection.close()

        // The wrong CA: refused during the handshake, naming the endpoint and OpenSSL's cause.
        let wrongURL = Self.url(node, "cacertfile=\(certs.wrongCACertificate)&\(client)")
        let wrong = try #require(await amqpError { _ = try await AMQPConnection.connect(configuration: Self.configuration(wrongURL), logger: AMQPTest.logger) })
        #expect(wrong.code == .tlsFailed, "\(wrong)")
        #expect(!wrong.isTransient)
        #expect("\(wrong)".contains("certificate verify failed"), "\(wrong)")
        #expect("\(wrong)".contains("unable to get local issuer certificate") || "\(wrong)".contains("self-signed"), "\(wrong)")
        #expect("\(wrong)".contains("localhost:\(node.port)"), "\(wrong)")
        try Self.expectNoSecrets("\(wrong)", node, certs)

        // A host the certificate does not name (127.0.0.2 is loopback too): refused by name.
        let otherHost = try #require(await amqpError {
            _ = try await AMQPConnection.connect(
                configuration: Self.configuration(Self.url(node, host: "127.0.0.2", "cacertfile=\(certs.caCertificate)&\(client)")),
                logger: AMQPTest.logger)
        })
        #expect(otherHost.code == .tlsFailed, "\(otherHost)")
        #expect("\(otherHost)".contains("certificate verify failed") && "\(otherHost)".contains("mismatch"), "\(otherHost)")
        #expect("\(otherHost)".contains("127.0.0.2:\(node.port)"), "\(otherHost)")

        // verify_none skips the check (tests only): the same wrong CA connects.
        let unverified = try await AMQPConnection.connect(
            configuration: try Self.configuration(Self.url(node, "cacertfile=\(certs.wrongCACertificate)&\(client)&verify=verify_none")),
            logger: AMQPTest.logger)
        await unverified.close()

        // No client certificate: the broker (fail_if_no_peer_cert) refuses the handshake.
        let anonymous = try #require(await amqpError {
            _ = try await AMQPConnection.connect(configuration: Self.configuration(Self.url(node, "cacertfile=\(certs.caCertificate)")),
                                                 logger: AMQPTest.logger)
        })
        #expect(anonymous.code == .tlsFailed, "\(anonymous)")
        #expect("\(anonymous)".contains("client certificates"), "\(anonymous)")
        #expect("\(anonymous)".contains("localhost:\(node.port)"), "\(anonymous)")
        try Self.expectNoSecrets("\(anonymous)", node, certs)

        // A CA file that cannot be read: named, before any connection.
        let missing = try #require(await amqpError {
            _ = try await AMQPConnection.connect(configuration: Self.configuration(Self.url(node, "cacertfile=\(certs.directory)/absent.pem")),
                                                 logger: AMQPTest.logger)
        })
        #expect(missing.code == .tlsFailed && "\(missing)".contains("absent.pem: No such file or directory"), "\(missing)")

        // Plaintext AMQP to the TLS port fails, and says the port may want amqps.
        let plain = try #require(await amqpError {
            _ = try await AMQPConnection.connect(configuration: Self.configuration(Self.url(node, scheme: "amqp", "")),
                                                 logger: AMQPTest.logger)
        })
        #expect("\(plain)".contains("use amqps://"), "\(plain)")
        #expect("\(plain)".contains("localhost:\(node.port)"), "\(plain)")
        try Self.expectNoSecrets("\(plain)", node, certs)
    }

    @Test("an encrypted key file is refused by name (no terminal prompt), before any connection")
    func encryptedKeyIsRefused() async throws {
        let certs = try await TestCertificates.make()
        defer { certs.remove() }
        let encrypted = certs.directory + "/encrypted.key"
        let (status, output) = try await runProcess("openssl", [
            "pkey", "-in", certs.clientKey, "-aes256", "-passout", "pass:hunter2", "-out", encrypted])
        #expect(status == 0, "\(output)")
        let port = try freeLoopbackPort()  // nothing listens: the key fails first
        let url = "amqps://u:p@localhost:\(port)/x?cacertfile=\(certs.caCertificate)&certfile=\(certs.clientCertificate)&keyfile=\(encrypted)"
        let e = try #require(await amqpError {
            _ = try await AMQPConnection.connect(configuration: AMQPConfiguration(url: url), logger: AMQPTest.logger)
        })
        #expect(e.code == .tlsFailed, "\(e)")
        #expect("\(e)".contains("load certfile and keyfile") && "\(e)".contains("encrypted.key"), "\(e)")
        #expect(!"\(e)".contains("hunter2") && !"\(e)".contains("BEGIN"), "\(e)")
    }
}
