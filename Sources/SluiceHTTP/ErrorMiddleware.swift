// ErrorMiddleware: turns whatever a route or the router throws into the API's JSON error body,
// so no client ever sees an empty 500 or Hummingbird's plain-text errors (unknown paths,
// unsupported methods included).

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SluiceMetrics

struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger
    let metrics: MetricsRegistry
    /// The methods routed for a path (none: the path is unknown).
    let allowed: @Sendable (String) -> [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let e = error as? HTTPError, e.status == .notFound {
                let methods = allowed(request.uri.path)
                if !methods.isEmpty {
                    var headers = HTTPFields()
                    headers[.allow] = Set(methods).sorted().joined(separator: ", ")
                    return json(APIError(.methodNotAllowed, "method_not_allowed", "\(request.method.rawValue) is not allowed here").json,
                                .methodNotAllowed, headers: headers)
                }
            }
            let response = Self.response(for: error, logger: logger)
            if response.status == .notFound {
                metrics.jobs.httpRequest(method: request.method.rawValue, route: "unmatched", status: 404, duration: .zero)
            }
            return response
        }
    }

    static func response(for error: any Error, logger: Logger) -> Response {
        switch error {
        case let e as APIError:
            return json(e.json, e.status, headers: e.headers)
        case let e as HTTPError:
            let code: String
            switch e.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "too_large"
            default: code = e.status.code < 500 ? "bad_request" : "internal"
            }
            let message = e.body ?? (e.status == .notFound ? "no such route" : e.status.reasonPhrase)
            return json(APIError(e.status, code, message).json, e.status)
        default:
            // Only the error's type goes to the log: its text might quote a request.
            logger.error("unexpected error in a route", metadata: ["error.type": .string(String(reflecting: type(of: error)))])
            return json(APIError(.internalServerError, "internal", "internal error").json, .internalServerError)
        }
    }
}
