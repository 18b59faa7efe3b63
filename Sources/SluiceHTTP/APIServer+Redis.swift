// APIServer+Redis: what the API reads from Redis (the dashboard contract in the README): cached
// query outputs, materialized-view freshness, health reports, the alerts stream, and the live job events as server-sent
// events.
//
// Key names follow DESIGN.md under the configured prefix: `cache:{query}:{params-hash}`,
// `health:{target}:{report}`, the `alerts` and `events` streams.

import Foundation
import HTTPTypes
import Hummingbird
import Redis
import ServiceLifecycle
import SluiceCore
import SluiceCatalog
import SluiceJobs

extension APIServer {
    var redisRoutes: [Route] {
        [
            Route(method: .get, path: "/v1/cache/{name}", scope: .read) { [self] request, context, _ in
                let name = context.parameters.get("name") ?? ""
                guard !name.isEmpty, name.count <= 200, !name.contains(":") else {
                    throw APIError.badRequest("not a query name", field: "name")
                }
                var params: [String: JSONValue] = [:]
                if let text = request.query("params") {
                    guard let p = try? JSONValue.parse(text), let object = p.objectValue else {
                        throw APIError.badRequest("params must be a JSON object", field: "params")
                    }
                    params = object
                }
                let target = request.query("target") ?? "main"
                // The key is the analytics class's (`QueryCache`): the params are normalised by
                // the query's declared types first, so `7` and `"7"` read the same output.
                guard let catalog = backend.catalog, catalog.query(named: name) != nil else {
                    throw APIError.notFound("the catalog declares no query named \(name.debugDescription)")
                }
                guard catalog.target(named: target) != nil else {
                    throw APIError.badRequest("the catalog declares no target named \(target.debugDescription)", field: "target")
                }
                let reader = CacheReader(cache: QueryCache(redis: backend.redis, prefix: backend.redisPrefix), catalog: catalog)
                let normalised: QueryParameters
                do {
                    normalised = try reader.parameters(name: name, params: params).1
                } catch {
                    throw APIError.badRequest(String(describing: error), field: "params")
                }
                let key = reader.cache.key(query: name, target: target, params: normalised)
                let output = try await bounded("redis") { try await reader.cache.read(key: key) }
                guard let output else { throw APIError.notFound("no cached output for \(name) with these params") }
                return json(["name": .string(name), "target": .string(target), "params": normalised.json, "key": .string(key),
                             "stale": .bool(output.isStale()), "cache": output.json])
            },
            Route(method: .get, path: "/v1/health/{target}", scope: .read) { [self] _, context, _ in
                let target = context.parameters.get("target") ?? ""
                guard !target.isEmpty, target.count <= 100, !target.contains("*"), !target.contains(":") else {
                    throw APIError.badRequest("not a target name", field: "target")
                }
                let prefix = "\(backend.redisPrefix)health:\(target):"
                let reports = try await bounded("redis") { [backend] in
                    var out: [String: JSONValue] = [:]
                    for key in try await Self.scan(backend.redis, match: prefix + "*", limit: 200) {
                        if let v = try await Self.readKey(backend.redis, key) { out[String(key.dropFirst(prefix.count))] = v }
                    }
                    return out
                }
                return json(["target": .string(target), "reports": .object(reports)])
            },
            Route(method: .get, path: "/v1/matviews", scope: .read) { [self] _, _, _ in
                let prefix = "\(backend.redisPrefix)matview:"
                let views = try await bounded("redis") { [backend] in
                    var out: [String: JSONValue] = [:]
                    for key in try await Self.scan(backend.redis, match: prefix + "*", limit: 500) {
                        if let v = try await Self.readKey(backend.redis, key) { out[String(key.dropFirst(prefix.count))] = v }
                    }
                    return out
                }
                return json(["views": .object(views)])
            },
            Route(method: .get, path: "/v1/alerts", scope: .read) { [self] request, _, _ in
                var limit = 100
                if let l = request.rawQuery("limit") {
                    guard let n = Int(l), (1...1000).contains(n) else { throw APIError.badRequest("limit must be 1 to 1000", field: "limit") }
                    limit = n
                }
                let key = "\(backend.redisPrefix)alerts"
                let entries = try await bounded("redis") { [backend, limit] in
                    let reply = try await backend.redis.send(["XREVRANGE", RedisArgument(key), "+", "-", "COUNT", RedisArgument(limit)])
                    return try RedisStreamEntry.entries(from: reply)
                }
                let alerts: [JSONValue] = entries.map(Self.entryJSON)
                metrics.jobs.alertsFiring(Self.firing(entries))
                return json(["alerts": .array(alerts), "firing": .int(Int64(Self.firing(entries)))])
            },
            Route(method: .get, path: "/v1/events", scope: .read) { [self] request, _, _ in
                try await events(after: request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.query("after"))
            },
        ]
    }

