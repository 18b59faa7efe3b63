// APIServer: `sluice api`: the routes of the HTTP API and the dashboard on one Hummingbird
// router, with authentication and the JSON error contract.
//
// Every route is declared once in `routes` (method, OpenAPI path, scope, handler); the router
// is built from that table and the OpenAPI test compares the same table with the document, so a
// route cannot exist undocumented. The handlers reach their data through `backend` (one
// protocol per route family, APIBackend.swift), so validation, auth and error shapes are tested
// in process against an in-memory backend. `application()` is a swift-service-lifecycle
// `Service`; `APIRole` puts it in the assembled process, where SIGTERM drains it with the rest.

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceMetrics

public final class APIServer: Sendable {
    public let configuration: APIConfiguration
    public let backend: any APIBackend
    let sessions: SessionCodec
    let logger: Logger
    let metrics: MetricsRegistry
    let uploadSlots = UploadSlots()
    /// Queue depth and oldest waiting age over the last day, for the overview's charts.
    let queueHistory = QueueHistory()

    public init(configuration: APIConfiguration, backend: any APIBackend, metrics: MetricsRegistry = MetricsRegistry(), logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
        self.metrics = metrics
        sessions = SessionCodec(key: configuration.sessionKey, lifetime: configuration.sessionLifetime)
    }

    /// Who made a request, once authenticated.
    struct Caller: Sendable {
        var scopes: Set<APIScope>
        /// The token's name (bearer or session), nil on routes without authentication.
        var name: String?
        /// What the ledger records as `enqueued_by` for jobs this caller enqueues.
        var enqueuedBy: String? { name.map { "api:\($0)" } }
        /// The dashboard session, when the request came with the cookie rather than a bearer token.
        var session: DashboardSession?
    }

    typealias Handler = @Sendable (Request, BasicRequestContext, Caller) async throws -> Response

    /// One route: the OpenAPI path (`/v1/jobs/{id}`), who may call it, what answers it.
    struct Route: Sendable {
        var method: HTTPRequest.Method
        var path: String
        /// Nil: no authentication (health probes, the login page, the document itself).
        var scope: APIScope?
        /// Part of the API (in the OpenAPI document); false for the dashboard's HTML pages.
        var documented: Bool = true
        var handler: Handler
    }

    /// Every route the server has.
    var routes: [Route] {
        jobRoutes + operatorRoutes + redisRoutes + importRoutes + overviewRoutes + dashboardRoutes + [
            Route(method: .get, path: "/healthz", scope: nil) { _, _, _ in
                json(["status": "ok"])
            },
            Route(method: .get, path: "/readyz", scope: nil) { [self] _, _, _ in try await readiness() },
            Route(method: .get, path: "/openapi.json", scope: nil) { _, _, _ in
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
            },
            Route(method: .get, path: "/metrics", scope: nil) { [self] _, _, _ in
                await refreshQueueGauges()
                var headers = HTTPFields()
                headers[.contentType] = "text/plain; version=0.0.4"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
            },
        ]
    }

    /// The (method, OpenAPI path) pairs of the documented routes.
    public var documentedOperations: [(method: String, path: String)] {
        routes.filter(\.documented).map { ($0.method.rawValue.lowercased(), $0.path) }
    }

    /// The methods the route table has for `path` (a request path), for 405 answers.
    func allowedMethods(for path: String) -> [String] {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return routes.filter { route in
            let template = route.path.split(separator: "/", omittingEmptySubsequences: true)
            guard template.count == parts.count else { return false }
            return zip(template, parts).allSatisfy { t, p in t.hasPrefix("{") || t == p }
        }.map(\.method.rawValue)
    }

