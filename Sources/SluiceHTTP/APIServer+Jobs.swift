// APIServer+Jobs: enqueue (one or a batch, idempotent with Idempotency-Key), read, cancel and
// list jobs.
//
// A batch is validated whole before anything is written: one bad job refuses the request with
// the index and field of the problem. The list is keyset-paginated on the ledger (`Ledger.search`)
// with an opaque cursor; it never counts.

import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceRuntime

extension APIServer {
    var jobRoutes: [Route] {
        [
            Route(method: .post, path: "/v1/jobs", scope: .enqueue) { [self] request, _, caller in
                try await enqueue(request, by: caller.enqueuedBy)
            },
            Route(method: .get, path: "/v1/jobs", scope: .read) { [self] request, _, _ in try await listJobs(request) },
            Route(method: .get, path: "/v1/jobs/{id}", scope: .read) { [self] _, context, _ in
                let id = try jobID(context)
                let job = try await bounded("postgres") { [backend] in try await backend.job(id) }
                guard let job else { throw APIError.notFound("no job has id \(id)") }
                var out = job.json.objectValue ?? [:]
                // Redis holds the live view (progress between ledger writes); it is optional.
                if let status = try? await bounded("redis", { [backend] in try await backend.liveStatus(id) }) {
                    out["status"] = .object(status.mapValues { .string($0) })
                }
                return json(.object(out))
            },
            Route(method: .post, path: "/v1/jobs/{id}/cancel", scope: .admin) { [self] _, context, _ in
                let id = try jobID(context)
                let (outcome, state) = try await bounded("postgres") { [backend] in try await backend.cancel(id) }
                switch outcome {
                case .notFound: throw APIError.notFound("no job has id \(id)")
                case .alreadyFinal:
                    throw APIError(.conflict, "already_final", "job \(id) already finished (\(state?.rawValue ?? "final"))")
                case .cancelled, .requested:
                    return json(["id": .string(id.description), "outcome": .string(outcome.rawValue),
                                 "state": state.map { .string($0.rawValue) } ?? .null])
                }
            },
        ]
    }

    func jobID(_ context: BasicRequestContext) throws -> JobID {
        let text = context.parameters.get("id") ?? ""
        guard let id = JobID(text) else { throw APIError.badRequest("'\(text.prefix(64))' is not a job id (a UUID)", field: "id") }
        return id
    }

    // MARK: Enqueue

    func enqueue(_ request: Request, by enqueuedBy: String?) async throws -> Response {
        let (body, bytes) = try await jsonBody(request)
        guard let key = request.headers[HTTPField.Name("Idempotency-Key")!] else {
            let (status, value) = try await enqueue(body, by: enqueuedBy)
            return json(value, status)
        }
        return try await idempotent(key: key, fingerprint: bytes) { try await enqueue(body, by: enqueuedBy) }
    }

    /// Serves `answer` once per Idempotency-Key: a retry with the same key and fingerprint gets
    /// the first answer (header `Idempotent-Replayed: true`) and runs nothing; another
    /// fingerprint is a 422. `POST /v1/jobs` fingerprints its body, `POST /v1/imports` its
    /// parameters (the file is streamed, never held to hash it first).
    func idempotent(key: String, fingerprint: [UInt8],
                    _ answer: () async throws -> (HTTPResponse.Status, JSONValue)) async throws -> Response {
        guard !key.isEmpty, key.count <= 200 else {
            throw APIError.badRequest("Idempotency-Key must be 1 to 200 characters", field: "Idempotency-Key")
        }
        let digest = SHA256.hash(data: fingerprint).map { String(format: "%02x", $0) }.joined()
        switch try await bounded("postgres", { [backend] in try await backend.beginIdempotent(key: key, requestSHA256: digest) }) {
        case .replay(let status, let text):
            var headers = HTTPFields()
            headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
            return json((try? JSONValue.parse(text)) ?? .null, HTTPResponse.Status(code: status), headers: headers)
        case .mismatch:
            throw APIError(.unprocessableContent, "idempotency_mismatch",
                           "this Idempotency-Key was used with a different request body", field: "Idempotency-Key")
        case .inProgress:
            throw APIError(.conflict, "idempotency_in_progress", "a request with this Idempotency-Key is still being served")
        case .fresh:
            do {
                let (status, value) = try await answer()
                try? await backend.finishIdempotent(key: key, status: status.code, response: value.jsonString)
                return json(value, status)
            } catch let e as APIError where e.status.code < 500 && e.code != APIError.uploadInterrupted {
                // A refused request is an answer too: the same retry gets the same refusal.
                try? await backend.finishIdempotent(key: key, status: e.status.code, response: e.json.jsonString)
                throw e
            } catch {
                // A server-side failure: forget the key so the client's retry runs again.
                try? await backend.abandonIdempotent(key: key)
                throw error
            }
        }
    }

