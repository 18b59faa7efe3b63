// The API in process, through Hummingbird's router test mode, against the in-memory backend
// (MemoryBackend): authentication on every route of the table, request validation naming the
// field, and the JSON error shapes. One test keeps the runtime's own backend over servers that
// are not there (port 1): a read answers 503 naming its server. No test here opens a socket.
// The route families other than jobs are in InProcessRouteTests.

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCore
import SluiceCatalog
@testable import SluiceHTTP
import SluiceJobs
import SluiceMetrics
import SluiceRuntime
import Testing

/// The in-process server, its tokens and the helpers both in-process suites share.
enum InProcess {
    static let read = "read-" + TokenAuthority.generate()
    static let enqueue = "enqueue-" + TokenAuthority.generate()
    static let admin = "admin-" + TokenAuthority.generate()
    static let logger = Logger(label: "inprocess") { _ in SwiftLogNoOpLogHandler() }

    static var configuration: APIConfiguration {
        func entry(_ name: String, _ scope: APIScope, _ token: String) -> TokenAuthority.Entry {
            .init(name: name, scope: scope, digest: TokenAuthority.hexBytes(TokenAuthority.hash(token))!)
        }
        return APIConfiguration(
            port: 0, tokens: TokenAuthority(entries: [entry("reader", .read, read), entry("enqueuer", .enqueue, enqueue), entry("admin", .admin, admin)]),
            maxBodyBytes: 64 * 1024, maxBatch: 3, dependencyTimeout: .seconds(1))
    }

    /// The fixture catalog: queries `q` and `top_campaigns`, the import spec `contacts`.
    static func catalog() throws -> Catalog { try APIFixture.catalog(schema: "memory") }

    static func server(_ backend: MemoryBackend) -> APIServer {
        APIServer(configuration: configuration, backend: backend, metrics: MetricsRegistry(), logger: logger)
    }

    /// Runs `body` with a client of a server over a fresh in-memory backend.
    static func withClient(_ body: @Sendable (any TestClientProtocol, MemoryBackend) async throws -> Void) async throws {
        let backend = MemoryBackend(catalog: try catalog())
        let app = Application(router: server(backend).router())
        try await app.test(.router) { client in try await body(client, backend) }
    }

    static func headers(_ token: String?, _ extra: [(String, String)] = []) -> HTTPFields {
        var h = HTTPFields()
        if let token { h[.authorization] = "Bearer \(token)" }
        h[.contentType] = "application/json"
        for (name, value) in extra { h[HTTPField.Name(name)!] = value }
        return h
    }

    static func get(_ client: any TestClientProtocol, _ uri: String, token: String? = read) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: headers(token))
    }

    static func post(_ client: any TestClientProtocol, _ uri: String, _ body: String = "", token: String? = admin,
                     headers extra: [(String, String)] = []) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .post, headers: headers(token, extra), body: ByteBuffer(string: body))
    }

    /// The `error` object of a JSON error answer; checks the shape every error has (a JSON
    /// content type, a non-empty code and message).
    static func error(_ response: TestResponse, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> JSONValue {
        #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let body = try JSONValue.parse(Array(response.body.readableBytesView))
        let e = try #require(body["error"], "a JSON error body: \(body)", sourceLocation: sourceLocation)
        #expect(e["code"]?.stringValue?.isEmpty == false, "\(e)", sourceLocation: sourceLocation)
        #expect(e["message"]?.stringValue?.isEmpty == false, "\(e)", sourceLocation: sourceLocation)
        return e
    }

    /// Expects a refusal with `status` naming `field`.
    static func expectRefused(_ response: TestResponse, _ status: HTTPResponse.Status, field: String?, _ what: String,
                              sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, "\(what): \(response.status)", sourceLocation: sourceLocation)
        let e = try error(response, sourceLocation: sourceLocation)
        if let field { #expect(e["field"]?.stringValue == field, "\(what): \(e)", sourceLocation: sourceLocation) }
    }

    static func json(_ response: TestResponse) throws -> JSONValue { try JSONValue.parse(Array(response.body.readableBytesView)) }

    /// The length of a JSON array, nil for anything else.
    static func count(_ value: JSONValue?) -> Int? {
        if case .array(let items)? = value { return items.count }
        return nil
    }
}