    /// The router with every route and the error middleware.
    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware(logger: logger, metrics: metrics, allowed: { [weak self] in self?.allowedMethods(for: $0) ?? [] }))
        for route in routes {
            let hummingbirdPath = route.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            router.on(RouterPath(hummingbirdPath), method: route.method) { [self] request, context in
                let start = ContinuousClock.now
                var response: Response
                do {
                    let caller = try authorize(request, route: route)
                    response = try await route.handler(request, context, caller)
                } catch {
                    response = ErrorMiddleware.response(for: error, logger: logger)
                }
                metrics.jobs.httpRequest(method: route.method.rawValue, route: route.path, status: response.status.code,
                                         duration: ContinuousClock.now - start)
                return response
            }
        }
        return router
    }

    /// The HTTP server as a Service, with the queue sampler beside it (it stops when the server
    /// does). `onRunning` gets the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        ServerWithSampler(
            application: Application(
                router: router(),
                configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "sluice"),
                onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                logger: logger),
            server: self)
    }

    /// Runs the Hummingbird application and `sampleQueues` until the application returns
    /// (graceful shutdown drains it as before); then the sampler is cancelled.
    struct ServerWithSampler<App: Service>: Service {
        let application: App
        let server: APIServer

        func run() async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await application.run() }
                group.addTask { [server] in await server.sampleQueues(every: server.configuration.queueSampleInterval) }
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        }
    }

    // MARK: Authentication

    /// The caller of `request`, or a 401/403. A bearer token wins over the session cookie.
    func authorize(_ request: Request, route: Route) throws -> Caller {
        guard let needed = route.scope else {
            return Caller(scopes: [], name: nil, session: currentSession(request))
        }
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw APIError.unauthorized("the Authorization header must be 'Bearer <token>'")
            }
            guard let holder = configuration.tokens.holder(of: String(parts[1]).trimmingCharacters(in: .whitespaces)) else {
                throw APIError.unauthorized("the bearer token is not valid")
            }
            guard holder.scopes.contains(where: { $0.grants(needed) }) else { throw APIError.forbidden(needed) }
            return Caller(scopes: holder.scopes, name: holder.name, session: nil)
        }
        guard let session = currentSession(request) else { throw APIError.unauthorized() }
        if request.method != .get && request.method != .head {
            guard sessions.checkCSRF(request.headers[HTTPField.Name(DashboardSession.csrfHeader)!], for: session) else {
                throw APIError(.forbidden, "csrf", "a dashboard action needs the page's \(DashboardSession.csrfHeader) header")
            }
        }
        guard session.scopes.contains(where: { $0.grants(needed) }) else { throw APIError.forbidden(needed) }
        return Caller(scopes: session.scopes, name: session.name, session: session)
    }

    func currentSession(_ request: Request) -> DashboardSession? {
        request.cookies[DashboardSession.cookieName].flatMap { sessions.decode($0.value) }
    }

    // MARK: Request helpers

    /// The body as JSON: 413 past the limit, 400 when it is not JSON.
    func jsonBody(_ request: Request) async throws -> (value: JSONValue, bytes: [UInt8]) {
        let bytes = try await bodyBytes(request)
        guard !bytes.isEmpty else { throw APIError.badRequest("the request body is empty; expected JSON") }
        do {
            return (try JSONValue.parse(bytes), bytes)
        } catch {
            throw APIError(.badRequest, "malformed_json", "the request body is not valid JSON: \(error)")
        }
    }

    func bodyBytes(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError(.contentTooLarge, "too_large", "the body is \(length) bytes; the limit is \(limit)")
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "the body is larger than the limit of \(limit) bytes")
        }
    }

    /// Runs `body`, giving up after the dependency timeout: a down server answers 503 quickly
    /// instead of hanging the request.
    func bounded<T: Sendable>(_ server: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = configuration.dependencyTimeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            do {
                guard let first = try await group.next(), let value = first else {
                    throw APIError.unavailable(server, "no answer within \(timeout)")
                }
                return value
            } catch let e as APIError {
                throw e
            } catch is CancellationError {
                throw APIError.unavailable(server, "cancelled")
            } catch {
                throw APIError.unavailable(server, Self.describe(error))
            }
        }
    }

    /// An error's description without anything a client should not see (errors here name
    /// endpoints and causes, never secrets: see STYLE rule 7).
    static func describe(_ error: any Error) -> String {
        String(String(describing: error).prefix(300))
    }
}

/// A JSON response.
func json(_ value: JSONValue, _ status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
    var headers = extra
    headers[.contentType] = "application/json"
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: value.encoded())))
}

extension Request {
    /// A query parameter, nil when absent or empty.
    func query(_ name: String) -> String? {
        guard let v = rawQuery(name), !v.isEmpty else { return nil }
        return v
    }

    /// A query parameter as given (empty when present without a value), nil when absent.
    /// Decoded as `application/x-www-form-urlencoded`: `+` is a space (what Python's urlencode,
    /// HTML forms and URLSearchParams write), then percent-escapes; the first occurrence wins.
    func rawQuery(_ name: String) -> String? {
        guard let query = uri.query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard Self.formDecode(parts[0]) == name else { continue }
            return parts.count == 2 ? Self.formDecode(parts[1]) : ""
        }
        return nil
    }

    static func formDecode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// The `limit` query parameter of a list route: `default` when absent, 400 naming `limit`
    /// unless a whole number from 1 to `max`.
    func limit(default value: Int, max: Int) throws -> Int {
        guard let text = rawQuery("limit") else { return value }
        guard let n = Int(text), (1...max).contains(n) else { throw APIError.badRequest("limit must be 1 to \(max)", field: "limit") }
        return n
    }
}
