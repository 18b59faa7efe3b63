// APIError: every error answer of the API, as `{"error": {"code", "message", "field"?}}`.
//
// Handlers throw it; `ErrorMiddleware` turns it (and Hummingbird's own HTTPErrors, and anything
// unexpected) into a JSON response. A message names the problem and never echoes a token or a
// request body.

import HTTPTypes
import Hummingbird
import SluiceCore

public struct APIError: Error, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var field: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The client's upload stalled or broke off: its fault, but a retry with the same
    /// Idempotency-Key must run again rather than get this answer back.
    static let uploadInterrupted = "upload_interrupted"


    var json: JSONValue {
        var e: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { e["field"] = .string(field) }
        return ["error": .object(e)]
    }

    static func unauthorized(_ message: String = "a bearer token is required (Authorization: Bearer …)") -> APIError {
        var e = APIError(.unauthorized, "unauthorized", message)
        e.headers[.wwwAuthenticate] = "Bearer realm=\"sluice\""
        return e
    }

    static func forbidden(_ scope: APIScope) -> APIError {
        APIError(.forbidden, "forbidden", "this token lacks the '\(scope.rawValue)' scope")
    }

    static func badRequest(_ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, "bad_request", message, field: field)
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }

    static func unavailable(_ server: String, _ detail: String) -> APIError {
        APIError(.serviceUnavailable, "unavailable", "\(server) is unreachable: \(detail)")
    }

    static func invalid(_ e: EnvelopeError, prefix: String = "") -> APIError {
        APIError(.unprocessableContent, e.code.rawValue, e.reason, field: e.field.map { prefix + $0 })
    }
}
