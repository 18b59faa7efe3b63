// DashboardStore: the reads of the dashboard contract in Redis (key names: RedisKeys): health
// reports per target, view freshness, the alerts stream, the job events stream. The API and the
// CLI read through it; none of them sends a Redis command of its own.

import Redis
import SluiceCore

public struct DashboardStore: Sendable {
    public let redis: RedisPool
    public let keys: RedisKeys

    public init(redis: RedisPool, keys: RedisKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// Throws when Redis does not answer.
    public func ping() async throws {
        _ = try await redis.send(["PING"])
    }

    /// The health reports stored for `target`, by report name.
    public func healthReports(target: String, limit: Int = 200) async throws -> [String: JSONValue] {
        try await values(under: keys.healthReports(target: target), limit: limit)
    }

    /// Every view's freshness, by `[target:]schema.view`.
    public func viewFreshness(limit: Int = 500) async throws -> [String: JSONValue] {
        try await values(under: keys.matviews, limit: limit)
    }

    /// The newest `limit` entries of the alerts stream, newest first.
    public func alerts(limit: Int) async throws -> [RedisStreamEntry] {
        let reply = try await redis.send(["XREVRANGE", RedisArgument(keys.alerts), "+", "-", "COUNT", RedisArgument(limit)])
        return try RedisStreamEntry.entries(from: reply)
    }

    /// Job events after stream id `after` (`$`: only new ones), waiting up to `block` on
    /// `connection` (a blocking connection of its own: XREAD BLOCK holds it).
    public func events(on connection: RedisBlockingConnection, after: String, count: Int = 200, block: Duration = .seconds(2))
        async throws -> [RedisStreamEntry]
    {
        try await connection.xread(streams: [(keys.events, after)], count: count, block: block).flatMap(\.entries)
    }

    /// The values of the keys starting with `start` (at most `limit`, in key order), by the
    /// rest of the key.
    public func values(under start: String, limit: Int) async throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for key in try await scan(match: start + "*", limit: limit) {
            if let v = try await read(key) { out[String(key.dropFirst(start.count))] = v }
        }
        return out
    }

    /// A key's value as JSON whatever its type: a hash as an object (fields that hold JSON are
    /// parsed), a string as JSON when it parses, else as a string. Nil when missing.
    public func read(_ key: String) async throws -> JSONValue? {
        let type = try await redis.send(["TYPE", RedisArgument(key)]).string ?? "none"
        switch type {
        case "hash":
            let fields = try await redis.send(["HGETALL", RedisArgument(key)]).dictionary ?? [:]
            return .object(fields.mapValues(Self.jsonOrString))
        case "string":
            guard let s = try await redis.send(["GET", RedisArgument(key)]).string else { return nil }
            return Self.jsonOrString(s)
        case "none":
            return nil
        default:
            return .object(["type": .string(type)])
        }
    }

    /// Keys matching `match`, at most `limit`, sorted.
    public func scan(match: String, limit: Int) async throws -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try await redis.send(["SCAN", RedisArgument(cursor), "MATCH", RedisArgument(match), "COUNT", "500"])
            guard let parts = reply.array, parts.count == 2 else { break }
            cursor = parts[0].string ?? "0"
            keys += (parts[1].array ?? []).compactMap(\.string)
        } while cursor != "0" && keys.count < limit
        return Array(keys.sorted().prefix(limit))
    }

    public static func jsonOrString(_ s: String) -> JSONValue {
        if let first = s.first, first == "{" || first == "[", let v = try? JSONValue.parse(s) { return v }
        return .string(s)
    }

    /// A stream entry as a JSON object: `stream_id` and its fields (JSON where they hold it).
    public static func json(_ e: RedisStreamEntry) -> JSONValue {
        var o: [String: JSONValue] = ["stream_id": .string(e.id)]
        for f in e.fields { o[f.name] = jsonOrString(String(decoding: f.value, as: UTF8.self)) }
        return .object(o)
    }
}
