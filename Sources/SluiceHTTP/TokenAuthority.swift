// TokenAuthority: checks bearer tokens against SHA-256 hashes configured with scopes.
//
// Only hashes are held, so a leaked configuration does not leak a token. A presented token is
// hashed once and compared with every configured hash in constant time (no early exit on the
// first differing byte, no early exit on the first match), so timing says nothing about which
// bytes or which entry matched. Nothing here logs a token or a hash.

import Crypto
import Foundation

public struct TokenAuthority: Sendable {
    public struct Entry: Sendable, Equatable {
        public var scope: APIScope
        /// SHA-256 of the token, 32 bytes.
        public var digest: [UInt8]

        public init(scope: APIScope, digest: [UInt8]) {
            self.scope = scope
            self.digest = digest
        }
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public let entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// Parses `scope:sha256hex,scope:sha256hex,…` (whitespace around items ignored). The error
    /// names the item's position, never its hash.
    public init(parsing text: String) throws(ParseError) {
        var out: [Entry] = []
        for (n, item) in text.split(separator: ",").enumerated() {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let scope = APIScope(rawValue: parts[0]) else {
                throw ParseError(description: "token \(n + 1): expected scope:sha256hex with scope read, enqueue or admin")
            }
            guard let digest = Self.hexBytes(parts[1]), digest.count == 32 else {
                throw ParseError(description: "token \(n + 1) (\(scope.rawValue)): the hash is not 64 hex digits")
            }
            out.append(Entry(scope: scope, digest: digest))
        }
        entries = out
    }

    /// The scopes `token` holds (empty when it matches no entry). Every entry is compared.
    public func scopes(of token: String) -> Set<APIScope> {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        var scopes: Set<APIScope> = []
        for entry in entries where Self.constantTimeEqual(entry.digest, digest) {
            scopes.insert(entry.scope)
        }
        return scopes
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

    public static func hexBytes(_ text: String) -> [UInt8]? {
        let chars = Array(text.lowercased().utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let h = nibble(chars[i]), let l = nibble(chars[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
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
