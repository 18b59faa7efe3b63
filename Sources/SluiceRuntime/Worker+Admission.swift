// Worker+Admission: who may enqueue, checked before a delivery becomes a job (README
// "Security"). A pure decision over the delivery and the decoded envelope, run before the
// arguments are validated and long before the claim, so a refused message touches neither the
// ledger nor a target database: it is dead-lettered with its reason and acked.
//
//   - With `requireSigned`: no signature -> `unsigned`; an unknown key id or a MAC that does not
//     match the body -> `bad_signature`.
//   - A verified key the catalog's `producers:` limits, asking for a kind, class (the queue it
//     arrived on) or target outside its grant -> `not_allowed`.
//   - Identity for a row the claim creates (an envelope published by hand): a signed envelope's
//     `enqueued_by` (its key vouches for it) or `key:{id}`; an unsigned one's claim, else the
//     broker-validated `user_id` as `amqp:{user}`. Unsigned claims are only claims: require
//     signatures where that matters.

import RabbitMQ
import SluiceCatalog
import SluiceCore

extension Worker {
    enum Admission: Equatable {
        /// Run it; `enqueuedBy` is the identity a row created at claim records.
        case admit(enqueuedBy: String?)
        /// Dead-letter it with this reason and error.
        case refuse(reason: String, error: String)
    }

    /// `catalog` is read only for a verified key: reading `registry.catalog` for every job copied
    /// the whole catalog (seen in a worker profile).
    static func admission(_ verdict: EnvelopeSigner.Verdict, _ envelope: Envelope, className: String, userID: String?,
                          requireSigned: Bool, catalog: @autoclosure () -> Catalog) -> Admission {
        let unverifiedIdentity = envelope.enqueuedBy ?? userID.map { "amqp:\($0)" }
        switch verdict {
        case .verified(let keyID):
            if let refusal = catalog().producerRefusal(keyID: keyID, kind: envelope.kind, workloadClass: className, target: envelope.target) {
                return .refuse(reason: DeadLetterReason.notAllowed, error: refusal)
            }
            return .admit(enqueuedBy: envelope.enqueuedBy ?? "key:\(keyID)")
        case .unsigned:
            guard !requireSigned else {
                return .refuse(reason: DeadLetterReason.unsigned, error: "this worker runs only signed envelopes (SLUICE_REQUIRE_SIGNED=1)")
            }
            return .admit(enqueuedBy: unverifiedIdentity)
        case .unknownKey(let keyID):
            guard !requireSigned else {
                return .refuse(reason: DeadLetterReason.badSignature,
                               error: keyID.isEmpty ? "signed without a key id" : "unknown signing key id '\(keyID)'")
            }
            return .admit(enqueuedBy: unverifiedIdentity)
        case .badSignature(let keyID):
            // A known key whose MAC does not match is a forgery or an edited body, signatures
            // required or not.
            return .refuse(reason: DeadLetterReason.badSignature, error: "the signature of key '\(keyID)' does not match the body")
        }
    }
}

/// Dead-letter reasons of the admission step (the `x-sluice-reason` header).
enum DeadLetterReason {
    static let unsigned = "unsigned"
    static let badSignature = "bad_signature"
    static let notAllowed = EnvelopeError.Code.notAllowed.rawValue
}
