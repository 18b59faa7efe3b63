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
        var result: JSONValue
        do {
            result = try await DatabaseJobs.run(
                kind: Self.kind, args: arguments, catalog: catalog, pool: context.pool,
                progress: { fields in await context.reportProgress(.object(fields.mapValues { .string($0) })) },
                logger: context.logger)
        } catch {
            throw SluiceRuntime.JobError(error.description, retryable: error.isRetryable)
        }
        switch Self.kind {
        case MatviewRefreshJob.kind:
            // Dashboards read `<prefix>matview:<schema.view>` to show how fresh a view is.
            if let view = result["view"]?.stringValue, case .object(let fields) = result {
                var out: [String: String] = ["job_id": context.id.description]
                for (k, v) in fields {
                    switch v {
                    case .string(let s): out[k] = s
                    case .int(let i): out[k] = String(i)
                    case .double(let d): out[k] = String(d)
                    case .bool(let b): out[k] = String(b)
                    default: break
                    }
                }
                await context.publishOutput("matview:\(view)", fields: out)
            }
        case PlanJob.kind:
            result = try await enqueuePlanned(result, context: context)
        default:
            break
        }
        return result
    }

    /// `maintenance.plan` returns what is due; enqueue it, most urgent first, each under a unique
    /// key per kind and arguments so that a plan run while the last one's jobs still wait adds
    /// nothing twice. The result gains `enqueued` (job ids) next to the plan.
    private func enqueuePlanned(_ result: JSONValue, context: JobContext) async throws -> JSONValue {
        guard case .object(var fields) = result, case .array(let jobs)? = fields["jobs"] else { return result }
        var enqueued: [JSONValue] = []
        for job in jobs {
            guard let kindText = job["kind"]?.stringValue, let args = job["args"]?.objectValue else { continue }
            let kind = JobKind(kindText)
            var request = JobRequest(kind: kind, args: args)
            request.target = context.envelope.target
            request.uniqueKey = "\(kind.rawValue):\(JSONValue.object(args).jsonString)"
            request.priority = job["priority"]?.intValue.map { Int(min(9, max(0, $0 / 12))) }
            request.producer = "maintenance.plan"
            do {
                let r = try await context.enqueue(request)
                enqueued.append(["id": .string(r.id.description), "kind": .string(kindText), "duplicate": .bool(r.duplicate)])
            } catch {
                throw SluiceRuntime.JobError("enqueueing planned \(kindText) failed: \(error)", retryable: true)
            }
        }
        fields["enqueued"] = .array(enqueued)
        return .object(fields)
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