@Suite struct InProcessAPITests {
    // MARK: Authentication, every route

    /// A request path for a route of the table (its parameters filled in).
    static func path(_ template: String) -> String {
        template.replacingOccurrences(of: "{id}", with: JobID.make().description)
            .replacingOccurrences(of: "{name}", with: "q").replacingOccurrences(of: "{target}", with: "main")
    }

    @Test func everyAuthenticatedRouteRefusesAMissingOrWrongToken() async throws {
        let routes = APIServer(configuration: InProcess.configuration, backend: MemoryBackend(catalog: nil), logger: InProcess.logger).routes
        #expect(routes.filter { $0.scope != nil }.count >= 15, "the table has the API's routes")
        try await InProcess.withClient { client, _ in
            for route in routes where route.scope != nil {
                for token in [nil, "not-a-token"] as [String?] {
                    let r = try await client.execute(uri: Self.path(route.path), method: route.method, headers: InProcess.headers(token))
                    #expect(r.status == .unauthorized, "\(route.method) \(route.path) with \(token ?? "no token")")
                    #expect(r.headers[.wwwAuthenticate] == "Bearer realm=\"sluice\"")
                    #expect(try InProcess.error(r)["code"] == "unauthorized")
                }
                var basic = HTTPFields()
                basic[.authorization] = "Basic abc"
                let r = try await client.execute(uri: Self.path(route.path), method: route.method, headers: basic)
                #expect(r.status == .unauthorized, "\(route.method) \(route.path) with Basic")
            }
        }
    }

    @Test func everyRouteRefusesATokenWithoutItsScope() async throws {
        let routes = APIServer(configuration: InProcess.configuration, backend: MemoryBackend(catalog: nil), logger: InProcess.logger).routes
        try await InProcess.withClient { client, _ in
            for route in routes {
                guard let scope = route.scope else { continue }
                // read < enqueue < admin: every weaker token is refused with 403 naming the scope.
                let weaker: [String] = switch scope {
                case .read: []
                case .enqueue: [InProcess.read]
                case .admin: [InProcess.read, InProcess.enqueue]
                }
                for token in weaker {
                    let r = try await client.execute(uri: Self.path(route.path), method: route.method, headers: InProcess.headers(token))
                    #expect(r.status == .forbidden, "\(route.method) \(route.path)")
                    let e = try InProcess.error(r)
                    #expect(e["code"] == "forbidden")
                    #expect(e["message"]?.stringValue?.contains(scope.rawValue) == true, "\(e)")
                }
            }
            // A stronger token passes (the admin token reads).
            let r = try await InProcess.get(client, "/v1/jobs", token: InProcess.admin)
            #expect(r.status == .ok)
        }
    }

    @Test func theDocumentAndTheProbesNeedNoToken() async throws {
        try await InProcess.withClient { client, _ in
            let r = try await InProcess.get(client, "/openapi.json", token: nil)
            #expect(r.status == .ok)
            #expect(try InProcess.json(r) == (try JSONValue.parse(OpenAPIDocument.json)))
            #expect(try await InProcess.get(client, "/healthz", token: nil).status == .ok)
            #expect(try await InProcess.get(client, "/readyz", token: nil).status == .ok)
        }
    }

    // MARK: Error shapes

