// DependentQueries: after `refresh.matview` refreshes a view, a refresh of every cached output of
// the queries that list the view in `depends_on`, so dashboards stop showing pre-refresh numbers.
//
// The outputs are found in Redis (SCAN `sluice:cache:{name}:*`; each output records its params),
// at most `limit` per query; each refresh is enqueued under its unique key, so one already
// queued is not doubled. A refresh already *running* since before the view changed also holds
// the key: its output reflects the view as it read it, and the next stale read refreshes it.

import Foundation
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public enum DependentQueries {
    public struct Outcome: Sendable, Equatable {
        public var enqueued: [String] = []
        public var failed: [String] = []
    }

    /// The cached outputs (key, params) of `query` for `target`.
    public static func outputs(of query: CatalogQuery, target: String, redis: any RedisClient, prefix: String, limit: Int = 1000)
        async throws(RedisError) -> [(key: String, params: [String: JSONValue])]
    {
        let pattern = RedisKeys(prefix: prefix).cachePattern(query: RedisKeys.cacheName(query: query.name.rawValue, target: target))
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try await redis.send(["SCAN", RedisArgument(cursor), "MATCH", RedisArgument(pattern), "COUNT", 500])
            guard let parts = reply.array, parts.count == 2 else { break }
            cursor = parts[0].string ?? "0"
            keys += (parts[1].array ?? []).compactMap(\.string).filter { !$0.hasSuffix(":version") }
        } while cursor != "0" && keys.count < limit
        var out: [(String, [String: JSONValue])] = []
        for key in keys.prefix(limit) {
            guard let bytes = try await redis.send(["GET", RedisArgument(key)]).bytes,
                let value = try? JSONValue.parse(bytes), let params = value["params"]?.objectValue
            else { continue }
            out.append((key, params))
        }
        return out
    }

    /// Enqueues a refresh of every cached output depending on `view`.
    public static func enqueue(after view: QualifiedName, context: JobContext) async -> Outcome {
        var outcome = Outcome()
        guard let redis = context.redis else { return outcome }
        let target = context.envelope.target
        for query in context.catalog.queries(dependingOn: view, target: target) {
            do {
                for (key, raw) in try await outputs(of: query, target: target, redis: redis, prefix: context.redisPrefix) {
                    guard let params = try? QueryParameters.normalise(raw, for: query) else { continue }
                    let request = AnalyticsQueryJob.request(query: query, params: params, target: target, producer: "refresh.matview")
                    do {
                        _ = try await context.enqueue(request)
                        outcome.enqueued.append(key)
                    } catch {
                        context.logger.warning("refresh of \(key) after \(view) not enqueued: \(error)")
                        outcome.failed.append(key)
                    }
                }
            } catch {
                context.logger.warning("cached outputs of \(query.name) not listed after refreshing \(view): \(error)")
            }
        }
        return outcome
    }
}
