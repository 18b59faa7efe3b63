// APIServer+Redis: what the API reads from Redis (the dashboard contract in the README): cached
// query outputs, materialized-view freshness, health reports, the alerts stream, and the live job events as server-sent
// events.
//
// Key names and commands are SluiceRuntime's (RedisKeys, DashboardStore) and the analytics
// class's (QueryCache): this file spells neither.

import Foundation
import HTTPTypes
import Hummingbird
import Redis
import ServiceLifecycle
import SluiceCore
import SluiceCatalog
import SluiceJobs
import SluiceRuntime

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
                guard let catalog = backend.catalog, let query = catalog.query(named: name) else {
                    throw APIError.notFound("the catalog declares no query named \(name.debugDescription)")
                }
                guard catalog.target(named: target) != nil else {
                    throw APIError.badRequest("the catalog declares no target named \(target.debugDescription)", field: "target")
                }
                let normalised: QueryParameters
                do {
                    normalised = try QueryParameters.normalise(params, for: query)
                } catch {
                    throw APIError.badRequest(String(describing: error), field: "params")
                }
                let (key, output) = try await bounded("redis") { [backend] in
                    try await backend.cachedOutput(query: name, target: target, params: normalised)
                }
                guard let output else { throw APIError.notFound("no cached output for \(name) with these params") }
                return json(["name": .string(name), "target": .string(target), "params": normalised.json, "key": .string(key),
                             "stale": .bool(output.isStale()), "cache": output.json])
            },
            Route(method: .get, path: "/v1/health/{target}", scope: .read) { [self] _, context, _ in
                let target = context.parameters.get("target") ?? ""
                guard !target.isEmpty, target.count <= 100, !target.contains("*"), !target.contains(":") else {
                    throw APIError.badRequest("not a target name", field: "target")
                }
                let reports = try await bounded("redis") { [backend] in try await backend.healthReports(target: target) }
                return json(["target": .string(target), "reports": .object(reports)])
            },
            Route(method: .get, path: "/v1/matviews", scope: .read) { [self] _, _, _ in
                let views = try await bounded("redis") { [backend] in try await backend.viewFreshness() }
                return json(["views": .object(views)])
            },
            Route(method: .get, path: "/v1/alerts", scope: .read) { [self] request, _, _ in
                let limit = try request.limit(default: 100, max: 1000)
                let entries = try await bounded("redis") { [backend] in try await backend.alerts(limit: limit) }
                let alerts: [JSONValue] = entries.map(DashboardStore.json)
                metrics.jobs.alertsFiring(Self.firing(entries))
                return json(["alerts": .array(alerts), "firing": .int(Int64(Self.firing(entries)))])
            },
            Route(method: .get, path: "/v1/events", scope: .read) { [self] request, _, _ in
                try await events(after: request.headers[HTTPField.Name("Last-Event-ID")!] ?? request.query("after"))
            },
        ]
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
        _ = try await bounded("redis") { [backend] in try await backend.ping(.redis) }
        let backend = backend
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let reader = backend.events()
            var last = after ?? "$"
            do {
                try await writer.write(ByteBuffer(string: ": sluice events\nretry: 2000\n\n"))
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let entries: [RedisStreamEntry]
                    do {
                        entries = try await reader.next(after: last)
                    } catch {
                        try await writer.write(ByteBuffer(string: "event: unavailable\ndata: {\"server\":\"redis\"}\n\n"))
                        try await Task.sleep(for: .seconds(1))
                        continue
                    }
                    var text = ""
                    for entry in entries {
                        last = entry.id
                        text += "id: \(entry.id)\ndata: \(DashboardStore.json(entry).jsonString)\n\n"
                    }
                    try await writer.write(ByteBuffer(string: text.isEmpty ? ": ping\n\n" : text))
                }
                await reader.close()
                try await writer.finish(nil)
            } catch {
                await reader.close()
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
