// Who enqueued a job, through each source the runtime owns: a kind's follow-up (`job:{parent}`),
// the scheduler (`scheduler:{schedule}`), an envelope published by hand with only the AMQP
// user_id RabbitMQ validated (`amqp:{user}`), and the producer's own `enqueuedBy` (what the API
// and the CLI pass): each shows in the ledger row, the envelope it rebuilds and the Redis
// status hash. The API's token names are in SluiceHTTPTests, the CLI's user and signing keys
// in SluiceJobsTests (SignedEnvelopeTests).

import Foundation
import RabbitMQ
import SluiceCatalog
import SluiceCore
@testable import SluiceRuntime
import TestSupport
import Testing

@Suite struct ProducerIdentityTests {
    func status(_ h: Harness, _ id: JobID) async throws -> String? {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let v = try await h.results.read(id)?[JobStatusField.enqueuedBy] { return v }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    @Test("enqueued_by from the producer, a follow-up, the scheduler and a hand-published user_id: ledger, envelope and Redis agree")
    func everySource() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            try await h.withWorker(worker) {
                // The producer's caller says who (the API passes api:{token}, the CLI cli:{user}).
                let direct = try await h.producer.enqueue(JobRequest(kind: .noop, enqueuedBy: "api:reporting"))
                // A follow-up is its parent's, whatever the kind's request said.
                let parent = try await h.producer.enqueue(JobRequest(
                    kind: FollowUpJob.kind, args: ["output": "out:who", "follow_up": "sys.noop"], enqueuedBy: "cli:alice"))
                let done = try await h.waitFinal([direct.id, parent.id])
                #expect(done[direct.id]?.enqueuedBy == "api:reporting")
                #expect(done[direct.id]?.envelope().enqueuedBy == "api:reporting")
                #expect(try await status(h, direct.id) == "api:reporting")
                #expect(done[parent.id]?.enqueuedBy == "cli:alice")
                let childID = try #require(done[parent.id]?.result?["follow_up"]?.stringValue.flatMap(JobID.init))
                let child = try await h.waitFinal([childID])[childID]
                #expect(child?.enqueuedBy == "job:\(parent.id)")
                #expect(try await status(h, childID) == "job:\(parent.id)")

                // The scheduler: scheduler:{schedule name}.
                let clock = TestClock(Date())
                let s = try h.scheduler([try scheduled("nightly-who", .every(.seconds(3600)))], name: "who", clock: clock)
                let fire = try await s.fireNow("nightly-who")
                #expect(try await h.ledger.job(fire.jobID)?.enqueuedBy == "scheduler:nightly-who")
                #expect(try await status(h, fire.jobID) == "scheduler:nightly-who")

                // Published straight to the broker with no identity in the envelope: the worker
                // records the user_id RabbitMQ validated against the connection's user.
                let hand = Envelope(kind: .noop)
                try await h.publisher.publish(h.publisher.message(for: hand, workloadClass: "analytics", tier: nil))
                let row = try await h.waitFinal([hand.id])[hand.id]
                #expect(row?.state == .completed)
                #expect(row?.enqueuedBy == "amqp:\(h.amqp.user)")
                #expect(try await status(h, hand.id) == "amqp:\(h.amqp.user)")
                #expect(try await h.ledger.job(fire.jobID)?.state == .completed)
            }
        }
    }

    @Test("RabbitMQ refuses a user_id that is not the connection's user, so a worker can trust it")
    func forgedUserIDIsRefusedByTheBroker() async throws {
        try await withHarness { h in
            var m = h.publisher.message(for: Envelope(kind: .noop), workloadClass: "analytics", tier: nil)
            m.message.properties.userId = "someone-else"
            await #expect(throws: (any Error).self) { try await h.publisher.publish(m) }
        }
    }
}

@Suite struct EnvelopeSignerTests {
    static let key = String(repeating: "0f", count: 32)

