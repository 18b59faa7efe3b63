// APIServer+Imports: the import class over HTTP.
//
// `POST /v1/imports?spec=leads` takes the file itself as the request body (CSV or NDJSON,
// optionally gzip) and streams it into an upload in the home database, 1 MiB chunk by chunk, as
// `sluice import` does: the file never sits whole in memory, and the job message carries only
// the upload's id. The spec's `max_file_size` bounds the body (413 past it, nothing kept), not
// the API's JSON body limit. Then `import.file` is validated and enqueued like any job.
// `GET /v1/imports/{id}/rejects.csv` is `sluice import rejects ID`.

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime
import Synchronization

extension APIServer {
    var importRoutes: [Route] {
        [
            Route(method: .post, path: "/v1/imports", scope: .enqueue) { [self] request, _, caller in
                guard let key = request.headers[HTTPField.Name("Idempotency-Key")!] else {
                    let (status, value) = try await startImport(request, by: caller.enqueuedBy)
                    return json(value, status)
                }
                // The parameters are the fingerprint (and the declared length, when given).
                let fingerprint = "POST /v1/imports?\(request.uri.query ?? "")|\(request.headers[.contentLength] ?? "")"
                return try await idempotent(key: key, fingerprint: Array(fingerprint.utf8)) {
                    try await startImport(request, by: caller.enqueuedBy)
                }
            },
            Route(method: .get, path: "/v1/imports/{id}/rejects.csv", scope: .read) { [self] _, context, _ in
                guard let id = context.parameters.get("id").flatMap({ JobID($0) }) else {
                    throw APIError.badRequest("not a job id", field: "id")
                }
                let job = try await bounded("postgres") { [backend] in try await backend.job(id) }
                guard let job, job.kind == ImportFileJob.kind else { throw APIError.notFound("no import job \(id)") }
                // The rejects are bounded by the spec's max_rejects, so one buffer is fine.
                let collected = ByteCollector()
                _ = try await bounded("postgres") { [backend] in
                    try await backend.rejectsCSV(jobID: id) { collected.append($0) }
                }
                var headers = HTTPFields()
                headers[.contentType] = "text/csv; charset=utf-8"
                headers[.contentDisposition] = "attachment; filename=\"rejects-\(id).csv\""
                headers[.cacheControl] = "no-store"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: collected.bytes)))
            },
        ]
    }

    private func startImport(_ request: Request, by enqueuedBy: String?) async throws -> (HTTPResponse.Status, JSONValue) {
        guard let specName = request.query("spec") else { throw APIError.badRequest("spec is required", field: "spec") }
        guard let catalog = backend.catalog, let spec = catalog.importSpec(named: specName) else {
            let declared = (backend.catalog?.imports.map(\.name.rawValue) ?? []).sorted().joined(separator: ", ")
            throw APIError.badRequest("the catalog declares no import spec named \(specName.debugDescription) (declared: \(declared))",
                                      field: "spec")
        }
        let target = request.query("target") ?? "main"
        let fileName = String((request.query("file_name") ?? "upload").prefix(255))
        var options = FileImporter.Options()
        if let f = request.query("format") {
            guard let format = ImportFormat(rawValue: f) else { throw APIError.badRequest("format must be csv or ndjson", field: "format") }
            options.format = format
        }
        options.delimiter = request.query("delimiter")
        if let d = request.query("dry_run") {
            guard let b = Bool(d) else { throw APIError.badRequest("dry_run must be true or false", field: "dry_run") }
            options.dryRun = b ? true : nil
        }
        // Everything but the upload's id is checked before a byte is stored (the same submission
        // as `sluice import`).
        let submission: ImportSubmission
        do {
            submission = try ImportSubmission(spec: spec, options: options, target: target, producer: "sluice-api",
                                              enqueuedBy: enqueuedBy, registry: backend.registry)
        } catch {
            throw APIError.invalid(error)
        }
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > spec.maxFileBytes {
            throw APIError(.contentTooLarge, "too_large", "the file is \(length) bytes; the \(specName) import's limit is \(spec.maxFileBytes)")
        }
        // Each upload holds a home-database connection while its body arrives: a few at a time,
        // so slow clients cannot take the pool every other route needs.
        guard uploadSlots.acquire(limit: configuration.maxConcurrentUploads) else {
            var e = APIError(.serviceUnavailable, "busy", "\(configuration.maxConcurrentUploads) uploads are already in progress; retry shortly")
            e.headers[.retryAfter] = "5"
            throw e
        }
        defer { uploadSlots.release() }
        let upload: ImportStore.Upload
        let result: EnqueueResult
        do {
            (upload, result) = try await backend.submitImport(
                submission, bytes: RequestBodySource(request.body, idleTimeout: configuration.uploadIdleTimeout), fileName: fileName)
        } catch let e as UploadInterrupted {
            // The client stalled or went away: the transaction rolled back, nothing is kept.
            throw APIError(.badRequest, APIError.uploadInterrupted, e.reason)
        } catch let e as JobError {
            // Past the limit, or empty: the transaction rolled back, nothing is kept.
            let tooLarge = e.code == .tooLarge
            throw APIError(tooLarge ? .contentTooLarge : .badRequest, tooLarge ? "too_large" : "bad_request", e.message)
        } catch let e as EnvelopeError {
            throw APIError.invalid(e)  // refused at enqueue: the upload was deleted
        } catch let e as ImportSubmission.NotEnqueued {
            // Stored but not enqueued: the upload is kept for the failed-upload period.
            throw APIError.unavailable("the job pipeline", Self.describe(e.error))
        } catch let e as APIError {
            throw e
        } catch {
            throw APIError.unavailable("postgres", Self.describe(error))
        }
        return (.accepted, ["id": .string(result.id.description), "upload": .string(upload.id.uuidString.lowercased()),
                            "bytes": .int(Int64(upload.bytes)), "state": .string(result.state.rawValue)])
    }
}