    @Test func unknownRoutesAndMethodsAnswerJSON() async throws {
        try await InProcess.withClient { client, _ in
            let missing = try await InProcess.get(client, "/v1/nothing")
            #expect(missing.status == .notFound)
            _ = try InProcess.error(missing)
            let wrong = try await client.execute(uri: "/v1/jobs", method: .delete, headers: InProcess.headers(InProcess.read))
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow]?.contains("GET") == true, "\(wrong.headers)")
        }
    }

    @Test func aServerThatIsDownIs503NamingIt() async throws {
        try await InProcess.withClient { client, backend in
            backend.markDown(.postgres)
            let r = try await InProcess.get(client, "/v1/jobs")
            #expect(r.status == .serviceUnavailable)
            #expect(try InProcess.error(r)["message"]?.stringValue?.contains("postgres") == true)
            let ready = try await InProcess.get(client, "/readyz", token: nil)
            #expect(ready.status == .serviceUnavailable)
            #expect(try InProcess.json(ready)["servers"]?["postgres"]?["ok"] == false)
            #expect(try InProcess.json(ready)["servers"]?["redis"]?["ok"] == true)
        }
    }

    /// The runtime's own backend (RuntimeBackend, through the assembly's API role) over servers
    /// that refuse connections: the 503 names the server.
    @Test func theRuntimeBackendOverDownServersIs503NamingIt() async throws {
        let postgres = PostgresConfiguration(host: "127.0.0.1", port: 1, database: "none", user: "none", connectTimeout: .milliseconds(200))
        var redis = try RedisConfiguration(url: "redis://127.0.0.1:1/0")
        redis.connectTimeout = .milliseconds(200)
        var amqp = try AMQPConfiguration(url: "amqp://none:none@127.0.0.1:1/none")
        amqp.connectTimeout = .milliseconds(200)
        let runtime = Runtime(
            configuration: RuntimeConfiguration(postgres: postgres, amqp: amqp, redis: redis, schema: "inprocess",
                                                topology: TopologyConfiguration(prefix: "inprocess"), redisPrefix: "inprocess:",
                                                ledgerConnections: 1),
            registry: .standard(catalog: Catalog()), logger: InProcess.logger)
        let role = APIRole(configuration: InProcess.configuration, catalog: nil)
        let server = role.server(for: try AssembledProcess(runtime: runtime, roles: ProcessRoles(attached: [role])).roles)
        try await Application(router: server.router()).test(.router) { client in
            let r = try await InProcess.get(client, "/v1/jobs")
            #expect(r.status == .serviceUnavailable)
            #expect(try InProcess.error(r)["message"]?.stringValue?.contains("postgres") == true)
        }
        await runtime.close()
    }

    // MARK: Jobs

    @Test func badJobsAreRefusedNamingTheFieldAndNothingIsEnqueued() async throws {
        try await InProcess.withClient { client, backend in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                (#"{"kind":"sys.noop","tabel":1}"#, .badRequest, "tabel"),
                (#"{"args":{}}"#, .badRequest, "kind"),
                (#"{"kind":"sys.noop","max_attempts":0}"#, .badRequest, "max_attempts"),
                (#"{"kind":"sys.noop","class":"fast"}"#, .badRequest, "class"),
                (#"{"kind":"sys.nope"}"#, .unprocessableContent, "kind"),
                (#"{"kind":"sys.sleep","args":{"ms":"soon"}}"#, .unprocessableContent, "args.ms"),
                (#"{"kind":"sys.noop","target":"tenant_x"}"#, .unprocessableContent, "target"),
                (#"not json"#, .badRequest, nil),
                ("", .badRequest, nil),
                (#"[1]"#, .badRequest, nil),
                (#"{"jobs":[]}"#, .badRequest, "jobs"),
                (#"{"jobs":{}}"#, .badRequest, "jobs"),
                (#"{"jobs":[{"kind":"sys.noop"}],"kind":"sys.noop"}"#, .badRequest, "jobs"),
                (#"{"jobs":[{"kind":"sys.noop"},{"kind":"sys.nope"}]}"#, .unprocessableContent, "jobs[1].kind"),
                (#"{"jobs":[{"kind":"sys.noop"},{"kind":"sys.noop","tabel":1}]}"#, .badRequest, "jobs[1].tabel"),
                (#"{"jobs":[{"kind":"sys.noop"},{"kind":"sys.noop"},{"kind":"sys.noop"},{"kind":"sys.noop"}]}"#, .contentTooLarge, "jobs"),
            ]
            for (body, status, field) in cases {
                let r = try await InProcess.post(client, "/v1/jobs", body, token: InProcess.enqueue)
                try InProcess.expectRefused(r, status, field: field, body)
            }
            #expect(backend.enqueued.isEmpty, "a refused request enqueues nothing: \(backend.enqueued.map(\.kind))")

            let one = try await InProcess.post(client, "/v1/jobs", #"{"kind":"sys.noop"}"#, token: InProcess.enqueue)
            #expect(one.status == .created)
            #expect(try InProcess.json(one)["class"] == "analytics")
            let batch = try await InProcess.post(client, "/v1/jobs", #"{"jobs":[{"kind":"sys.noop"},{"kind":"sys.noop"}]}"#,
                                                 token: InProcess.enqueue)
            #expect(batch.status == .created)
            #expect(InProcess.count(try InProcess.json(batch)["jobs"]) == 2)
            #expect(backend.enqueued.count == 3)
        }
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        try await InProcess.withClient { client, backend in
            let big = #"{"kind":"sys.noop","args":{"pad":""# + String(repeating: "x", count: 70 * 1024) + #""}}"#
            let r = try await InProcess.post(client, "/v1/jobs", big, token: InProcess.enqueue)
            try InProcess.expectRefused(r, .contentTooLarge, field: nil, "70 KiB body")
            #expect(try InProcess.error(r)["code"] == "too_large")
            #expect(backend.enqueued.isEmpty)
        }
    }

    @Test func theJobListAndJobIDsAreValidated() async throws {
        try await InProcess.withClient { client, _ in
            let cases: [(String, String)] = [
                ("/v1/jobs?state=sleeping", "state"), ("/v1/jobs?class=fast", "class"), ("/v1/jobs?limit=0", "limit"),
                ("/v1/jobs?limit=501", "limit"), ("/v1/jobs?limit=ten", "limit"), ("/v1/jobs?limit=", "limit"),
                ("/v1/jobs?cursor=not-ours", "cursor"), ("/v1/jobs/not-a-uuid", "id"),
            ]
            for (uri, field) in cases {
                try InProcess.expectRefused(try await InProcess.get(client, uri), .badRequest, field: field, uri)
            }
            let page = try await InProcess.get(client, "/v1/jobs?state=available&class=analytics&limit=500")
            #expect(page.status == .ok)
            #expect(try InProcess.json(page) == ["jobs": [], "next_cursor": .null])
            let unknown = JobID.make()
            let missing = try await InProcess.get(client, "/v1/jobs/\(unknown)")
            try InProcess.expectRefused(missing, .notFound, field: nil, "unknown job")
            #expect(try InProcess.error(missing)["code"] == "not_found")
            try InProcess.expectRefused(try await InProcess.post(client, "/v1/jobs/\(unknown)/cancel"), .notFound, field: nil, "cancel")
            try InProcess.expectRefused(try await InProcess.post(client, "/v1/jobs/nope/cancel"), .badRequest, field: "id", "cancel")
        }
    }

    @Test func idempotencyKeysReplayTheAnswerAndRefuseAnotherBody() async throws {
        try await InProcess.withClient { client, backend in
            let key = [("Idempotency-Key", "k-1")]
            let first = try await InProcess.post(client, "/v1/jobs", #"{"kind":"sys.noop"}"#, token: InProcess.enqueue, headers: key)
            #expect(first.status == .created)
            let again = try await InProcess.post(client, "/v1/jobs", #"{"kind":"sys.noop"}"#, token: InProcess.enqueue, headers: key)
            #expect(again.status == .created)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try InProcess.json(again) == (try InProcess.json(first)))
            #expect(backend.enqueued.count == 1)
            let other = try await InProcess.post(client, "/v1/jobs", #"{"kind":"sys.sleep"}"#, token: InProcess.enqueue, headers: key)
            try InProcess.expectRefused(other, .unprocessableContent, field: "Idempotency-Key", "another body")
            #expect(try InProcess.error(other)["code"] == "idempotency_mismatch")
            let long = [("Idempotency-Key", String(repeating: "k", count: 201))]
            let tooLong = try await InProcess.post(client, "/v1/jobs", #"{"kind":"sys.noop"}"#, token: InProcess.enqueue, headers: long)
            try InProcess.expectRefused(tooLong, .badRequest, field: "Idempotency-Key", "201 characters")
            // A refusal is an answer too: the same retry gets the same refusal, nothing enqueued.
            let badKey = [("Idempotency-Key", "k-2")]
            for _ in 0..<2 {
                let r = try await InProcess.post(client, "/v1/jobs", #"{"kind":"sys.nope"}"#, token: InProcess.enqueue, headers: badKey)
                try InProcess.expectRefused(r, .unprocessableContent, field: "kind", "refused under a key")
            }
            #expect(backend.enqueued.count == 1)
        }
    }
}