    @Test func parsesRotationKeysAndNeverEchoesOne() throws {
        let s = try EnvelopeSigner(parsing: " new:\(Self.key) , old:\(String(repeating: "ab", count: 40))")
        #expect(s.keys.map(\.id) == ["new", "old"])
        #expect(s.signingKeyID == "new")
        for bad in ["", "new", "new:abc", "new:\(String(repeating: "zz", count: 32))", "a b:\(Self.key)", "k:\(Self.key),k:\(Self.key)"] {
            do {
                _ = try EnvelopeSigner(parsing: bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(!error.description.contains(Self.key) && !error.description.contains("zzzz"))
            }
        }
    }

    @Test func verifiesWhatItSignedAndRefusesEditsForgeriesAndUnknownKeys() throws {
        let live = try EnvelopeSigner(parsing: "new:\(Self.key),old:\(String(repeating: "1e", count: 32))")
        let old = try EnvelopeSigner(parsing: "old:\(String(repeating: "1e", count: 32))")
        let body = Envelope(kind: .noop, args: ["a": 1]).encoded()
        #expect(live.verify(body: body, headers: live.headers(for: body)) == .verified(keyID: "new"))
        #expect(live.verify(body: body, headers: old.headers(for: body)) == .verified(keyID: "old"))
        #expect(live.verify(body: body, headers: [:]) == .unsigned)
        var edited = body
        edited[edited.count - 2] ^= 1
        #expect(live.verify(body: edited, headers: live.headers(for: body)) == .badSignature(keyID: "new"))
        // The key id is inside the MAC: relabelling a signature with another known id fails.
        var relabelled = old.headers(for: body)
        relabelled[EnvelopeSigner.keyIDHeader] = .string("new")
        #expect(live.verify(body: body, headers: relabelled) == .badSignature(keyID: "new"))
        let ghost = try EnvelopeSigner(parsing: "ghost:\(Self.key)")
        #expect(live.verify(body: body, headers: ghost.headers(for: body)) == .unknownKey("ghost"))
        // The HMAC of the documented input (docs/signing.md), computed independently by openssl:
        // printf 'sluice-envelope-v1\nk\n{}' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0f0f…
        let k = try EnvelopeSigner(parsing: "k:\(Self.key)")
        #expect(k.headers(for: Array("{}".utf8))[EnvelopeSigner.signatureHeader]?.stringValue == Self.opensslMAC)
    }

    static let opensslMAC = "797fb2f1a7d4b588c2b711256f5237743f3dee4dd77546771f0d398c4140693f"

    @Test func admissionDecidesByVerdictGrantAndRequirement() throws {
        var catalog = Catalog()
        catalog.producers = [ProducerGrant(keyID: "reporting", kinds: ["analytics.*", "sys.noop"], classes: [.analytics])]
        let vacuum = Envelope(kind: "maintenance.vacuum", args: ["table": "t"])
        let noop = Envelope(kind: .noop, enqueuedBy: "api:ops")
        func decide(_ v: EnvelopeSigner.Verdict, _ e: Envelope, _ c: String = "maintenance", user: String? = "svc", required: Bool) -> Worker.Admission {
            Worker.admission(v, e, className: c, userID: user, requireSigned: required, catalog: catalog)
        }
        #expect(decide(.unsigned, vacuum, required: true) == .refuse(reason: "unsigned", error: "this worker runs only signed envelopes (SLUICE_REQUIRE_SIGNED=1)"))
        #expect(decide(.unsigned, vacuum, required: false) == .admit(enqueuedBy: "amqp:svc"))
        #expect(decide(.unsigned, noop, required: false) == .admit(enqueuedBy: "api:ops"))
        if case .refuse(let reason, _) = decide(.unknownKey("ghost"), vacuum, required: true) { #expect(reason == "bad_signature") } else { Issue.record("admitted") }
        #expect(decide(.unknownKey("ghost"), vacuum, user: nil, required: false) == .admit(enqueuedBy: nil))
        if case .refuse(let reason, _) = decide(.badSignature(keyID: "new"), vacuum, required: false) { #expect(reason == "bad_signature") } else { Issue.record("admitted") }
        if case .refuse(let reason, let error) = decide(.verified(keyID: "reporting"), vacuum, required: true) {
            #expect(reason == "not_allowed" && error.contains("maintenance.vacuum"))
        } else { Issue.record("admitted") }
        // Allowed kind, but on the maintenance queue: the class is the queue it arrived on.
        if case .refuse(let reason, _) = decide(.verified(keyID: "reporting"), noop, "maintenance", required: true) { #expect(reason == "not_allowed") } else { Issue.record("admitted") }
        #expect(decide(.verified(keyID: "reporting"), noop, "analytics", required: true) == .admit(enqueuedBy: "api:ops"))
        #expect(decide(.verified(keyID: "ops"), vacuum, required: true) == .admit(enqueuedBy: "key:ops"))
    }
}
