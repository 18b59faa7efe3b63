// `sluice bench refresh`: how long refreshing demo.campaign_analytics takes over the demo data
// in the current database (SLUICE_POSTGRES_URL), plainly and CONCURRENTLY, through the real
// `refresh.matview` job, and the longest a dashboard-style reader (`SELECT … LIMIT 50` in a loop
// on its own connection) waited meanwhile. The target: readers never wait on a concurrent
// refresh. Needs the demo loaded (`sluice demo load`); prints figures, never fails on them.

import ArgumentParser
import SluiceCLI
import ClientSupport
import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCatalogLoader
import SluiceDemo
import SluiceJobs
import Synchronization

struct BenchRefresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Refresh demo.campaign_analytics plain and concurrently; the longest a reader waited meanwhile.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Refreshes per mode (the figures are the slowest and the mean).") var runs = 1

    static let view = "demo.campaign_analytics"
    static let readerQuery = """
        SELECT campaign_id, campaign_name, sent_count, open_rate, click_rate FROM demo.campaign_analytics
        ORDER BY open_rate DESC LIMIT 50
        """

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.bench.refresh")
        guard runs >= 1 else { throw CommandFailure(description: "--runs must be at least 1") }
        var catalog: Catalog
        do {
            catalog = try CatalogLoader.load(directory: settings.catalogPath)
        } catch {
            throw CommandFailure(description: "the catalog in \(settings.catalogPath) does not load:\n\(error)")
        }
        guard let index = catalog.materializedViews.firstIndex(where: { $0.view.description == Self.view }) else {
            throw CommandFailure(description: "the catalog does not declare \(Self.view)")
        }
        let connection = try PostgresConfiguration(url: settings.postgresURL)
        let pool = PostgresPool(configuration: .init(connection: connection, maxConnections: 2), logger: logger)
        defer { Task { await pool.close() } }

        // The demo must be loaded.
        let sizes = try await pool.withConnection { c -> (events: Int, sends: Int, campaigns: Int)? in
            guard try await c.query("SELECT to_regclass('demo.campaign_analytics') IS NOT NULL")[0].decode(0, as: Bool.self) else {
                return nil
            }
            func estimate(_ table: String) async throws -> Int {
                try await c.query(
                    """
                    SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = $1::regclass
                    """, [.text(table)])[0].decode(0, as: Int.self)
            }
            return (try await estimate("demo.email_events"), try await estimate("demo.email_sends"),
                    try await c.query("SELECT count(*) FROM demo.campaigns")[0].decode(0, as: Int.self))
        }
        guard let sizes else {
            throw CommandFailure(description: "the demo is not loaded in \(connection.endpoint): run `sluice demo load` first")
        }
        if sizes.events == 0 && !json {
            print("note: demo.email_events looks empty (or never analyzed); the figures say little — load the demo first")
        }

        let idle = try await Self.readerLatencies(connection, logger: logger, count: 100)
        var results: [String: Any] = [:]
        for mode in [MaterializedView.RefreshMode.plain, .concurrent] {
            catalog.materializedViews[index].refresh = mode
            var durations: [Double] = []
            var readerMax = 0.0
            var readerQueries = 0
            var rows = 0
            for _ in 0..<runs {
                let reader = ReaderLoop()
                let readerTask = Task { try await reader.run(connection, logger: logger) }
                try await reader.started()
                let report = try await MatviewRefreshJob.run(
                    catalog: catalog, pool: pool, arguments: .init(view: Self.view), progress: { _ in }, logger: logger)
                reader.stop()
                try await readerTask.value
                durations.append(report.durationSeconds)
                rows = report.rows
                readerMax = max(readerMax, reader.maxMilliseconds)
                readerQueries += reader.queries
            }
            results[mode.rawValue] = [
                "refresh_seconds_max": durations.max() ?? 0, "refresh_seconds_mean": durations.reduce(0, +) / Double(durations.count),
                "reader_max_wait_ms": readerMax, "reader_queries": readerQueries, "rows": rows, "runs": runs,
            ] as [String: Any]
        }
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        results["build"] = build
        results["database"] = connection.endpoint
        results["email_events_estimate"] = sizes.events
        results["email_sends_estimate"] = sizes.sends
        results["campaigns"] = sizes.campaigns
        results["reader_idle_ms"] = idle
        if json {
            Output.json(results)
            return
        }
        print("refresh \(Self.view) over ~\(sizes.events) events, ~\(sizes.sends) sends, \(sizes.campaigns) campaigns (\(connection.endpoint))")
        print(String(format: "reader alone: p50 %.2f ms, max %.2f ms", idle["p50"] ?? 0, idle["max"] ?? 0))
        for mode in ["plain", "concurrent"] {
            guard let r = results[mode] as? [String: Any] else { continue }
            print(String(format: "%-10@ refresh %.2f s (max of %d); reader waited at most %.1f ms over %d queries",
                         mode as NSString, r["refresh_seconds_max"] as! Double, runs, r["reader_max_wait_ms"] as! Double,
                         r["reader_queries"] as! Int))
        }
    }

    /// p50 / max of `count` reader queries with nothing else running.
    static func readerLatencies(_ configuration: PostgresConfiguration, logger: Logger, count: Int) async throws -> [String: Double] {
        let c = try await PostgresConnection.connect(configuration, logger: logger)
        var samples: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            _ = try await c.query(readerQuery)
            samples.append((ContinuousClock.now - start).seconds * 1000)
        }
        await c.close()
        let sorted = samples.sorted()
        return ["p50": sorted[sorted.count / 2], "max": sorted.last ?? 0]
    }
}

/// A dashboard-style reader: the same query in a loop on its own connection, keeping the longest wait.
private final class ReaderLoop: Sendable {
    private struct State {
        var stop = false
        var started = false
        var max = 0.0
        var queries = 0
    }
    private let state = Mutex(State())

    func run(_ configuration: PostgresConfiguration, logger: Logger) async throws {
        var config = configuration
        config.applicationName = "sluice bench reader"
        defer { state.withLock { $0.started = true } }
        let c = try await PostgresConnection.connect(config, logger: logger)
        state.withLock { $0.started = true }
        while !state.withLock({ $0.stop }) {
            let start = ContinuousClock.now
            _ = try await c.query(BenchRefresh.readerQuery)
            let ms = (ContinuousClock.now - start).seconds * 1000
            state.withLock {
                $0.max = Swift.max($0.max, ms)
                $0.queries += 1
            }
        }
        await c.close()
    }

    /// Waits until the reader's connection is open.
    func started() async throws {
        while !state.withLock({ $0.started }) { try await Task.sleep(for: .milliseconds(5)) }
    }

    func stop() { state.withLock { $0.stop = true } }
    var maxMilliseconds: Double { state.withLock { $0.max } }
    var queries: Int { state.withLock { $0.queries } }
}
