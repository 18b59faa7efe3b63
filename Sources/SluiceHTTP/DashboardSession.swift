// DashboardSession: the dashboard's login, kept in a signed cookie instead of server memory, so
// any replica of `sluice api` sharing the key accepts it.
//
// The cookie holds the token's name (who the ledger says enqueued what the dashboard enqueues),
// the scopes, the expiry and a random nonce, signed with HMAC-SHA256; never the
// token. Actions the dashboard posts with the cookie must also carry the CSRF token (an HMAC of
// the nonce, shown in the page), which another site cannot read; SameSite=Strict is a second wall.

import Crypto
import Foundation

public struct DashboardSession: Sendable, Equatable {
    /// The name of the token that signed in (`TokenAuthority.Entry.name`).
    public var name: String
    public var scopes: Set<APIScope>
    public var expires: Date
    public var nonce: String

    public static let cookieName = "sluice_session"
    public static let csrfHeader = "X-CSRF-Token"
}

/// Signs and checks session cookies and CSRF tokens with one key.
public struct SessionCodec: Sendable {
    /// The key's bytes (SymmetricKey is not Sendable; one is made per use).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    public let lifetime: Duration

    /// `key` of at least 32 bytes; nil makes a random one (sessions then end when the process does).
    public init(key: [UInt8]?, lifetime: Duration = .seconds(12 * 3600)) {
        self.keyBytes = key ?? (0..<32).map { _ in UInt8.random(in: 0...255) }
        self.lifetime = lifetime
    }

    public func issue(name: String = "dashboard", scopes: Set<APIScope>, now: Date = Date()) -> (session: DashboardSession, cookie: String) {
        let nonce = TokenAuthority.generate()
        let session = DashboardSession(name: name, scopes: scopes, expires: Date(timeIntervalSince1970: (now.timeIntervalSince1970 + Double(lifetime.components.seconds)).rounded(.down)), nonce: nonce)
        return (session, encode(session))
    }

    func encode(_ s: DashboardSession) -> String {
        let payload = "v2|\(s.name)|\(s.scopes.sorted().map(\.rawValue).joined(separator: ","))|\(Int64(s.expires.timeIntervalSince1970))|\(s.nonce)"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: key)
        return Base64URL.encode(Array(payload.utf8)) + "." + Base64URL.encode(Array(mac))
    }

    /// The session in `cookie`, or nil when it is malformed, forged or expired.
    public func decode(_ cookie: String, now: Date = Date()) -> DashboardSession? {
        let parts = cookie.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decode(String(parts[0])), let mac = Base64URL.decode(String(parts[1])),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key) else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        // v1 cookies (no name) are refused: their holders sign in again once.
        guard fields.count == 5, fields[0] == "v2", let expiry = Int64(fields[3]) else { return nil }
        let expires = Date(timeIntervalSince1970: Double(expiry))
        guard expires > now else { return nil }
        let scopes = Set(fields[2].split(separator: ",").compactMap { APIScope(rawValue: String($0)) })
        return DashboardSession(name: fields[1], scopes: scopes, expires: expires, nonce: fields[4])
    }

    /// The CSRF token of a session.
    public func csrfToken(for session: DashboardSession) -> String {
        Base64URL.encode(Array(HMAC<SHA256>.authenticationCode(for: Array("csrf|\(session.nonce)".utf8), using: key)))
    }

    public func checkCSRF(_ presented: String?, for session: DashboardSession) -> Bool {
        guard let presented else { return false }
        return TokenAuthority.constantTimeEqual(Array(presented.utf8), Array(csrfToken(for: session).utf8))
    }
}
