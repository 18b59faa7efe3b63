// DatabaseKinds: the SluiceJobs database kinds (`maintenance.*`, `refresh.matview`) as runtime
// `JobWorker`s, so a producer (the scheduler, `schedule run`) accepts them and a worker given
// this registry runs them through `DatabaseJobs.run` on its class pool.
//
// One tag type per kind, because a JobWorker's kind is static. Arguments stay untyped JSON
// here: `DatabaseJobs.run` decodes and validates them against the catalog.

import Foundation
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

protocol DatabaseKindTag: Sendable {
    static var kind: JobKind { get }
}

enum PartitionsTag: DatabaseKindTag { static let kind = PartitionsJob.kind }
enum VacuumTag: DatabaseKindTag { static let kind = VacuumJob.kind }
enum AnalyzeTag: DatabaseKindTag { static let kind = AnalyzeJob.kind }
enum ReindexTag: DatabaseKindTag { static let kind = ReindexJob.kind }
enum CleanupTag: DatabaseKindTag { static let kind = CleanupJob.kind }
enum PlanTag: DatabaseKindTag { static let kind = PlanJob.kind }
enum MatviewTag: DatabaseKindTag { static let kind = MatviewRefreshJob.kind }

struct DatabaseKindWorker<Tag: DatabaseKindTag>: JobWorker {
    typealias Arguments = [String: JSONValue]
    static var kind: JobKind { Tag.kind }
    static var defaultClass: WorkloadClass { DatabaseJobs.kinds[Tag.kind] ?? .maintenance }
    let catalog: Catalog

    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        do {
            return try await DatabaseJobs.run(
                kind: Self.kind, args: arguments, catalog: catalog, pool: context.pool,
                progress: { fields in await context.reportProgress(.object(fields.mapValues { .string($0) })) },
                logger: context.logger)
        } catch {
            throw SluiceRuntime.JobError(error.description, retryable: error.isRetryable)
        }
    }
}

extension JobRegistry {
    /// The built-in kinds plus the database kinds, reading `catalog`.
    static func withDatabaseKinds(catalog: Catalog) -> JobRegistry {
        var r = JobRegistry.builtIn
        r.register(DatabaseKindWorker<PartitionsTag>(catalog: catalog))
        r.register(DatabaseKindWorker<VacuumTag>(catalog: catalog))
        r.register(DatabaseKindWorker<AnalyzeTag>(catalog: catalog))
        r.register(DatabaseKindWorker<ReindexTag>(catalog: catalog))
        r.register(DatabaseKindWorker<CleanupTag>(catalog: catalog))
        r.register(DatabaseKindWorker<PlanTag>(catalog: catalog))
        r.register(DatabaseKindWorker<MatviewTag>(catalog: catalog))
        return r
    }
}
