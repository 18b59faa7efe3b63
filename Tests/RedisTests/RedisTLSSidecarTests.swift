// TLS to Redis through a sidecar, the documented path while Debian 12's hiredis (0.14) has no
// TLS client: a private redis-server listening only on a TLS port, an stunnel client in front of
// it (RedisTLSSidecar: verifyChain, CAfile, checkHost, the README's configuration), and Sluice's
// Redis client on stunnel's plaintext loopback port. With the wrong CA stunnel refuses the server
// and drops the client: Sluice's error names the address and says the peer closed the
// connection; stunnel's log names the verification failure.

import Foundation
import Redis
import Testing
import TestSupport

@Suite(.serialized) struct RedisTLSSidecarTests {
    @Test("Sluice's Redis client works through a verifying stunnel sidecar; the wrong CA is refused, named in stunnel's log")
    func stunnelSidecar() async throws {
        let certs = try await TestCertificates.make()
        defer { certs.remove() }
        let good = try RedisTLSSidecar(certificates: certs, caFile: certs.caCertificate, name: "good")
        defer { good.stop() }
        let conn = try await RedisConnection.connect(configuration: RedisConfiguration(url: good.url))
        try await conn.send("SET", "sluice:tls", "through stunnel")
        #expect(try await conn.send("GET", "sluice:tls").string == "through stunnel")
        // The server has no plaintext port (`port 0`): the replies came over TLS.
        let port = try await conn.send("CONFIG", "GET", "port").array?.compactMap(\.string)
        #expect(port == ["port", "0"], "\(String(describing: port))")
        await conn.close()

        let bad = try RedisTLSSidecar(certificates: certs, caFile: certs.wrongCACertificate, name: "wrong-ca")
        defer { bad.stop() }
        var refused: RedisError?
        do {
            let c = try await RedisConnection.connect(configuration: RedisConfiguration(url: bad.url))
            do {
                _ = try await c.send("PING")
                Issue.record("PING through a sidecar that refused the server's certificate succeeded")
            } catch {
                refused = error
            }
            await c.close()
        } catch let e as RedisError {
            refused = e
        }
        let e = try #require(refused)
        #expect(e.code == .connectionLost || e.code == .connectionFailed, "\(e)")
        #expect("\(e)".contains("127.0.0.1:\(bad.port)"), "\(e)")
        #expect("\(e)".contains("closed the connection"), "\(e)")
        let key = try String(contentsOfFile: certs.serverKey, encoding: .utf8)
        #expect(!"\(e)".contains("BEGIN") && !"\(e)".contains(String(key.split(separator: "\n")[1])))
        // stunnel's log says why: the chain does not lead to the configured CA.
        let log = bad.stunnelLog()
        #expect(log.contains("certificate verify failed") || log.contains("Verification error"), "\(log)")
    }
}
