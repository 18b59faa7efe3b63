// APIServer+Operators: queues (broker depth and consumers, ledger counts and the oldest waiting
// job), dead letters (list, replay), schedules (list, run now) and the readiness probe.
//
// Each read names the server it needs; when that server does not answer within the dependency
// timeout the route fails fast with a 503 saying which.

import Foundation
import HTTPTypes
import Hummingbird
import RabbitMQ
import SluiceCore
import SluiceRuntime

extension APIServer {
    var operatorRoutes: [Route] {
        [
            Route(method: .get, path: "/v1/queues", scope: .read) { [self] _, _, _ in json(try await queues()) },
            Route(method: .get, path: "/v1/dead", scope: .read) { [self] request, _, _ in
                let limit = try request.limit(default: 100, max: 1000)
                let letters = try await bounded("rabbitmq") { [backend] in try await backend.deadLetters(limit: limit) }
                return json(["dead": .array(letters.map(\.json))])
            },
            Route(method: .post, path: "/v1/dead/{id}/replay", scope: .admin) { [self] _, context, _ in
                let id = try jobID(context)
                let found = try await bounded("rabbitmq") { [backend] in
                    do {
                        return try await backend.replay(id)
                    } catch let e as ReplayError {
                        throw APIError(.unprocessableContent, "not_replayable", e.reason)
                    }
                }
                guard found else { throw APIError.notFound("no dead letter has job id \(id)") }
                return json(["id": .string(id.description), "replayed": true])
            },
            Route(method: .get, path: "/v1/schedules", scope: .read) { [self] _, _, _ in
                let statuses = try await bounded("postgres") { [backend] in try await backend.schedules() }
                return json(["schedules": .array((statuses ?? []).map(\.json))])
            },
            Route(method: .post, path: "/v1/schedules/{name}/run", scope: .admin) { [self] _, context, _ in
                let name = context.parameters.get("name") ?? ""
                do {
                    let fire = try await backend.fireSchedule(name)
                    return json(["schedule": .string(fire.schedule), "fire": .string(fire.key), "id": .string(fire.jobID.description),
                                 "duplicate": .bool(fire.duplicate)], .created)
                } catch let e as SchedulerError where e.code == .unknownSchedule {
                    throw APIError.notFound(e.message)
                } catch let e as SchedulerError {
                    throw APIError.unavailable("the job pipeline", e.message)
                }
            },
        ]
    }

    /// Per class: broker depth and consumers, ledger waiting / running / last-hour counts, rate
    /// per minute and the oldest waiting job's age; and the dead-letter count.
    func queues() async throws -> JSONValue {
        let classes = WorkloadClass.allCases.map(\.rawValue)
        let broker = try await brokerQueues()
        let (counts, oldest) = try await bounded("postgres") { [backend] in try await backend.classCounts(classes) }
        let now = Date()
        var out: [String: JSONValue] = [:]
        for c in classes {
            let q = broker.classes[c]
            let n = counts[c]
            let age = oldest[c].map { max(0, now.timeIntervalSince($0)) }
            var o = broker.json(class: c, queue: backend.topology.queue(for: c), counts: n)
            o["completed_per_minute"] = .double(Double(n?.completedLastHour ?? 0) / 60)
            o["oldest_waiting_s"] = age.map { .double(($0 * 1000).rounded() / 1000) } ?? .null
            out[c] = .object(o)
            metrics.jobs.queue(workloadClass: c, depth: Int(q?.messageCount ?? 0), consumers: Int(q?.consumerCount ?? 0),
                               oldestWaiting: age.map { .milliseconds(Int64($0 * 1000)) })
        }
        if let dead = broker.dead { metrics.jobs.deadLetters(Int(dead.messageCount)) }
        return ["classes": .object(out), "dead": broker.deadJSON]
    }

    /// Every class queue and the dead-letter queue (QueueInspector).
    func brokerQueues() async throws -> QueueInspector.Snapshot {
        try await bounded("rabbitmq") { [backend] in try await backend.queueSnapshot() }
    }

    /// Refreshes the queue gauges before a scrape, best effort (a down server leaves the last values).
    func refreshQueueGauges() async {
        _ = try? await queues()
    }

    /// 200 when Postgres, RabbitMQ and Redis all answer; otherwise 503 naming which do not.
    func readiness() async throws -> Response {
        async let postgres: String? = check("postgres") { [backend] in try await backend.ping(.postgres) }
        async let rabbitmq: String? = check("rabbitmq") { [backend] in try await backend.ping(.rabbitmq) }
        async let redis: String? = check("redis") { [backend] in try await backend.ping(.redis) }
        let results = [("postgres", await postgres), ("rabbitmq", await rabbitmq), ("redis", await redis)]
        var servers: [String: JSONValue] = [:]
        for (name, error) in results {
            servers[name] = error.map { .object(["ok": false, "error": .string($0)]) } ?? .object(["ok": true])
        }
        let ready = results.allSatisfy { $0.1 == nil }
        return json(["ready": .bool(ready), "servers": .object(servers)], ready ? .ok : .serviceUnavailable)
    }

    private func check(_ server: String, _ body: @escaping @Sendable () async throws -> Void) async -> String? {
        do {
            try await bounded(server, body)
            return nil
        } catch let e as APIError {
            return e.message
        } catch {
            return Self.describe(error)
        }
    }
}
