// The API's side of producer identity and its loose ends, against the real servers: a job
// enqueued with a named token shows `enqueued_by` = api:{name} in the job view and its Redis
// status; an import names its token too and takes an Idempotency-Key; a query string built
// by Python's urlencode (`+` for spaces) reads the cache; an empty cursor is a 400. Token
// names and the session cookie's name are checked without servers at the end.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
@testable import SluiceHTTP
import SluiceJobs
import TestSupport
import Testing

@Suite(.serialized) struct IdentityAPITests {
    @Test func jobsAndImportsRecordTheTokenName() async throws {
        try await withAPI { api in
            let one = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "delay_s": 600], token: APIFixture.enqueueToken)
            #expect(one.status == 201)
            let id = try #require(one.json["id"]?.stringValue)
            let job = try await api.client.json("GET", "/v1/jobs/\(id)", token: APIFixture.readToken)
            expectDocumented("get", "/v1/jobs/{id}", job)
            #expect(job.json["enqueued_by"]?.stringValue == "api:enqueuer")
            #expect(job.json["status"]?["enqueued_by"]?.stringValue == "api:enqueuer")
            let listed = try await api.client.json("GET", "/v1/jobs?limit=1", token: APIFixture.adminToken)
            #expect(listed.json["jobs"]?.arrayItems?.first?["enqueued_by"]?.stringValue == "api:enqueuer")

            // An import: the same name; a retry with the same Idempotency-Key stores and enqueues nothing.
            let auth = ("Authorization", "Bearer \(APIFixture.enqueueToken)")
            let csv = Array("email,name\na@example.test,A\n".utf8)
            let first = try await api.client.request("POST", "/v1/imports?spec=contacts&file_name=a.csv", headers: [auth, ("Idempotency-Key", "upload-1")], body: csv)
            #expect(first.status == 202, "\(first.json)")
            expectDocumented("post", "/v1/imports", first)
            let again = try await api.client.request("POST", "/v1/imports?spec=contacts&file_name=a.csv", headers: [auth, ("Idempotency-Key", "upload-1")], body: csv)
            #expect(again.status == 202)
            #expect(again.header("idempotent-replayed") == "true")
            #expect(again.json["id"] == first.json["id"] && again.json["upload"] == first.json["upload"])
            let other = try await api.client.request("POST", "/v1/imports?spec=contacts&file_name=b.csv", headers: [auth, ("Idempotency-Key", "upload-1")], body: csv)
            #expect(other.status == 422)
            #expect(other.errorCode == "idempotency_mismatch")
            expectDocumented("post", "/v1/imports", other)
            let imports = try await api.client.json("GET", "/v1/jobs?kind=import.file", token: APIFixture.readToken)
            #expect(imports.json["jobs"]?.arrayItems?.count == 1)
            let importID = try #require(first.json["id"]?.stringValue)
            let importJob = try await api.client.json("GET", "/v1/jobs/\(importID)", token: APIFixture.readToken)
            #expect(importJob.json["enqueued_by"]?.stringValue == "api:enqueuer")
        }
    }

    @Test func formEncodedQueriesAndMalformedCursors() async throws {
        try await withAPI { api in
            let query = try #require(api.catalog.query(named: "top_campaigns"))
            let normalised = try QueryParameters.normalise(["workspace_id": 7, "day": "2026-12-01"], for: query)
            let cache = QueryCache(redis: api.redis, prefix: api.redisPrefix)
            let now = Date()
            try await cache.write(CachedOutput(query: "top_campaigns", params: normalised.json, version: 1, computedAt: now,
                                               staleAfter: now.addingTimeInterval(300), expiresAt: now.addingTimeInterval(600),
                                               rows: [["id": 1]], rowCount: 1, durationMS: 2, jobID: "j"),
                                  key: cache.key(query: "top_campaigns", params: normalised), ttl: .seconds(600))
            // urllib.parse.urlencode({"params": json.dumps({"workspace_id": 7, "day": "2026-12-01"})})
            let python = "params=%7B%22workspace_id%22%3A+7%2C+%22day%22%3A+%222026-12-01%22%7D"
            let hit = try await api.client.json("GET", "/v1/cache/top_campaigns?\(python)", token: APIFixture.readToken)
            #expect(hit.status == 200, "\(hit.json)")
            #expect(hit.json["cache"]?["rows"] == .array([["id": 1]]))
            for bad in ["/v1/jobs?cursor=", "/v1/jobs?cursor=%21%21", "/v1/jobs?cursor=ajE6"] {
                let r = try await api.client.json("GET", bad, token: APIFixture.readToken)
                #expect(r.status == 400, "\(bad)")
                #expect(r.errorField == "cursor")
                expectDocumented("get", "/v1/jobs", r)
            }
        }
    }

    @Test func tokenNamesOldAndNewForms() throws {
        let (a, b) = ("token-a", "token-b")
        let authority = try TokenAuthority(parsing: "reporting:enqueue:\(TokenAuthority.hash(a)), admin:\(TokenAuthority.hash(b))")
        #expect(authority.holder(of: a) == .init(name: "reporting", scopes: [.enqueue]))
        // The old unnamed form is named by its position.
        #expect(authority.holder(of: b) == .init(name: "token2", scopes: [.admin]))
        #expect(authority.holder(of: b)?.enqueuedBy == "api:token2")
        #expect(authority.holder(of: "nope") == nil)
        for bad in ["re porting:read:\(TokenAuthority.hash(a))", "x:read:\(TokenAuthority.hash(a)),x:admin:\(TokenAuthority.hash(b))",
                    "a:b:read:\(TokenAuthority.hash(a))", ":read:\(TokenAuthority.hash(a))"] {
            do {
                _ = try TokenAuthority(parsing: bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(!error.description.contains(TokenAuthority.hash(a)))
            }
        }
        // The dashboard session carries the name, so its enqueues are the token's too.
        let codec = SessionCodec(key: Array(repeating: 7, count: 32))
        let (_, cookie) = codec.issue(name: "reporting", scopes: [.enqueue])
        #expect(codec.decode(cookie)?.name == "reporting")
    }
}
