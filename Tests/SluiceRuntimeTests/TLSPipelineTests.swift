// A whole job over encrypted connections: the producer, the worker and the dead-letter checks
// talk to a private RabbitMQ node whose only listener is TLS (amqps:// with cacertfile, chain and
// host name verified), and the status writes go to a redis-server whose only listener is TLS,
// through a verifying stunnel sidecar (the README's Redis configuration). The job completes in
// the ledger and its status hash is in that Redis.

import Foundation
import Testing
import TestSupport
@testable import SluiceRuntime

@Suite(.serialized) struct TLSPipelineTests {
    @Test("a job enqueued and run over amqps, its status written through the Redis TLS sidecar")
    func jobOverTLS() async throws {
        let certs = try await TestCertificates.make()
        defer { certs.remove() }
        let node = try await PrivateRabbitMQNode(certificates: certs)
        defer { node.stop() }
        let redis = try RedisTLSSidecar(certificates: certs, caFile: certs.caCertificate)
        defer { redis.stop() }
        let amqps = "amqps://\(node.user):\(node.password)@localhost:\(node.port)/\(node.virtualHost)?cacertfile=\(certs.caCertificate)"
        try await withHarness(amqpURL: amqps, redisURL: redis.url) { h in
            #expect(h.amqp.tls?.verifyPeer == true)
            let worker = try h.makeWorker(h.workerConfiguration(concurrency: 2))
            let id = try await h.withWorker(worker) {
                let r = try await h.producer.enqueue(JobRequest(kind: .noop, args: ["n": 7]))
                _ = try await h.waitFinal([r.id])
                return r.id
            }
            let job = try #require(try await h.waitFinal([id], seconds: 1)[id])
            #expect(job.state == .completed)
            #expect(job.result == ["n": 7])
            _ = await h.results.flush()
            let status = try await h.results.read(id)
            #expect(status?["state"] == "completed", "\(String(describing: status))")
        }
    }
}