/// The request body as an import's byte source: chunks as they arrive from the socket. A chunk
/// that does not come within `idleTimeout`, or a body that breaks off, ends the upload with
/// `UploadInterrupted`.
private final class RequestBodySource: ImportByteSource, @unchecked Sendable {
    // @unchecked Sendable: the iterator is used by one `next()` at a time (the store's loop
    // awaits each); the child task below only exists during that call.
    private var iterator: RequestBody.AsyncIterator
    private let idleTimeout: Duration

    init(_ body: RequestBody, idleTimeout: Duration) {
        iterator = body.makeAsyncIterator()
        self.idleTimeout = idleTimeout
    }

    private enum Step: Sendable {
        case chunk([UInt8]?)
        case timedOut
    }

    func next() async throws -> [UInt8]? {
        let timeout = idleTimeout
        let step: Step
        do {
            step = try await withThrowingTaskGroup(of: Step.self) { group in
                group.addTask { .chunk(try await self.nextChunk()) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                }
                defer { group.cancelAll() }
                return try await group.next() ?? .timedOut
            }
        } catch {
            throw UploadInterrupted(reason: "the upload broke off before its end; nothing was kept")
        }
        switch step {
        case .chunk(let bytes): return bytes
        case .timedOut: throw UploadInterrupted(reason: "the upload sent nothing for \(timeout); nothing was kept")
        }
    }

    private func nextChunk() async throws -> [UInt8]? {
        while let buffer = try await iterator.next() {
            if buffer.readableBytes > 0 { return Array(buffer.readableBytesView) }
        }
        return nil
    }
}

struct UploadInterrupted: Error {
    var reason: String
}

/// How many uploads are streaming now.
final class UploadSlots: Sendable {
    private let inUse = Mutex(0)

    func acquire(limit: Int) -> Bool {
        inUse.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func release() { inUse.withLock { $0 -= 1 } }
}

/// Bytes appended from a synchronous callback (COPY TO STDOUT's chunks).
private final class ByteCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [UInt8] = []

    func append(_ chunk: [UInt8]) { lock.withLock { storage.append(contentsOf: chunk) } }
    var bytes: [UInt8] { lock.withLock { storage } }
}
