// ImportSubmission: a file handed to an import spec, the one way `sluice import` and
// POST /v1/imports start `import.file`. First everything but the upload is checked (spec,
// options, target: refused before a byte is stored); then `submit` stores the bytes as an
// upload and enqueues the job for it, cleaning up the same way for both callers: a refused job
// deletes its upload; a pipeline that fails keeps it for the failed-upload period (a day, then
// an import job purges it) so an operator can still see what arrived.

import Foundation
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct ImportSubmission: Sendable {
    public let spec: ImportSpec
    public let options: FileImporter.Options?
    public let target: String
    /// Who enqueues (`sluice-cli`, `sluice-api`).
    public let producerName: String
    /// Who enqueues, as the ledger records it (`api:{token}`, `cli:{user}`).
    public let enqueuedBy: String?

    /// Checks the job as it will be enqueued, with a placeholder upload id.
    public init(spec: ImportSpec, options: FileImporter.Options, target: String, producer: String, enqueuedBy: String? = nil,
                registry: JobRegistry) throws(EnvelopeError)
    {
        self.spec = spec
        self.enqueuedBy = enqueuedBy
        self.options = options == FileImporter.Options() ? nil : options
        self.target = target
        self.producerName = producer
        let placeholder = request(source: .init(upload: UUID().uuidString.lowercased()))
        try registry.validate(kind: placeholder.kind, args: placeholder.args, target: target)
    }

    /// The `import.file` job for `source` (an upload, or a file under the import directory).
    public func request(source: FileImporter.Source) -> JobRequest {
        let arguments = FileImporter.Arguments(spec: spec.name.rawValue, source: source, options: options)
        // Arguments are plain Codable values: encoding them cannot fail.
        var request = try! ImportFileJob.request(arguments, target: target, producer: producerName)
        request.enqueuedBy = enqueuedBy
        return request
    }

    /// Stores `bytes` as an upload (errors of the store, e.g. past the spec's size, leave nothing
    /// kept), then enqueues the job for it: `EnvelopeError` when refused (the upload deleted),
    /// `NotEnqueued` when the pipeline failed.
    public func submit(_ bytes: some ImportByteSource, fileName: String, store: ImportStore, producer: Producer)
        async throws -> (upload: ImportStore.Upload, result: EnqueueResult)
    {
        let upload = try await store.store(bytes, spec: spec.name.rawValue, fileName: fileName, maxBytes: spec.maxFileBytes)
        do {
            let result = try await producer.enqueue(request(source: .init(upload: upload.id.uuidString.lowercased())))
            return (upload, result)
        } catch let error as EnvelopeError {
            try? await store.delete(upload.id)
            throw error
        } catch {
            try? await store.expire(upload.id, keep: Self.failedUploadKept)
            throw NotEnqueued(upload: upload, error: error)
        }
    }

    /// The upload was stored but the pipeline did not take its job (`error`); the upload is
    /// kept for `failedUploadKept`.
    public struct NotEnqueued: Error, CustomStringConvertible {
        public var upload: ImportStore.Upload
        public var error: any Error
        public var description: String { "the job pipeline did not take the import: \(error)" }
    }

    /// How long the upload of a job the pipeline could not take is kept.
    public static let failedUploadKept: Duration = .seconds(86_400)
}
