// TokenAuthority: checks bearer tokens against SHA-256 hashes configured with names and scopes.
//
// A token's name is who the ledger says enqueued a job (`enqueued_by` = `api:{name}`). The
// older unnamed form `scope:sha256hex` still parses; its entry is named `token{n}`, n its
// 1-based position in the list (so renumbering the list renames it: name your tokens).
//
// Only hashes are held, so a leaked configuration does not leak a token. A presented token is
// hashed once and compared with every configured hash in constant time (no early exit on the
// first differing byte, no early exit on the first match), so timing says nothing about which
// bytes or which entry matched. Nothing here logs a token or a hash.

import ClientSupport
import Crypto
import Foundation
import SluiceCore

public struct TokenAuthority: Sendable {
    public struct Entry: Sendable, Equatable {
        /// Who holds the token (`reporting`, `ops-alice`): letters, digits, `.`, `_`, `-`.
        public var name: String
        public var scope: APIScope
        /// SHA-256 of the token, 32 bytes.
        public var digest: [UInt8]

        public init(name: String, scope: APIScope, digest: [UInt8]) {
            self.name = name
            self.scope = scope
            self.digest = digest
        }
    }

    /// Who presented a valid token: the name of its first matching entry, and every scope the
    /// token holds.
    public struct Holder: Sendable, Equatable {
        public var name: String
        public var scopes: Set<APIScope>

        /// The identity the ledger records for jobs this holder enqueues.
        public var enqueuedBy: String { "api:\(name)" }
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Parses `name:scope:sha256hex,…`, or the older `scope:sha256hex` (named `token{n}`);
    /// whitespace around items is ignored. The error names the item's position, never its hash.
    public init(parsing text: String) throws(ParseError) {
        var out: [Entry] = []
        for (n, item) in text.split(separator: ",").enumerated() {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let expected = "expected name:scope:sha256hex (or scope:sha256hex) with scope read, enqueue or admin"
            guard (2...3).contains(parts.count), let scope = APIScope(rawValue: parts[parts.count - 2]) else {
                throw ParseError(description: "token \(n + 1): \(expected)")
            }
            let name = parts.count == 3 ? parts[0] : "token\(n + 1)"
            guard IdentityName.isValid(name) else {
                throw ParseError(description: "token \(n + 1): the name must be \(IdentityName.rule)")
            }
            guard !out.contains(where: { $0.name == name }) else {
                throw ParseError(description: "token \(n + 1): the name '\(name)' is used twice")
            }
            guard let digest = Self.hexBytes(parts[parts.count - 1]), digest.count == 32 else {
                throw ParseError(description: "token \(n + 1) (\(name), \(scope.rawValue)): the hash is not 64 hex digits")
            }
            out.append(Entry(name: name, scope: scope, digest: digest))
        }
        entries = out
    }

    /// The scopes `token` holds (empty when it matches no entry). Every entry is compared.
    public func scopes(of token: String) -> Set<APIScope> {
        holder(of: token)?.scopes ?? []
    }

    /// Who holds `token`, nil when it matches no entry. Every entry is compared.
    public func holder(of token: String) -> Holder? {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        var scopes: Set<APIScope> = []
        var name: String?
        for entry in entries where Self.constantTimeEqual(entry.digest, digest) {
            scopes.insert(entry.scope)
            if name == nil { name = entry.name }
        }
        return name.map { Holder(name: $0, scopes: scopes) }
    }

    /// SHA-256 of `token` in lowercase hex: the form the configuration holds.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A new random token (32 bytes, base64url without padding).
    public static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        return Base64URL.encode(bytes)
    }

    /// Equal length and equal bytes, in time that depends only on the length.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    public static func hexBytes(_ text: String) -> [UInt8]? { Hex.decode(text) }
}

/// base64url without padding (cookies, tokens).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}
