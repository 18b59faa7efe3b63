// APIRole: the API as a role of the assembly (`AssembledProcess`): the server over the process's
// runtime (its backend is `RuntimeBackend`), with the process's schedules (a handle: listed and
// fired on request, never led here) and metrics registry.

import ServiceLifecycle
import SluiceCatalog
import SluiceMetrics
import SluiceRuntime

public struct APIRole: AttachedRole {
    public let name = "api"
    public var configuration: APIConfiguration
    /// The catalog the cache and import routes read (nil: none loaded).
    public var catalog: Catalog?
    /// Gets the bound port (useful with port 0).
    public var onRunning: @Sendable (Int) async -> Void

    public init(configuration: APIConfiguration, catalog: Catalog?, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.configuration = configuration
        self.catalog = catalog
        self.onRunning = onRunning
    }

    /// The server this role serves (tests reach its router in process).
    public func server(for roles: AssembledRoles) -> APIServer {
        APIServer(configuration: configuration, backend: RuntimeBackend(runtime: roles.runtime, scheduler: roles.scheduler, catalog: catalog),
                  metrics: roles.metrics ?? MetricsRegistry(), logger: roles.runtime.logger)
    }

    public func service(for roles: AssembledRoles) throws -> any Service {
        server(for: roles).application(onRunning: onRunning)
    }
}