    /// Enqueues `body` (one job object, or `{"jobs": [...]}`); 201 with the new job(s), 200 when
    /// a single job was a duplicate of a live unique key.
    func enqueue(_ body: JSONValue, by enqueuedBy: String?) async throws -> (HTTPResponse.Status, JSONValue) {
        guard let object = body.objectValue else { throw APIError.badRequest("expected a JSON object: one job, or {\"jobs\": [...]}") }
        if let jobs = object["jobs"] {
            guard object.count == 1, case .array(let items) = jobs else {
                throw APIError.badRequest("a batch is {\"jobs\": [ ... ]} and nothing else", field: "jobs")
            }
            guard !items.isEmpty else { throw APIError.badRequest("the batch is empty", field: "jobs") }
            guard items.count <= configuration.maxBatch else {
                throw APIError(.contentTooLarge, "too_large", "a batch holds at most \(configuration.maxBatch) jobs", field: "jobs")
            }
            let requests = try items.enumerated().map { i, item in try jobRequest(item, field: "jobs[\(i)].", by: enqueuedBy) }
            let results = try await produce(requests)
            let out: [JSONValue] = results.map { r in
                switch r {
                case .success(let e): return enqueued(e)
                case .failure(let error): return ["error": .object(["code": "enqueue_failed", "message": .string(Self.describe(error))])]
                }
            }
            return (.created, ["jobs": .array(out)])
        }
        let result = try await produce([try jobRequest(body, field: "", by: enqueuedBy)])[0].get()
        return (result.duplicate ? .ok : .created, enqueued(result))
    }

    private func enqueued(_ e: EnqueueResult) -> JSONValue {
        ["id": .string(e.id.description), "duplicate": .bool(e.duplicate), "state": .string(e.state.rawValue),
         "class": .string(e.workloadClass.rawValue)]
    }

    /// Validates every request against the registry (nothing written on a failure), then
    /// enqueues them. Failures after validation come back per job.
    private func produce(_ requests: [JobRequest]) async throws -> [Result<EnqueueResult, any Error>] {
        for (i, r) in requests.enumerated() {
            do {
                try backend.registry.validate(kind: r.kind, args: r.args)
            } catch {
                throw APIError.invalid(error, prefix: requests.count > 1 ? "jobs[\(i)]." : "")
            }
        }
        let results: [Result<EnqueueResult, any Error>]
        do {
            results = try await backend.enqueue(batch: requests)
        } catch {
            throw APIError.unavailable("the job pipeline", Self.describe(error))
        }
        // A validation error surfacing here (the producer checks again) is still the client's.
        for (i, r) in results.enumerated() {
            if case .failure(let e as EnvelopeError) = r { throw APIError.invalid(e, prefix: requests.count > 1 ? "jobs[\(i)]." : "") }
        }
        if requests.count == 1, case .failure(let error) = results[0] {
            throw APIError.unavailable("the job pipeline", Self.describe(error))
        }
        return results
    }

    /// One job object of a request body, checked field by field (JobRequestBody, shared with
    /// `sluice enqueue`).
    func jobRequest(_ value: JSONValue, field prefix: String, by enqueuedBy: String?) throws -> JobRequest {
        do {
            var request = try JobRequestBody.decode(value, prefix: prefix).request(producer: "sluice-api")
            request.enqueuedBy = enqueuedBy
            return request
        } catch {
            throw APIError.badRequest(error.message, field: error.field)
        }
    }

    // MARK: List

    func listJobs(_ request: Request) async throws -> Response {
        var filter = JobFilter()
        if let s = request.query("state") {
            guard let state = JobState(rawValue: s) else {
                throw APIError.badRequest("unknown state '\(s.prefix(32))'", field: "state")
            }
            filter.state = state
        }
        filter.kind = request.query("kind").map { JobKind($0) }
        if let c = request.query("class") {
            guard WorkloadClass(rawValue: c) != nil else { throw APIError.badRequest("unknown class '\(c.prefix(32))'", field: "class") }
            filter.workloadClass = c
        }
        filter.target = request.query("target")
        filter.query = request.query("q").map { String($0.prefix(200)) }
        let limit = try request.limit(default: 50, max: 500)
        var after: JobID?
        // Present means checked: an empty or mangled cursor is a 400, never a silent first page.
        if let cursor = request.rawQuery("cursor") {
            guard let id = JobCursor.decode(cursor) else { throw APIError.badRequest("the cursor is not one this API gave out", field: "cursor") }
            after = id
        }
        let page = try await bounded("postgres") { [backend, filter, after, limit] in
            try await backend.search(filter, after: after, limit: limit)
        }
        return json(["jobs": .array(page.jobs.map(\.json)), "next_cursor": page.next.map { .string(JobCursor.encode($0)) } ?? .null])
    }
}

/// The list's cursor: the last id of a page, opaque to clients.
enum JobCursor {
    static func encode(_ id: JobID) -> String { Base64URL.encode(Array("j1:\(id)".utf8)) }

    static func decode(_ text: String) -> JobID? {
        guard text.count <= 100, let bytes = Base64URL.decode(text) else { return nil }
        let s = String(decoding: bytes, as: UTF8.self)
        guard s.hasPrefix("j1:") else { return nil }
        return JobID(String(s.dropFirst(3)))
    }
}
