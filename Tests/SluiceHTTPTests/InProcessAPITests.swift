// The API in process, through Hummingbird's router test mode, over servers that are not there
// (port 1): authentication, request validation and the error shapes need none of them, and a
// read that does answers 503 naming its server. No test here opens a socket.

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

@Suite struct InProcessAPITests {
    static let read = "read-" + TokenAuthority.generate()
    static let enqueue = "enqueue-" + TokenAuthority.generate()

    /// An APIServer whose Postgres, RabbitMQ and Redis refuse connections.
    static func server() throws -> APIServer {
        let logger = Logger(label: "inprocess") { _ in SwiftLogNoOpLogHandler() }
        let postgres = PostgresConfiguration(host: "127.0.0.1", port: 1, database: "none", user: "none", connectTimeout: .milliseconds(200))
        let pool = PostgresPool(configuration: .init(connection: postgres, acquireTimeout: .milliseconds(300)), logger: logger)
        let ledger = Ledger(pool: pool, schema: "inprocess", logger: logger)
        var redisConfiguration = try RedisConfiguration(url: "redis://127.0.0.1:1/0")
        redisConfiguration.connectTimeout = .milliseconds(200)
        let redis = RedisPool(connection: redisConfiguration, size: 1, logger: logger)
        var amqp = try AMQPConfiguration(url: "amqp://none:none@127.0.0.1:1/none")
        amqp.connectTimeout = .milliseconds(200)
        let topology = TopologyConfiguration(prefix: "inprocess")
        let results = ResultStore(redis: redis, logger: logger)
        let publisher = JobPublisher(configuration: amqp, topology: topology, logger: logger)
        let registry = JobRegistry.standard(catalog: Catalog())
        let backend = APIBackend(
            producer: Producer(registry: registry, ledger: ledger, publisher: publisher, results: results, logger: logger),
            ledger: ledger, results: results, redis: redis, redisConfiguration: redisConfiguration, redisPrefix: "inprocess:",
            deadLetters: DeadLetters(amqp: amqp, topology: topology, ledger: ledger, publisher: publisher, logger: logger),
            amqp: amqp, topology: topology, scheduler: nil, catalog: nil)
        let configuration = APIConfiguration(
            port: 0,
            tokens: TokenAuthority(entries: [
                .init(name: "reader", scope: .read, digest: TokenAuthority.hexBytes(TokenAuthority.hash(read))!),
                .init(name: "enqueuer", scope: .enqueue, digest: TokenAuthority.hexBytes(TokenAuthority.hash(enqueue))!),
            ]),
            maxBodyBytes: 64 * 1024, dependencyTimeout: .seconds(1))
        return APIServer(configuration: configuration, backend: backend, metrics: MetricsRegistry(), logger: logger)
    }

    static func withClient(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: try server().router())
        try await app.test(.router) { client in try await body(client) }
    }

    static func headers(_ token: String?) -> HTTPFields {
        var h = HTTPFields()
        if let token { h[.authorization] = "Bearer \(token)" }
        h[.contentType] = "application/json"
        return h
    }

    /// The `error` object of a JSON error answer.
    static func error(_ response: TestResponse) throws -> JSONValue {
        let body = try JSONValue.parse(Array(response.body.readableBytesView))
        return try #require(body["error"], "a JSON error body: \(body)")
    }

    @Test func withoutAValidTokenItIs401() async throws {
        try await Self.withClient { client in
            for token in [nil, "not-a-token"] as [String?] {
                let r = try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.headers(token))
                #expect(r.status == .unauthorized)
                #expect(r.headers[.wwwAuthenticate] == "Bearer realm=\"sluice\"")
                #expect(try Self.error(r)["code"] == "unauthorized")
            }
            var basic = HTTPFields()
            basic[.authorization] = "Basic abc"
            let r = try await client.execute(uri: "/v1/jobs", method: .get, headers: basic)
            #expect(r.status == .unauthorized)
        }
    }

    @Test func aTokenWithoutTheScopeIs403() async throws {
        try await Self.withClient { client in
            let r = try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.headers(Self.read),
                                             body: ByteBuffer(string: #"{"kind":"sys.noop"}"#))
            #expect(r.status == .forbidden)
            #expect(try Self.error(r)["code"] == "forbidden")
        }
    }

    @Test func badJobsAreRefusedNamingTheField() async throws {
        try await Self.withClient { client in
            let cases: [(String, HTTPResponse.Status, String?)] = [
                (#"{"kind":"sys.noop","tabel":1}"#, .badRequest, "tabel"),
                (#"{"args":{}}"#, .badRequest, "kind"),
                (#"{"kind":"sys.noop","max_attempts":0}"#, .badRequest, "max_attempts"),
                (#"{"kind":"sys.noop","class":"fast"}"#, .badRequest, "class"),
                (#"{"kind":"sys.nope"}"#, .unprocessableContent, "kind"),
                (#"{"kind":"sys.sleep","args":{"ms":"soon"}}"#, .unprocessableContent, "args.ms"),
                (#"{"kind":"sys.noop","target":"tenant_x"}"#, .unprocessableContent, "target"),
                (#"not json"#, .badRequest, nil),
            ]
            for (body, status, field) in cases {
                let r = try await client.execute(uri: "/v1/jobs", method: .post, headers: Self.headers(Self.enqueue),
                                                 body: ByteBuffer(string: body))
                #expect(r.status == status, "\(body): \(r.status)")
                let e = try Self.error(r)
                #expect(e["code"]?.stringValue?.isEmpty == false, "\(body)")
                if let field { #expect(e["field"]?.stringValue == field, "\(body): \(e)") }
            }
        }
    }

    @Test func unknownRoutesAndMethodsAnswerJSON() async throws {
        try await Self.withClient { client in
            let missing = try await client.execute(uri: "/v1/nothing", method: .get, headers: Self.headers(Self.read))
            #expect(missing.status == .notFound)
            #expect(try Self.error(missing)["code"] != nil)
            let wrong = try await client.execute(uri: "/v1/jobs", method: .delete, headers: Self.headers(Self.read))
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers[.allow]?.contains("GET") == true, "\(wrong.headers)")
        }
    }

    @Test func aServerThatIsDownIs503NamingIt() async throws {
        try await Self.withClient { client in
            let r = try await client.execute(uri: "/v1/jobs", method: .get, headers: Self.headers(Self.read))
            #expect(r.status == .serviceUnavailable)
            let e = try Self.error(r)
            #expect(e["message"]?.stringValue?.contains("postgres") == true, "\(e)")
        }
    }

    @Test func theDocumentIsServedWithoutAToken() async throws {
        try await Self.withClient { client in
            let r = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(r.status == .ok)
            let served = try JSONValue.parse(Array(r.body.readableBytesView))
            #expect(served == (try JSONValue.parse(OpenAPIDocument.json)))
        }
    }
}
