// MetricsOptions: `--metrics-port` / `--metrics-host` of `sluice worker` and `sluice scheduler`:
// the assembly's metrics role (SluiceMetricsServer.MetricsRole) and the registry the process's
// roles record to, or neither when the port is 0.

import ArgumentParser
import SluiceMetrics
import SluiceMetricsServer
import SluiceRuntime

struct MetricsOptions: ParsableArguments {
    @Option(help: "Serve Prometheus /metrics on this port (0: none).") var metricsPort = 0
    @Option(help: "Address of the metrics port.") var metricsHost = "127.0.0.1"

    /// `roles` with a metrics registry and the metrics role, when a port is given.
    func add(to roles: ProcessRoles) -> ProcessRoles {
        guard metricsPort > 0 else { return roles }
        var roles = roles
        roles.metrics = MetricsRegistry()
        roles.attached.append(MetricsRole(host: metricsHost, port: metricsPort))
        return roles
    }
}
