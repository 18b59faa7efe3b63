// Tokens and sessions without a server: parsing the configured hashes, scopes, forged and
// expired cookies, the list cursor.

import Foundation
import SluiceCore
@testable import SluiceHTTP
import Testing

@Suite struct AuthTests {
    @Test func tokensAreCheckedAgainstTheirHashes() throws {
        let a = "token-a", b = "token-b"
        let authority = try TokenAuthority(parsing: " read:\(TokenAuthority.hash(a)) , admin:\(TokenAuthority.hash(b)),read:\(TokenAuthority.hash(b))")
        #expect(authority.entries.count == 3)
        #expect(authority.scopes(of: a) == [.read])
        #expect(authority.scopes(of: b) == [.admin, .read])
        #expect(authority.scopes(of: "token-c").isEmpty)
        #expect(authority.scopes(of: "").isEmpty)
        // SHA-256 of "abc" (FIPS 180-2 test vector).
        #expect(TokenAuthority.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(APIScope.admin.grants(.enqueue))
        #expect(!APIScope.read.grants(.enqueue))
        #expect(!APIScope.enqueue.grants(.read))
    }

    @Test func badConfigurationNamesThePositionNotTheHash() {
        for text in ["write:" + String(repeating: "a", count: 64), "read:abc", "read", "read:" + String(repeating: "z", count: 64)] {
            #expect(throws: TokenAuthority.ParseError.self) { try TokenAuthority(parsing: text) }
        }
        do {
            _ = try TokenAuthority(parsing: "read:\(String(repeating: "a", count: 64)),admin:deadbeef")
            Issue.record("accepted a short hash")
        } catch {
            #expect(error.description.contains("token 2"))
            #expect(!error.description.contains("deadbeef"))
        }
        #expect(TokenAuthority.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!TokenAuthority.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!TokenAuthority.constantTimeEqual([1, 2], [1, 2, 3]))
    }

    @Test func sessionCookiesAreSignedAndExpire() {
        let codec = SessionCodec(key: Array(repeating: 7, count: 32), lifetime: .seconds(60))
        let now = Date()
        let (session, cookie) = codec.issue(scopes: [.read, .admin], now: now)
        #expect(codec.decode(cookie, now: now) == session)
        #expect(codec.decode(cookie, now: now.addingTimeInterval(61)) == nil)
        // Another key, a flipped byte, a changed scope list: refused.
        #expect(SessionCodec(key: Array(repeating: 8, count: 32)).decode(cookie, now: now) == nil)
        var chars = Array(cookie)
        chars[3] = chars[3] == "A" ? "B" : "A"
        #expect(codec.decode(String(chars), now: now) == nil)
        let parts = cookie.split(separator: ".")
        let forgedPayload = Base64URL.encode(Array("v1|admin|\(Int(now.timeIntervalSince1970) + 999)|\(session.nonce)".utf8))
        #expect(codec.decode(forgedPayload + "." + parts[1], now: now) == nil)
        #expect(codec.decode("", now: now) == nil)
        #expect(codec.checkCSRF(codec.csrfToken(for: session), for: session))
        #expect(!codec.checkCSRF("x", for: session))
        #expect(!codec.checkCSRF(nil, for: session))
        let (other, _) = codec.issue(scopes: [.read], now: now)
        #expect(!codec.checkCSRF(codec.csrfToken(for: other), for: session))
    }

    @Test func cursorsRoundTripAndRejectNoise() throws {
        let id = JobID.make()
        #expect(JobCursor.decode(JobCursor.encode(id)) == id)
        #expect(JobCursor.decode("nonsense") == nil)
        #expect(JobCursor.decode(Base64URL.encode(Array("j1:42".utf8))) == nil)
        #expect(JobCursor.decode(id.description) == nil)
    }
}