    /// A key's value as JSON whatever its type: a hash as an object (fields that hold JSON are
    /// parsed), a string as JSON when it parses, else as a string. Nil when missing.
    static func readKey(_ redis: RedisPool, _ key: String) async throws -> JSONValue? {
        let type = try await redis.send(["TYPE", RedisArgument(key)]).string ?? "none"
        switch type {
        case "hash":
            let fields = try await redis.send(["HGETALL", RedisArgument(key)]).dictionary ?? [:]
            return .object(fields.mapValues(jsonOrString))
        case "string":
            guard let s = try await redis.send(["GET", RedisArgument(key)]).string else { return nil }
            return jsonOrString(s)
        case "none":
            return nil
        default:
            return .object(["type": .string(type)])
        }
    }

    static func jsonOrString(_ s: String) -> JSONValue {
        if let first = s.first, first == "{" || first == "[", let v = try? JSONValue.parse(s) { return v }
        return .string(s)
    }

    static func scan(_ redis: RedisPool, match: String, limit: Int) async throws -> [String] {
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

    static func entryJSON(_ e: RedisStreamEntry) -> JSONValue {
        var o: [String: JSONValue] = ["stream_id": .string(e.id)]
        for f in e.fields { o[f.name] = jsonOrString(String(decoding: f.value, as: UTF8.self)) }
        return .object(o)
    }

    /// Alerts whose latest entry (per `alert` field, newest first) is `firing`.
    static func firing(_ newestFirst: [RedisStreamEntry]) -> Int {
        var seen: Set<String> = []
        var firing = 0
        for e in newestFirst {
            let name = e[string: "alert"] ?? e[string: "name"] ?? e.id
            guard seen.insert(name).inserted else { continue }
            if (e[string: "state"] ?? e[string: "status"]) == "firing" { firing += 1 }
        }
        return firing
    }

    /// `text/event-stream` of the job events stream, from `after` (a stream id; default: only
    /// new events). Each event is `id: <stream id>` and `data: <JSON>`; a comment every few
    /// seconds keeps proxies from closing the connection. Ends at graceful shutdown or when the
    /// client leaves.
    func events(after: String?) async throws -> Response {
        if let after, !Self.isStreamID(after) { throw APIError.badRequest("not a stream id", field: "after") }
        // Fail fast when Redis is down, before committing to a 200.
        _ = try await bounded("redis") { [backend] in try await backend.redis.send(["PING"]) }
        let key = "\(backend.redisPrefix)events"
        let configuration = backend.redisConfiguration
        let logger = logger
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let connection = RedisBlockingConnection(configuration: configuration, logger: logger)
            var last = after ?? "$"
            do {
                try await writer.write(ByteBuffer(string: ": sluice events\nretry: 2000\n\n"))
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let streams: [(stream: String, entries: [RedisStreamEntry])]
                    do {
                        streams = try await connection.xread(streams: [(key, last)], count: 200, block: .seconds(2))
                    } catch {
                        try await writer.write(ByteBuffer(string: "event: unavailable\ndata: {\"server\":\"redis\"}\n\n"))
                        try await Task.sleep(for: .seconds(1))
                        continue
                    }
                    var text = ""
                    for entry in streams.flatMap(\.entries) {
                        last = entry.id
                        text += "id: \(entry.id)\ndata: \(Self.entryJSON(entry).jsonString)\n\n"
                    }
                    try await writer.write(ByteBuffer(string: text.isEmpty ? ": ping\n\n" : text))
                }
                await connection.close()
                try await writer.finish(nil)
            } catch {
                await connection.close()
                throw error
            }
        })
    }

    static func isStreamID(_ s: String) -> Bool {
        guard s.count <= 40 else { return false }
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        return (parts.count == 1 || parts.count == 2) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }
}
