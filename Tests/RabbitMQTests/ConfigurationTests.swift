import ClientSupport
import RabbitMQ
import Testing

@Suite struct ConfigurationTests {
    @Test func parsesEveryPart() throws {
        let c = try AMQPConfiguration(
            url: "amqp://jobs:p%40ss%3Aword@rabbit.internal:5673/sluice?heartbeat=10&connection_timeout=2500&connection_name=api")
        #expect(c.host == "rabbit.internal")
        #expect(c.port == 5673)
        #expect(c.user == "jobs")
        #expect(c.password == "p@ss:word")
        #expect(c.virtualHost == "sluice")
        #expect(c.heartbeat == .seconds(10))
        #expect(c.connectTimeout == .milliseconds(2500))
        #expect(c.connectionName == "api")
        #expect(c.endpoint == "rabbit.internal:5673")
        #expect(!c.description.contains("p@ss"))
        #expect(!"\(c)".contains("word"))
    }

    @Test func defaults() throws {
        let c = try AMQPConfiguration(url: "amqp://localhost")
        #expect(c.port == 5672)
        #expect(c.user == "guest" && c.password == "guest")
        #expect(c.virtualHost == "/")
        #expect(c.heartbeat == .seconds(30))
        #expect(c.connectTimeout == .seconds(5))
        #expect(c.connectionName == nil)
    }

    @Test func amqpsTakesRabbitMQsTLSParameters() throws {
        let c = try AMQPConfiguration(
            url: "amqps://jobs:secret@rabbit.internal/sluice?cacertfile=/etc/ssl/ca.pem&certfile=/etc/ssl/c.pem&keyfile=/etc/ssl/c.key&heartbeat=10")
        #expect(c.port == 5671)
        #expect(c.heartbeat == .seconds(10))
        #expect(c.tls == AMQPTLSConfiguration(caCertificateFile: "/etc/ssl/ca.pem", certificateFile: "/etc/ssl/c.pem",
                                              keyFile: "/etc/ssl/c.key", verifyPeer: true, verifyHostname: true))
        #expect(c.description == "amqps://jobs:***@rabbit.internal:5671/sluice")
        let none = try AMQPConfiguration(url: "amqps://h:5999/x?verify=verify_none")
        #expect(none.tls?.verifyPeer == false && none.tls?.verifyHostname == false && none.port == 5999)
        #expect(try AMQPConfiguration(url: "amqp://h/x").tls == nil)
        let cluster = try AMQPConfiguration(url: "amqps://u:p@a:5671,b:5672/x?cacertfile=/ca.pem")
        #expect(cluster.nodes.count == 2 && cluster.tls?.caCertificateFile == "/ca.pem")
    }

    @Test(arguments: [
        ("amqp://h/", "/"), ("amqp://h/%2f", "/"), ("amqp://h/%2F", "/"), ("amqp://h", "/"),
        ("amqp://h/jobs%2Fprod", "jobs/prod"), ("amqp://h/caf%C3%A9", "café"),
    ])
    func virtualHostIsTheDecodedPath(url: String, vhost: String) throws {
        #expect(try AMQPConfiguration(url: url).virtualHost == vhost)
    }

    @Test(arguments: [
        ("http://h/x", "scheme"),
        ("amqps://h/x?verify=yes", "query parameter 'verify'"),
        ("amqp://h/x?cacertfile=/ca.pem", "query parameter 'cacertfile'"),
        ("amqps://h/x?cacertfile=ca.pem", "query parameter 'cacertfile'"),
        ("amqps://h/x?certfile=/c.pem", "query parameter 'keyfile'"),
        ("amqp://h:99999/x", "port"),
        ("amqp://h:abc/x", "port"),
        ("amqp://h/x?heartbeat=soon", "query parameter 'heartbeat'"),
        ("amqp://h/x?connection_timeout=-1", "query parameter 'connection_timeout'"),
        ("amqp://h/x?hearbeat=1", "query parameter 'hearbeat'"),
        ("amqp://h/%zz", "path"),
        ("amqp://u:%zz@h/x", "password"),
    ])
    func badURLNamesThePart(url: String, part: String) {
        #expect {
            _ = try AMQPConfiguration(url: url)
        } throws: { error in
            guard let e = error as? URLParseError else { return false }
            return e.part == part
        }
    }

    @Test func parseErrorNeverShowsThePassword() {
        do {
            _ = try AMQPConfiguration(url: "amqp://u:topsecret@h:0/x")
            Issue.record("expected a parse error")
        } catch {
            #expect(!"\(error)".contains("topsecret"))
        }
    }

    @Test func clusterNodesInTheAuthorityOrAsSeveralURLs() throws {
        let a = try AMQPConfiguration(url: "amqp://u:secret@127.0.0.1:5691,127.0.0.1:5692,h3/sluice?heartbeat=5")
        #expect(a.nodes == [.init(host: "127.0.0.1", port: 5691), .init(host: "127.0.0.1", port: 5692), .init(host: "h3", port: 5672)])
        #expect(a.heartbeat == .seconds(5) && a.virtualHost == "sluice")
        #expect(a.description == "amqp://u:***@127.0.0.1:5691,127.0.0.1:5692,h3:5672/sluice")
        let b = try AMQPConfiguration(url: "amqp://u:secret@127.0.0.1:5691/sluice,amqp://u:secret@127.0.0.1:5692/sluice")
        #expect(b.nodes.map(\.port) == [5691, 5692])
        // One node: the configuration pointed at it has no others.
        #expect(a.node(a.nodes[2]).nodes == [.init(host: "h3", port: 5672)])
        #expect(throws: URLParseError.self) {
            try AMQPConfiguration(url: "amqp://u:secret@h1/sluice,amqp://other:secret@h2/sluice")
        }
        #expect(try AMQPConfiguration(url: "amqp://h1").otherNodes.isEmpty)
    }
}
