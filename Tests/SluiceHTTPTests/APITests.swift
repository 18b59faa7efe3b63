// HTTP tests of `sluice api` against the real Postgres, RabbitMQ and Redis: every route, the
// error cases (malformed JSON, wrong types, unknown kinds, oversize bodies, bad cursors, unknown
// ids, down servers) and the auth rules. Every answer is checked against the OpenAPI document.

import Foundation
import Redis
import SluiceCore
import SluiceCatalog
import SluiceHTTP
import SluiceJobs
import SluiceRuntime
import TestSupport
import Testing

private let read = APIFixture.readToken
private let enqueue = APIFixture.enqueueToken
private let admin = APIFixture.adminToken

@Suite(.serialized) struct APITests {
    @Test func probesAndUnknownRoutes() async throws {
        try await withAPI { api in
            let h = try await api.client.json("GET", "/healthz")
            #expect(h.status == 200)
            expectDocumented("get", "/healthz", h)
            let r = try await api.client.json("GET", "/readyz")
            #expect(r.status == 200)
            #expect(r.json["ready"] == .bool(true))
            expectDocumented("get", "/readyz", r)
            let missing = try await api.client.json("GET", "/v1/nothing", token: admin)
            #expect(missing.status == 404)
            #expect(missing.errorCode == "not_found")
            let wrongMethod = try await api.client.json("DELETE", "/v1/jobs/0193a4d2-0000-7000-8000-000000000000", token: admin)
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.errorCode == "method_not_allowed")
            #expect(wrongMethod.header("allow") == "GET")
            let emptyLimit = try await api.client.json("GET", "/v1/dead?limit=", token: admin)
            #expect(emptyLimit.status == 400)
            let doc = try await api.client.json("GET", "/openapi.json")
            #expect(doc.status == 200)
            #expect(doc.json["openapi"]?.stringValue == "3.1.0")
        }
    }

    @Test func readinessNamesTheDownServer() async throws {
        let closed = try freeLoopbackPort()
        try await withAPI(redisURL: "redis://127.0.0.1:\(closed)/0") { api in
            let started = Date()
            let r = try await api.client.json("GET", "/readyz")
            #expect(r.status == 503)
            #expect(r.json["ready"] == .bool(false))
            #expect(r.json["servers"]?["redis"]?["ok"] == .bool(false))
            #expect(r.json["servers"]?["postgres"]?["ok"] == .bool(true))
            #expect(r.json["servers"]?["rabbitmq"]?["ok"] == .bool(true))
            expectDocumented("get", "/readyz", r)
            // A read that needs Redis fails fast with 503 naming it.
            let cache = try await api.client.json("GET", "/v1/cache/q", token: read)
            #expect(cache.status == 503)
            #expect(cache.json["error"]?["message"]?.stringValue?.contains("redis") == true)
            expectDocumented("get", "/v1/cache/{name}", cache)
            let events = try await api.client.json("GET", "/v1/events", token: read)
            #expect(events.status == 503)
            #expect(Date().timeIntervalSince(started) < 8)
        }
        let brokerPort = try freeLoopbackPort()
        try await withAPI(amqpURL: "amqp://sluice:sluice@127.0.0.1:\(brokerPort)/sluice") { api in
            let r = try await api.client.json("GET", "/readyz")
            #expect(r.status == 503)
            #expect(r.json["servers"]?["rabbitmq"]?["ok"] == .bool(false))
            let q = try await api.client.json("GET", "/v1/queues", token: read)
            #expect(q.status == 503)
            #expect(q.json["error"]?["message"]?.stringValue?.contains("rabbitmq") == true)
            expectDocumented("get", "/v1/queues", q)
            // An enqueue cannot be confirmed: 503, and nothing left queued in the ledger.
            let started = Date()
            let e = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop"], token: enqueue)
            #expect(e.status == 503)
            expectDocumented("post", "/v1/jobs", e)
            #expect(Date().timeIntervalSince(started) < 15, "POST /v1/jobs took \(Date().timeIntervalSince(started)) s with the broker down")
            #expect(try await api.ledger.search(JobFilter(state: .available)).jobs.isEmpty)
        }
    }

    @Test func authRules() async throws {
        try await withAPI { api in
            let none = try await api.client.json("GET", "/v1/jobs")
            #expect(none.status == 401)
            #expect(none.errorCode == "unauthorized")
            #expect(none.header("www-authenticate")?.hasPrefix("Bearer") == true)
            let wrong = try await api.client.json("GET", "/v1/jobs", token: "not-a-token")
            #expect(wrong.status == 401)
            let basic = try await api.client.request("GET", "/v1/jobs", headers: [("Authorization", "Basic dXNlcjpwYXNz")])
            #expect(basic.status == 401)
            // read cannot enqueue; enqueue cannot read; neither can cancel; admin can do all.
            let r1 = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop"], token: read)
            #expect(r1.status == 403)
            #expect(r1.errorCode == "forbidden")
            expectDocumented("post", "/v1/jobs", r1)
            let r2 = try await api.client.json("GET", "/v1/jobs", token: enqueue)
            #expect(r2.status == 403)
            let made = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "delay_s": 600], token: enqueue)
            #expect(made.status == 201)
            let id = try #require(made.json["id"]?.stringValue)
            let r3 = try await api.client.json("POST", "/v1/jobs/\(id)/cancel", token: read)
            #expect(r3.status == 403)
            let r4 = try await api.client.json("GET", "/v1/jobs/\(id)", token: admin)
            #expect(r4.status == 200)
            // Public routes need no token.
            #expect(try await api.client.json("GET", "/metrics").status == 200)
        }
    }

    @Test func enqueueValidatesBeforeWriting() async throws {
        try await withAPI { api in
            let malformed = try await api.client.request("POST", "/v1/jobs", headers: [("Authorization", "Bearer \(enqueue)")],
                                                         body: Array("{\"kind\": ".utf8))
            #expect(malformed.status == 400)
            #expect(malformed.errorCode == "malformed_json")
            expectDocumented("post", "/v1/jobs", malformed)
            let wrongType = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "priority": "high"], token: enqueue)
            #expect(wrongType.status == 400)
            #expect(wrongType.errorField == "priority")
            let unknownField = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "sql": "DROP TABLE x"], token: enqueue)
            #expect(unknownField.status == 400)
            #expect(unknownField.errorField == "sql")
            let badClass = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "class": "gpu"], token: enqueue)
            #expect(badClass.status == 400)
            #expect(badClass.errorField == "class")
            let unknownKind = try await api.client.json("POST", "/v1/jobs", ["kind": "no.such.kind"], token: enqueue)
            #expect(unknownKind.status == 422)
            #expect(unknownKind.errorCode == "unknown_kind")
            expectDocumented("post", "/v1/jobs", unknownKind)
            let badArgs = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.sleep", "args": ["ms": -5]], token: enqueue)
            #expect(badArgs.status == 422)
            #expect(badArgs.errorField?.hasPrefix("args") == true)
            // A batch with one bad job: refused whole, naming the index; nothing written.
            let batch = try await api.client.json("POST", "/v1/jobs", ["jobs": [["kind": "sys.noop"], ["kind": "sys.sleep", "args": ["ms": "x"]]]],
                                                  token: enqueue)
            #expect(batch.status == 422)
            #expect(batch.errorField?.hasPrefix("jobs[1].") == true)
            let page = try await api.ledger.search(JobFilter())
            #expect(page.jobs.isEmpty)
            // Oversize: the body, and the batch.
            let big = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "args": ["blob": .string(String(repeating: "x", count: 70_000))]],
                                                token: enqueue)
            #expect(big.status == 413)
            #expect(big.errorCode == "too_large")
            expectDocumented("post", "/v1/jobs", big)
            let many = try await api.client.json("POST", "/v1/jobs", ["jobs": .array(Array(repeating: ["kind": "sys.noop"], count: 101))], token: enqueue)
            #expect(many.status == 413)
            let notObject = try await api.client.json("POST", "/v1/jobs", [1, 2], token: enqueue)
            #expect(notObject.status == 400)
            #expect(try await api.ledger.search(JobFilter()).jobs.isEmpty)
        }
    }

    @Test func enqueueRunListAndRead() async throws {
        try await withAPI { api in
            try await api.withWorker {
                let one = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "args": ["hello": "world"], "unique_key": "greet:1"],
                                                    token: enqueue)
                #expect(one.status == 201)
                expectDocumented("post", "/v1/jobs", one)
                let id = try #require(one.json["id"]?.stringValue)
                let done = try await api.waitJob(id) { $0["state"]?.stringValue == "completed" }
                #expect(done["state"]?.stringValue == "completed")
                #expect(done["result"]?["hello"]?.stringValue == "world")
                #expect(done["args"]?["hello"]?.stringValue == "world")
                let batch = try await api.client.json("POST", "/v1/jobs", ["jobs": [["kind": "sys.noop"], ["kind": "sys.noop"], ["kind": "sys.noop"]]],
                                                      token: enqueue)
                #expect(batch.status == 201)
                let ids = (batch.json["jobs"]?.arrayItems ?? []).compactMap { $0["id"]?.stringValue }
                #expect(ids.count == 3)
                for i in ids { _ = try await api.waitJob(i) { $0["state"]?.stringValue == "completed" } }
            }
            // A duplicate of a live unique key returns the live job (here: a delayed one).
            let first = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "unique_key": "later", "delay_s": 600], token: enqueue)
            let again = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "unique_key": "later", "delay_s": 600], token: enqueue)
            #expect(again.status == 200)
            #expect(again.json["duplicate"] == .bool(true))
            #expect(again.json["id"] == first.json["id"])
            expectDocumented("post", "/v1/jobs", again)

            // Pages of 2 over 5 jobs, newest first, no repeats.
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let path = "/v1/jobs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.client.json("GET", path, token: read)
                #expect(page.status == 200)
                expectDocumented("get", "/v1/jobs", page)
                if case .array(let jobs) = page.json["jobs"] { seen += jobs.compactMap { $0["id"]?.stringValue } }
                cursor = page.json["next_cursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen.count == 5)
            #expect(Set(seen).count == 5)
            #expect(seen == seen.sorted(by: >))
            #expect(pages == 3)
            // Filters.
            let completed = try await api.client.json("GET", "/v1/jobs?state=completed&class=analytics&kind=sys.noop&target=main", token: read)
            if case .array(let jobs) = completed.json["jobs"] { #expect(jobs.count == 4) } else { Issue.record("no jobs array") }
            let scheduled = try await api.client.json("GET", "/v1/jobs?state=scheduled", token: read)
            if case .array(let jobs) = scheduled.json["jobs"] { #expect(jobs.count == 1) } else { Issue.record("no jobs array") }
            let byKey = try await api.client.json("GET", "/v1/jobs?q=gre", token: read)
            if case .array(let jobs) = byKey.json["jobs"] { #expect(jobs.map { $0["unique_key"] } == [.string("greet:1")]) }
            let byID = try await api.client.json("GET", "/v1/jobs?q=\(first.json["id"]!.stringValue!)", token: read)
            if case .array(let jobs) = byID.json["jobs"] { #expect(jobs.count == 1) }
            // Bad parameters.
            for bad in ["/v1/jobs?cursor=nonsense", "/v1/jobs?state=lost", "/v1/jobs?limit=0", "/v1/jobs?class=gpu"] {
                let r = try await api.client.json("GET", bad, token: read)
                #expect(r.status == 400, "\(bad)")
                #expect(r.errorField != nil)
                expectDocumented("get", "/v1/jobs", r)
            }
            let unknown = try await api.client.json("GET", "/v1/jobs/0193a4d2-0000-7000-8000-000000000000", token: read)
            #expect(unknown.status == 404)
            expectDocumented("get", "/v1/jobs/{id}", unknown)
            let badID = try await api.client.json("GET", "/v1/jobs/42", token: read)
            #expect(badID.status == 400)
            expectDocumented("get", "/v1/jobs/{id}", badID)
        }
    }

    @Test func idempotencyKey() async throws {
        try await withAPI { api in
            let body: JSONValue = ["kind": "sys.noop", "delay_s": 600]
            let a = try await api.client.json("POST", "/v1/jobs", body, token: enqueue, headers: [("Idempotency-Key", "order-17")])
            let b = try await api.client.json("POST", "/v1/jobs", body, token: enqueue, headers: [("Idempotency-Key", "order-17")])
            #expect(a.status == 201)
            #expect(b.status == 201)
            #expect(a.json["id"] == b.json["id"])
            #expect(b.header("idempotent-replayed") == "true")
            #expect(try await api.ledger.search(JobFilter()).jobs.count == 1)
            let other = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop"], token: enqueue, headers: [("Idempotency-Key", "order-17")])
            #expect(other.status == 422)
            #expect(other.errorCode == "idempotency_mismatch")
            expectDocumented("post", "/v1/jobs", other)
            // A refusal is remembered too.
            let bad: JSONValue = ["kind": "no.such"]
            let r1 = try await api.client.json("POST", "/v1/jobs", bad, token: enqueue, headers: [("Idempotency-Key", "k2")])
            let r2 = try await api.client.json("POST", "/v1/jobs", bad, token: enqueue, headers: [("Idempotency-Key", "k2")])
            #expect(r1.status == 422)
            #expect(r2.status == 422)
            #expect(r2.header("idempotent-replayed") == "true")
        }
    }

    @Test func cancel() async throws {
        try await withAPI { api in
            let made = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "delay_s": 600], token: enqueue)
            let id = try #require(made.json["id"]?.stringValue)
            let c = try await api.client.json("POST", "/v1/jobs/\(id)/cancel", token: admin)
            #expect(c.status == 200)
            #expect(c.json["outcome"]?.stringValue == "cancelled")
            expectDocumented("post", "/v1/jobs/{id}/cancel", c)
            let again = try await api.client.json("POST", "/v1/jobs/\(id)/cancel", token: admin)
            #expect(again.status == 409)
            expectDocumented("post", "/v1/jobs/{id}/cancel", again)
            let unknown = try await api.client.json("POST", "/v1/jobs/0193a4d2-0000-7000-8000-000000000001/cancel", token: admin)
            #expect(unknown.status == 404)
            let job = try await api.client.json("GET", "/v1/jobs/\(id)", token: read)
            #expect(job.json["state"]?.stringValue == "cancelled")
        }
    }

    @Test func queuesDeadLettersAndReplay() async throws {
        try await withAPI { api in
            // A job that times out on its only attempt is dead-lettered.
            let made = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.sleep", "args": ["ms": 5000], "timeout_s": 1, "max_attempts": 1],
                                                 token: enqueue)
            #expect(made.status == 201)
            let id = try #require(made.json["id"]?.stringValue)
            try await api.withWorker {
                _ = try await api.waitJob(id) { $0["state"]?.stringValue == "discarded" }
            }
            var dead: [JSONValue] = []
            for _ in 0..<50 {
                let d = try await api.client.json("GET", "/v1/dead", token: read)
                #expect(d.status == 200)
                expectDocumented("get", "/v1/dead", d)
                if case .array(let a) = d.json["dead"], !a.isEmpty { dead = a; break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(dead.first?["id"]?.stringValue == id)
            let q = try await api.client.json("GET", "/v1/queues", token: read)
            #expect(q.status == 200)
            expectDocumented("get", "/v1/queues", q)
            #expect(q.json["dead"] == .int(1))
            #expect(q.json["classes"]?["analytics"]?["failed_last_hour"] == .int(1))
            #expect(q.json["classes"]?["analytics"]?["depth"] == .int(0))
            let replay = try await api.client.json("POST", "/v1/dead/\(id)/replay", token: admin)
            #expect(replay.status == 200)
            expectDocumented("post", "/v1/dead/{id}/replay", replay)
            let job = try await api.client.json("GET", "/v1/jobs/\(id)", token: read)
            #expect(job.json["state"]?.stringValue == "available")
            #expect(job.json["attempt"] == .int(1))
            let q2 = try await api.client.json("GET", "/v1/queues", token: read)
            #expect(q2.json["classes"]?["analytics"]?["depth"] == .int(1))
            #expect(q2.json["classes"]?["analytics"]?["oldest_waiting_s"]?.isNull == false)
            let none = try await api.client.json("POST", "/v1/dead/\(id)/replay", token: admin)
            #expect(none.status == 404)
            expectDocumented("post", "/v1/dead/{id}/replay", none)
            // /metrics carries the queue gauges of this scrape.
            let m = try await api.client.request("GET", "/metrics")
            #expect(m.text.contains("sluice_queue_depth{class=\"analytics\"} 1"))
        }
    }

    @Test func schedulesWithoutCatalog() async throws {
        try await withAPI { api in
            let s = try await api.client.json("GET", "/v1/schedules", token: read)
            #expect(s.status == 200)
            #expect(s.json["schedules"] == .array([]))
            let run = try await api.client.json("POST", "/v1/schedules/nightly/run", token: admin)
            #expect(run.status == 404)
            expectDocumented("post", "/v1/schedules/{name}/run", run)
        }
    }

    @Test func redisReads() async throws {
        try await withAPI { api in
            // The key is the analytics class's: params normalised by the query's declared types.
            let query = try #require(api.catalog.query(named: "top_campaigns"))
            let normalised = try QueryParameters.normalise(["workspace_id": 7, "day": "2026-12-01"], for: query)
            let cache = QueryCache(redis: api.redis, prefix: api.redisPrefix)
            let key = cache.key(query: "top_campaigns", params: normalised)
            let computed = try #require(QueryParameters.parseTimestamp("2026-12-04T04:00:00Z"))
            let now = Date()
            try await cache.write(CachedOutput(query: "top_campaigns", params: normalised.json, version: 1, computedAt: computed,
                                               staleAfter: now.addingTimeInterval(300), expiresAt: now.addingTimeInterval(600),
                                               rows: [["id": 1]], rowCount: 1, durationMS: 2, jobID: "j"),
                                  key: key, ttl: .seconds(600))
            // "7" as text reads the same output as 7: the API normalises as the writer did.
            let params: JSONValue = ["workspace_id": "7", "day": "2026-12-01"]
            let encoded = params.jsonString.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let hit = try await api.client.json("GET", "/v1/cache/top_campaigns?params=\(encoded)", token: read)
            #expect(hit.status == 200)
            expectDocumented("get", "/v1/cache/{name}", hit)
            #expect(hit.json["key"]?.stringValue == key)
            #expect(hit.json["stale"] == .bool(false))
            #expect(hit.json["cache"]?["computed_at"]?.stringValue?.hasPrefix("2026-12-04T04:00:00") == true)
            #expect(hit.json["cache"]?["rows"] == .array([["id": 1]]))
            let miss = try await api.client.json("GET", "/v1/cache/top_campaigns?params=%7B%22workspace_id%22%3A8%2C%22day%22%3A%222026-12-01%22%7D", token: read)
            #expect(miss.status == 404)
            let unknown = try await api.client.json("GET", "/v1/cache/nope", token: read)
            #expect(unknown.status == 404)
            let bad = try await api.client.json("GET", "/v1/cache/top_campaigns?params=%5B1%5D", token: read)
            #expect(bad.status == 400)
            #expect(bad.errorField == "params")
            // A valid day, a workspace_id that is no integer: the error is the type's.
            let wrongType = try await api.client.json(
                "GET", "/v1/cache/top_campaigns?params=%7B%22workspace_id%22%3A%22x%22%2C%22day%22%3A%222026-12-01%22%7D", token: read)
            #expect(wrongType.status == 400)
            #expect(wrongType.errorField == "params")
            #expect(wrongType.json["error"]?["message"]?.stringValue?.contains("workspace_id") == true, "\(wrongType.json)")

            _ = try await api.redis.send(["SET", RedisArgument("\(api.redisPrefix)health:main:bloat"), "{\"tables\":3}"])
            _ = try await api.redis.send(["HSET", RedisArgument("\(api.redisPrefix)health:main:locks"), "waiting", "0"])
            _ = try await api.redis.send(["SET", RedisArgument("\(api.redisPrefix)health:other:bloat"), "{}"])
            let health = try await api.client.json("GET", "/v1/health/main", token: read)
            #expect(health.status == 200)
            expectDocumented("get", "/v1/health/{target}", health)
            #expect(health.json["reports"]?["bloat"]?["tables"] == .int(3))
            #expect(health.json["reports"]?["locks"]?["waiting"]?.stringValue == "0")
            #expect(health.json["reports"]?.objectValue?.count == 2)

            _ = try await api.redis.send(["HSET", RedisArgument("\(api.redisPrefix)matview:demo.campaign_analytics"),
                                          "refreshed_at", "2026-12-04T05:00:00Z", "mode", "concurrent", "rows", "1200"])
            let views = try await api.client.json("GET", "/v1/matviews", token: read)
            #expect(views.status == 200)
            expectDocumented("get", "/v1/matviews", views)
            #expect(views.json["views"]?["demo.campaign_analytics"]?["mode"]?.stringValue == "concurrent")

            let alerts = "\(api.redisPrefix)alerts"
            _ = try await api.redis.send(["XADD", RedisArgument(alerts), "*", "alert", "bloat:main", "state", "firing"])
            _ = try await api.redis.send(["XADD", RedisArgument(alerts), "*", "alert", "locks:main", "state", "firing"])
            _ = try await api.redis.send(["XADD", RedisArgument(alerts), "*", "alert", "locks:main", "state", "resolved"])
            let a = try await api.client.json("GET", "/v1/alerts", token: read)
            #expect(a.status == 200)
            expectDocumented("get", "/v1/alerts", a)
            #expect(a.json["firing"] == .int(1))
            if case .array(let list) = a.json["alerts"] { #expect(list.count == 3) }
            #expect(try await api.client.json("GET", "/v1/alerts?limit=x", token: read).status == 400)
        }
    }

    @Test func liveEvents() async throws {
        try await withAPI { api in
            let client = api.client
            async let stream = client.request("GET", "/v1/events", headers: [("Authorization", "Bearer \(read)")], readFor: .seconds(4))
            try await Task.sleep(for: .milliseconds(800))
            let made = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop"], token: enqueue)
            let id = try #require(made.json["id"]?.stringValue)
            let reply = try await stream
            #expect(reply.status == 200)
            #expect(reply.header("content-type") == "text/event-stream")
            #expect(reply.text.contains("data: "))
            #expect(reply.text.contains(id))
            expectDocumented("get", "/v1/events", reply)
            let bad = try await api.client.json("GET", "/v1/events?after=abc", token: read)
            #expect(bad.status == 400)
        }
    }

    @Test func dashboardLoginSessionAndCSRF() async throws {
        try await withAPI { api in
            let anonymous = try await api.client.request("GET", "/")
            #expect(anonymous.status == 303)
            #expect(anonymous.header("location") == "/login")
            expectDocumented("get", "/", anonymous)
            let form = try await api.client.request("GET", "/login")
            #expect(form.status == 200)
            #expect(form.text.contains("name=\"token\""))
            let wrong = try await api.client.request("POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                                     body: Array("token=nope".utf8))
            #expect(wrong.status == 401)
            expectDocumented("post", "/login", wrong)
            let token = admin.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let login = try await api.client.request("POST", "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                                     body: Array("token=\(token)".utf8))
            #expect(login.status == 303)
            expectDocumented("post", "/login", login)
            let setCookie = try #require(login.header("set-cookie"))
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            #expect(!setCookie.contains(admin))
            let cookie = String(setCookie.split(separator: ";")[0])
            let page = try await api.client.request("GET", "/", headers: [("Cookie", cookie)])
            #expect(page.status == 200)
            let csrf = try #require(page.text.range(of: "name=\"csrf-token\" content=\"").map { r in
                String(page.text[r.upperBound...].prefix { $0 != "\"" })
            })
            // The cookie reads the API; an action needs the CSRF header as well.
            let list = try await api.client.request("GET", "/v1/jobs", headers: [("Cookie", cookie)])
            #expect(list.status == 200)
            let made = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "delay_s": 600], token: enqueue)
            let id = try #require(made.json["id"]?.stringValue)
            let noCSRF = try await api.client.request("POST", "/v1/jobs/\(id)/cancel", headers: [("Cookie", cookie)])
            #expect(noCSRF.status == 403)
            #expect(noCSRF.errorCode == "csrf")
            let withCSRF = try await api.client.request("POST", "/v1/jobs/\(id)/cancel", headers: [("Cookie", cookie), ("X-CSRF-Token", csrf)])
            #expect(withCSRF.status == 200)
            let forged = try await api.client.request("GET", "/v1/jobs", headers: [("Cookie", "sluice_session=abc.def")])
            #expect(forged.status == 401)
            let logout = try await api.client.request("POST", "/logout", headers: [("Cookie", cookie)])
            #expect(logout.status == 303)
            #expect(logout.header("set-cookie")?.contains("Max-Age=0") == true)
        }
    }
}
