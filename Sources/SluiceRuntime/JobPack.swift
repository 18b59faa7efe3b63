// JobPack: several jobs in one AMQP message (`Producer.enqueue(batch:)`), so the broker's work
// per message is shared by a batch (README "Bulk enqueue"; wire format in docs/signing.md).
//
// A pack is marked by its content type `application/vnd.sluice.pack` (and the header
// `sluice-pack`, its job count); any other message is one envelope, as before, so a worker reads
// both. The body is one line per job, each ended by `\n`:
//
//     {signature} {envelope JSON}\n
//
// where {signature} is `-` for an unsigned job or `{key id}:{hex HMAC}`, the same MAC a single
// message carries in its headers (EnvelopeSigner: over `sluice-envelope-v1\n{key id}\n{envelope}`),
// so each job of a pack is verified alone and a bad one is dead-lettered alone. An envelope
// never holds a raw newline (JSON escapes control characters), and a key id never holds ':' or
// ' ' (IdentityName), so the framing needs no escaping.

import ClientSupport
import RabbitMQ
import SluiceCore

public enum JobPack {
    public static let contentType = "application/vnd.sluice.pack"
    /// The pack's job count (informational; the body's lines are what counts).
    public static let countHeader = "sluice-pack"
    /// At most this many bytes in one pack's body; a batch's jobs beyond it go into another pack.
    public static let maxBytes = 1 << 20

    /// One line of a pack.
    public struct Item: Sendable {
        /// The envelope's bytes (exactly as signed).
        public var body: [UInt8]
        /// `{key id}` and `{hex MAC}`; nil when the line says `-` (unsigned).
        public var signature: (keyID: String, mac: String)?
        /// The line's framing is broken (no space after the signature field): `body` is the whole line.
        public var malformed: Bool
    }

    public static func isPack(_ properties: AMQPProperties) -> Bool {
        properties.contentType == contentType
    }

    /// The line of one envelope: `-` or its signature, a space, the envelope, a newline.
    public static func line(_ body: [UInt8], signer: EnvelopeSigner?) -> [UInt8] {
        var out: [UInt8] = []
        if let signer {
            let key = signer.keys[0]
            out.reserveCapacity(body.count + key.id.utf8.count + 67)
            out.append(contentsOf: key.id.utf8)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: Hex.encode(EnvelopeSigner.mac(body, key: key)).utf8)
        } else {
            out.reserveCapacity(body.count + 3)
            out.append(UInt8(ascii: "-"))
        }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: body)
        out.append(0x0A)
        return out
    }

    /// The lines of a pack body (empty lines skipped).
    public static func split(_ body: [UInt8]) -> [Item] {
        var items: [Item] = []
        for line in body.split(separator: 0x0A, omittingEmptySubsequences: true) {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")) else {
                items.append(Item(body: Array(line), signature: nil, malformed: true))
                continue
            }
            let field = line[line.startIndex..<space]
            let envelope = Array(line[line.index(after: space)...])
            if field.elementsEqual("-".utf8) {
                items.append(Item(body: envelope, signature: nil, malformed: false))
            } else if let colon = field.firstIndex(of: UInt8(ascii: ":")) {
                let keyID = String(decoding: field[field.startIndex..<colon], as: UTF8.self)
                let mac = String(decoding: field[field.index(after: colon)...], as: UTF8.self)
                items.append(Item(body: envelope, signature: (keyID, mac), malformed: false))
            } else {
                items.append(Item(body: Array(line), signature: nil, malformed: true))
            }
        }
        return items
    }
}

extension EnvelopeSigner {
    /// What a pack line's signature proves about its envelope (the same verdicts as a message's headers).
    public func verify(body: [UInt8], signature: (keyID: String, mac: String)?) -> Verdict {
        guard let signature else { return .unsigned }
        return verify(body: body, headers: [Self.keyIDHeader: .string(signature.keyID), Self.signatureHeader: .string(signature.mac)])
    }
}
