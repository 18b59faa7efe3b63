// DatabaseJobs: one entry point for the runtime: the database kinds this module implements,
// the workload class (and so the pool) each runs in, and `run`, which decodes a message's JSON
// arguments, runs the job and returns its report as JSON.
//
// Nothing here enqueues, retries or records: `JobError.isRetryable` tells the runtime what to do
// with a failure, and `maintenance.plan`'s report lists the jobs to enqueue (`jobs`).

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore

public enum DatabaseJobs {
    /// Every kind `run` accepts, with the class whose pool and settings it uses.
    public static let kinds: [JobKind: WorkloadClass] = [
        PartitionsJob.kind: .maintenance, VacuumJob.kind: .maintenance, AnalyzeJob.kind: .maintenance,
        ReindexJob.kind: .maintenance, CleanupJob.kind: .maintenance, PlanJob.kind: .maintenance,
        MatviewRefreshJob.kind: .refresh,
    ]

    /// Runs `kind` with `args` on `pool` (the pool of the kind's class) and returns the report as
    /// JSON (snake_case keys like the progress reports', dates as ISO 8601: `refreshed_at`). An unknown kind or malformed arguments is `.invalidArguments`.
    public static func run(
        kind: JobKind, args: [String: JSONValue], catalog: Catalog, pool: PostgresPool,
        progress: @escaping ProgressReporter, logger: Logger
    ) async throws(JobError) -> JSONValue {
        switch kind {
        case PartitionsJob.kind:
            let a = try JobArguments.decode(PartitionsJob.Arguments.self, from: args)
            return try json(try await PartitionsJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        case VacuumJob.kind:
            let a = try JobArguments.decode(VacuumJob.Arguments.self, from: args)
            return try json(try await VacuumJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        case AnalyzeJob.kind:
            let a = try JobArguments.decode(AnalyzeJob.Arguments.self, from: args)
            return try json(try await AnalyzeJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        case ReindexJob.kind:
            let a = try JobArguments.decode(ReindexJob.Arguments.self, from: args)
            return try json(try await ReindexJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        case CleanupJob.kind:
            let a = try JobArguments.decode(CleanupJob.Arguments.self, from: args)
            return try json(try await CleanupJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        case PlanJob.kind:
            let a = try JobArguments.decode(PlanJob.Arguments.self, from: args)
            return try json(try await PlanJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        case MatviewRefreshJob.kind:
            let a = try JobArguments.decode(MatviewRefreshJob.Arguments.self, from: args)
            return try json(try await MatviewRefreshJob.run(catalog: catalog, pool: pool, arguments: a, progress: progress, logger: logger))
        default:
            throw JobError(.invalidArguments, "'\(kind)' is not a database job kind")
        }
    }

    /// A report as JSON.
    static func json<T: Encodable>(_ report: T) throws(JobError) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        do {
            return try JSONValue.parse(Array(try encoder.encode(report)))
        } catch {
            throw JobError(.database, "could not encode the job's report: \(error)")
        }
    }
}
