// EnvelopeSigner: signs the envelopes a process publishes and checks the ones a worker receives
// (README "Security"; the canonical form is in docs/signing.md).
//
// The MAC is HMAC-SHA256 over `sluice-envelope-v1\n{key id}\n{body}`, the body being the exact
// message bytes as published (no re-serialisation, so producers in any language sign what they
// send and nothing about JSON canonicalisation can differ). The key id and the hex MAC travel in
// the headers `sluice-key-id` and `sluice-signature`. Several keys can be live at once (rotation):
// the first signs, all verify. A key's bytes never appear in a description, log or error.

import ClientSupport
import Crypto
import Foundation
import RabbitMQ
import SluiceCore

public struct EnvelopeSigner: Sendable {
    public static let keyIDHeader = "sluice-key-id"
    public static let signatureHeader = "sluice-signature"
    /// Binds the MAC to this use and version of the scheme.
    static let context = "sluice-envelope-v1"

    /// A key: its id (`reporting-2026`) and its bytes (at least 32).
    public struct Key: Sendable {
        public var id: String
        let bytes: [UInt8]

        public init(id: String, bytes: [UInt8]) {
            self.id = id
            self.bytes = bytes
        }
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// What a received message proves.
    public enum Verdict: Sendable, Equatable {
        /// No signature header.
        case unsigned
        /// Signed by this key, and the MAC matches the body.
        case verified(keyID: String)
        /// Signed with a key id this process does not hold.
        case unknownKey(String)
        /// Signed with a known key, but the MAC does not match (edited or forged).
        case badSignature(keyID: String)
    }

    /// The live keys, the signing one first.
    public let keys: [Key]

    public init(keys: [Key]) { self.keys = keys }

    /// Parses `SLUICE_SIGNING_KEYS`: `id:hex,id:hex,…` (the first signs). Errors name the
    /// item's position and id, never its key.
    public init(parsing text: String) throws(ParseError) {
        var out: [Key] = []
        for (n, item) in text.split(separator: ",").enumerated() {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, IdentityName.isValid(parts[0]) else {
                throw ParseError(description: "signing key \(n + 1): expected id:hex with an id of \(IdentityName.rule)")
            }
            guard let bytes = Hex.decode(parts[1]), bytes.count >= 32 else {
                throw ParseError(description: "signing key \(n + 1) (\(parts[0])): the key must be at least 64 hex digits (32 bytes)")
            }
            guard !out.contains(where: { $0.id == parts[0] }) else {
                throw ParseError(description: "signing key \(n + 1): the id '\(parts[0])' is used twice")
            }
            out.append(Key(id: parts[0], bytes: bytes))
        }
        guard !out.isEmpty else { throw ParseError(description: "SLUICE_SIGNING_KEYS holds no key") }
        keys = out
    }

    /// The id of the key that signs.
    public var signingKeyID: String { keys[0].id }

    /// The headers that sign `body` with the first key.
    public func headers(for body: [UInt8]) -> AMQPTable {
        let key = keys[0]
        return [Self.keyIDHeader: .string(key.id), Self.signatureHeader: .string(Hex.encode(Self.mac(body, key: key)))]
    }

    /// What `headers` prove about `body`.
    public func verify(body: [UInt8], headers: AMQPTable) -> Verdict {
        guard let presented = headers[Self.signatureHeader]?.stringValue else { return .unsigned }
        guard let keyID = headers[Self.keyIDHeader]?.stringValue else { return .unknownKey("") }
        guard let key = keys.first(where: { $0.id == keyID }) else { return .unknownKey(String(keyID.prefix(64))) }
        guard let mac = Hex.decode(presented),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.input(body, keyID: key.id), using: SymmetricKey(data: key.bytes))
        else { return .badSignature(keyID: keyID) }
        return .verified(keyID: keyID)
    }

    static func input(_ body: [UInt8], keyID: String) -> [UInt8] {
        Array("\(context)\n\(keyID)\n".utf8) + body
    }

    static func mac(_ body: [UInt8], key: Key) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: input(body, keyID: key.id), using: SymmetricKey(data: key.bytes)))
    }
}
