// MetricsServer: `/metrics` (and `/healthz`) of a worker or scheduler process, on its own port
// (`--metrics-port`), as a Service beside the process's others: the assembly's `MetricsRole`
// (below), which refreshes the worker's and the scheduler's gauges before each scrape. No
// authentication: bind it where only the scraper reaches (the API's own /metrics is likewise open).

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import SluiceMetrics
import SluiceRuntime

public struct MetricsServer: Sendable {
    public let host: String
    public let port: Int
    public let registry: MetricsRegistry
    /// Runs before each scrape to set gauges that are read rather than counted (pool
    /// connections, leadership, last fires).
    let refresh: @Sendable (JobMetrics) async -> Void
    let logger: Logger

    public init(host: String = "127.0.0.1", port: Int, registry: MetricsRegistry, logger: Logger,
                refresh: @escaping @Sendable (JobMetrics) async -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.registry = registry
        self.refresh = refresh
        self.logger = logger
    }

    /// The server as a Service; `onRunning` gets the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.get("/metrics") { [registry, refresh] _, _ -> Response in
            await refresh(registry.jobs)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.exposition())))
        }
        router.get("/healthz") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "{\"status\":\"ok\"}")))
        }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "sluice"),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }
}

/// The metrics role of a process (`--metrics-port`): serves the process's registry, refreshing
/// the worker's and the scheduler's gauges before each scrape (`AssembledRoles.refreshGauges`).
public struct MetricsRole: AttachedRole {
    public let name = "metrics"
    public var host: String
    public var port: Int
    public var onRunning: @Sendable (Int) async -> Void

    public init(host: String = "127.0.0.1", port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.host = host
        self.port = port
        self.onRunning = onRunning
    }

    public func service(for roles: AssembledRoles) throws -> any Service {
        guard let registry = roles.metrics else {
            throw AssemblyError(role: name, reason: "the process records no metrics (ProcessRoles.metrics is nil)")
        }
        return MetricsServer(host: host, port: port, registry: registry, logger: roles.runtime.logger) { jobs in
            await roles.refreshGauges(jobs)
        }.application(onRunning: onRunning)
    }
}
