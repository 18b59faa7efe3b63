// CacheReader: what a dashboard (or `sluice cache get`) does to read a cached query output:
// GET the key; when the output is missing or stale, enqueue one refresh and return the stale
// output meanwhile (stale-while-revalidate). The refresh carries the version the reader saw and
// the unique key `analytics.query:{name}:{hash}`, so a crowd of readers causes one computation.

import Foundation
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct CacheReader: Sendable {
    public let cache: QueryCache
    public let catalog: Catalog

    public init(cache: QueryCache, catalog: Catalog) {
        self.cache = cache
        self.catalog = catalog
    }

    public struct Read: Sendable {
        public var key: String
        /// Nil when nothing is cached yet.
        public var output: CachedOutput?
        public var stale: Bool
        /// The refresh job, when one was enqueued (or an identical one was already queued).
        public var refresh: EnqueueResult?
    }

    public struct ReadError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Normalises `params` for the query `name` (errors name `args.params.x`).
    public func parameters(name: String, params: [String: JSONValue]) throws(ReadError) -> (CatalogQuery, QueryParameters) {
        guard let query = catalog.query(named: name) else {
            let names = catalog.queries.map(\.name.rawValue).sorted().joined(separator: ", ")
            throw ReadError(description: "the catalog declares no query named \(name.debugDescription) (queries: \(names))")
        }
        do {
            return (query, try QueryParameters.normalise(params, for: query))
        } catch {
            throw ReadError(description: error.description)
        }
    }

    /// Reads the output; with `enqueue`, a missing or stale output gets one refresh.
    public func read(
        name: String, params: [String: JSONValue], target: String = "main", now: Date = Date(),
        enqueue: (@Sendable (JobRequest) async throws -> EnqueueResult)? = nil
    ) async throws -> Read {
        let (query, normalised) = try parameters(name: name, params: params)
        let key = cache.key(query: query.name.rawValue, target: target, params: normalised)
        let output = try await cache.read(key: key)
        let stale = output?.isStale(at: now) ?? true
        var refresh: EnqueueResult?
        if stale, let enqueue {
            let request = AnalyticsQueryJob.request(query: query, params: normalised, target: target,
                                                    ifVersion: output?.version ?? 0, producer: "cache reader")
            refresh = try await enqueue(request)
        }
        return Read(key: key, output: output, stale: stale, refresh: refresh)
    }
}
