// MetricsRegistry: one process's Prometheus registry and the swift-metrics factory writing into
// it. The executable makes one, may bootstrap `MetricsSystem` with `factory`, and serves
// `exposition()` at /metrics; tests make their own, so nothing global is shared between them.

import CoreMetrics
import Prometheus

public final class MetricsRegistry: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    public let jobs: JobMetrics

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Jobs run from milliseconds (analytics) to hours (VACUUM FULL, big imports).
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
            .seconds(900), .seconds(3600),
        ]
        self.factory = factory
        jobs = JobMetrics(factory: factory)
    }

    /// The text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
