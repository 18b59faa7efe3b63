// AnalyticsQueryJob (`analytics.query {name, params}`): runs a catalog query on the analytics
// pool and caches its rows in Redis at `sluice:cache:{name}:{params-hash}` (see QueryCache).
//
// The query name and every parameter are checked at enqueue (unknown query, unknown, missing or
// mistyped parameter: refused naming `args.params.x`). Readers enqueue it with `request(…)`,
// whose unique key makes a burst of readers cause one computation.

import Foundation
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct AnalyticsQueryJob: JobWorker {
    public init() {}

    public static let kind: JobKind = "analytics.query"
    public static var defaultClass: WorkloadClass { .analytics }
    /// A cached read is asked for again soon enough: three attempts.
    public static var defaults: JobDefaults { JobDefaults(maxAttempts: 3) }

    public struct Arguments: Codable, Sendable, Equatable {
        public var name: String
        public var params: [String: JSONValue]?
        /// Set by a reader that found the output missing (0) or stale (its version): the job does
        /// nothing when a newer version is already cached.
        public var ifVersion: Int64?

        public init(name: String, params: [String: JSONValue]? = nil, ifVersion: Int64? = nil) {
            self.name = name
            self.params = params
            self.ifVersion = ifVersion
        }

        enum CodingKeys: String, CodingKey {
            case name, params
            case ifVersion = "if_version"
        }
    }

    public typealias Report = QueryRefresh.Report

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard let query = catalog.query(named: arguments.name) else {
            throw .undeclared("name", what: "query", arguments.name)
        }
        do {
            _ = try QueryParameters.normalise(arguments.params ?? [:], for: query)
        } catch {
            throw EnvelopeError(.invalidArguments, field: error.field, reason: error.reason)
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        guard let query = context.catalog.query(named: arguments.name) else {
            throw JobError.undeclared("query", arguments.name)
        }
        guard query.applies(to: context.envelope.target) else {
            throw JobError(.notAllowed, "query \(query.name) is not declared for target \(context.envelope.target)", object: query.name.rawValue)
        }
        guard let redis = context.redis else {
            throw JobError("analytics.query needs Redis (its output is a Redis cache); none is configured", retryable: false)
        }
        let params: QueryParameters
        do {
            params = try QueryParameters.normalise(arguments.params ?? [:], for: query)
        } catch {
            throw JobError("\(error)", retryable: false)
        }
        return try await QueryRefresh.run(
            query: query, params: params, target: context.envelope.target, pool: context.pool, cache: QueryCache(redis: redis, prefix: context.redisPrefix),
            jobID: context.id.description, ifVersion: arguments.ifVersion, logger: context.logger)
    }

    /// The request that refreshes one cached output, under its unique key.
    public static func request(query: CatalogQuery, params: QueryParameters, target: String, ifVersion: Int64? = nil,
                               producer: String) -> JobRequest {
        var args: [String: JSONValue] = ["name": .string(query.name.rawValue), "params": params.json]
        if let ifVersion { args["if_version"] = .int(ifVersion) }
        var request = JobRequest(kind: kind, args: args)
        request.target = target
        request.uniqueKey = QueryRefresh.uniqueKey(query: query.name.rawValue, params: params) + (target == "main" ? "" : "@\(target)")
        request.producer = producer
        return request
    }
}
