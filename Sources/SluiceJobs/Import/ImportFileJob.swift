// ImportFileJob (`import.file {spec, source, options}`): a file (an upload stored in the home
// database, or a file under the import directory) checked row by row and upserted into the
// spec's table; see FileImporter. The upload is deleted when the job succeeds, and kept for
// `keepFailedUploads` when it fails for good, so an operator can look at it or re-run it.

import Foundation
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct ImportFileJob: Sendable {
    public static let kind: JobKind = "import.file"

    public typealias Arguments = FileImporter.Arguments
    public typealias Report = FileImporter.Report

    /// Where `source.path` is looked up (SLUICE_IMPORT_DIR); nil refuses paths.
    public var importDirectory: String?
    /// How long the upload of a failed import is kept.
    public var keepFailedUploads: Duration

    public init(importDirectory: String? = nil, keepFailedUploads: Duration = .seconds(7 * 86400)) {
        self.importDirectory = importDirectory
        self.keepFailedUploads = keepFailedUploads
    }
}

extension ImportFileJob: JobWorker {
    public static var defaultClass: WorkloadClass { .import }
    /// A large file takes a while; a failed load is worth fewer tries.
    public static var defaults: JobDefaults { JobDefaults(timeoutSeconds: 3600, maxAttempts: 3) }

    public func validate(_ a: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard catalog.importSpec(named: a.spec) != nil else { throw .undeclared("spec", what: "import spec", a.spec) }
        do {
            try FileImporter.validate(a, against: catalog)
        } catch {
            let field = error.message.hasPrefix("options.") ? "options" : "source"
            throw .argument(field, error.message)
        }
    }

    public func run(_ a: Arguments, context: JobContext) async throws -> Report {
        let store = ImportStore(pool: context.home, schema: context.schema)
        // Uploads past their time (failed imports, dry runs) go whenever an import runs.
        _ = try? await store.purgeExpired()
        let importer = FileImporter(catalog: context.catalog, store: store, importDirectory: importDirectory)
        do {
            return try await importer.run(a, jobID: context.id.uuid, pool: context.pool, progress: context.progressReporter,
                                          logger: context.logger)
        } catch {
            let retryable = (error as? RetryClassifying)?.isRetryable ?? true
            if let u = a.source.upload.flatMap(UUID.init(uuidString:)), !retryable || context.attempt >= context.envelope.maxAttempts {
                try? await store.expire(u, keep: keepFailedUploads)
            }
            throw error
        }
    }
}

extension ImportFileJob {
    /// The job a producer enqueues for `arguments` (the CLI, the API), with the kind's defaults.
    public static func request(_ arguments: Arguments, target: String, producer: String) throws -> JobRequest {
        let args = try JSONValue.parse(Array(try JSONEncoder().encode(arguments))).objectValue ?? [:]
        return JobRequest(kind: kind, args: args, target: target, producer: producer)
    }
}
