// `sluice cache get NAME --params JSON [--refresh-if-stale]`: a cached query output as a
// dashboard reads it (one GET of `sluice:cache:{name}:{params-hash}`), and, when asked, one
// refresh enqueued if it is missing or stale. A Redis that does not answer fails fast.

import ArgumentParser
import SluiceCLI
import Foundation
import Redis
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache", abstract: "Read cached query outputs (analytics.query).", subcommands: [Get.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "get", abstract: "Print a cached query output; enqueue a refresh when it is missing or stale.")

        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The query's name in the catalog (queries:).") var name: String
        @Option(help: "The query's parameters as a JSON object.") var params: String = "{}"
        @Option(help: "The target database.") var target: String = "main"
        @Flag(help: "Enqueue a refresh when the output is missing or stale (one per output, whatever the number of readers).")
        var refreshIfStale = false
        @Flag(help: "Print only the key and its params hash.") var keyOnly = false

        func run() async throws {
            guard case .object(let parsed) = try? JSONValue.parse(params) else {
                throw ValidationError("--params must be a JSON object, e.g. '{\"workspace_id\": \"…\"}'")
            }
            let services = try RuntimeServices(options, label: "sluice.cache", ledgerConnections: 1)
            defer { Task { await services.close() } }
            guard let catalog = services.catalog else { throw CommandFailure(description: "no catalog: no queries are declared") }
            guard catalog.target(named: target) != nil else { throw CommandFailure(description: "no target named \(target)") }
            // A dashboard read must not hang: short timeouts on a connection of its own.
            var redisConfiguration = services.runtime.configuration.redis
            redisConfiguration.connectTimeout = .seconds(1)
            redisConfiguration.commandTimeout = .seconds(1)
            let redis = RedisPool(configuration: RedisPoolConfiguration(connection: redisConfiguration, size: 1, acquireTimeout: .seconds(1)))
            defer { Task { await redis.close() } }
            let reader = CacheReader(cache: QueryCache(redis: redis, prefix: services.settings.redisPrefix), catalog: catalog)
            if keyOnly {
                let (query, normalised) = try reader.parameters(name: name, params: parsed)
                print(reader.cache.key(query: query.name.rawValue, target: target, params: normalised))
                return
            }
            let producer = services.producer
            var enqueue: (@Sendable (JobRequest) async throws -> EnqueueResult)?
            if refreshIfStale {
                enqueue = { request in
                    var request = request
                    request.enqueuedBy = CLIIdentity.current
                    return try await producer.enqueue(request)
                }
            }
            let read: CacheReader.Read
            do {
                read = try await reader.read(name: name, params: parsed, target: target, enqueue: enqueue)
            } catch let error as RedisError {
                throw CommandFailure(description: "Redis did not answer (\(error.code)): \(error.message)")
            } catch let error as CacheReader.ReadError {
                throw CommandFailure(description: error.description)
            }
            if options.json {
                var o: [String: JSONValue] = ["key": .string(read.key), "stale": .bool(read.stale),
                                              "output": read.output?.json ?? .null]
                if let r = read.refresh { o["refresh_job"] = .string(r.id.description); o["refresh_duplicate"] = .bool(r.duplicate) }
                printJSON(.object(o))
                return
            }
            print("key: \(read.key)")
            if let out = read.output {
                let computed = out.computedAt.map { $0.formatted(Date.ISO8601FormatStyle()) } ?? "never"
                print("computed_at: \(computed)  stale_after: \(out.staleAfter.formatted(Date.ISO8601FormatStyle()))\(read.stale ? "  (STALE)" : "")")
                print("rows: \(out.rowCount)  duration_ms: \(out.durationMS)  job_id: \(out.jobID)")
                if let e = out.lastError { print("last_error: \(e)") }
                if case .array(let rows) = out.rows {
                    for row in rows.prefix(50) { print("  \(row.jsonString)") }
                    if rows.count > 50 { print("  … \(rows.count - 50) more (use --json)") }
                }
            } else {
                print("no cached output")
            }
            if let r = read.refresh {
                print("refresh: job \(r.id)\(r.duplicate ? " (already queued)" : " enqueued")")
            } else if read.stale && !refreshIfStale {
                print("(pass --refresh-if-stale to enqueue a refresh)")
            }
        }
    }
}
