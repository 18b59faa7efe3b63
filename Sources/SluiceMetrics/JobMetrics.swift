// JobMetrics: the series every Sluice process records, through the swift-metrics API, so the
// worker, the scheduler and the API share one vocabulary of names and labels.
//
// Labels are low-cardinality only: `class`, `kind`, `outcome`, `target`, `state`, `schedule`,
// HTTP `route` templates. Never a job id, never an attempt number. Handles are made per call
// (the Prometheus registry returns the same series for the same name and labels), so callers
// need no setup beyond passing a factory.

import CoreMetrics
import Foundation

public struct JobMetrics: Sendable {
    /// The outcome label of a finished attempt.
    public enum Outcome: String, Sendable, CaseIterable {
        case completed, retried, discarded, cancelled, timeout
    }

    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) { self.factory = factory }

    /// One attempt finished: `sluice_jobs_total`, `sluice_job_duration_seconds`.
    public func jobFinished(workloadClass: String, kind: String, outcome: Outcome, duration: Duration) {
        Counter(label: "sluice_jobs_total", dimensions: [("class", workloadClass), ("kind", kind), ("outcome", outcome.rawValue)],
                factory: factory).increment()
        Timer(label: "sluice_job_duration_seconds", dimensions: [("class", workloadClass), ("kind", kind)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    /// A job started after waiting `wait` since it was enqueued (or became due):
    /// `sluice_job_queue_wait_seconds`.
    public func jobStarted(workloadClass: String, kind: String, queueWait wait: Duration) {
        Timer(label: "sluice_job_queue_wait_seconds", dimensions: [("class", workloadClass), ("kind", kind)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(max(.zero, wait)))
    }

    /// Jobs running now in this process and the age of the oldest lease:
    /// `sluice_jobs_running`, `sluice_lease_age_seconds`.
    public func running(workloadClass: String, count: Int, oldestLeaseAge: Duration?) {
        gauge("sluice_jobs_running", [("class", workloadClass)], Double(count))
        gauge("sluice_lease_age_seconds", [("class", workloadClass)], oldestLeaseAge.map(Self.seconds) ?? 0)
    }

    /// The class's queue as the broker and the ledger see it: `sluice_queue_depth`,
    /// `sluice_queue_consumers`, `sluice_queue_oldest_waiting_seconds` (what an autoscaler such
    /// as KEDA scales on).
    public func queue(workloadClass: String, depth: Int, consumers: Int, oldestWaiting: Duration?) {
        gauge("sluice_queue_depth", [("class", workloadClass)], Double(depth))
        gauge("sluice_queue_consumers", [("class", workloadClass)], Double(consumers))
        gauge("sluice_queue_oldest_waiting_seconds", [("class", workloadClass)], oldestWaiting.map(Self.seconds) ?? 0)
    }

    /// Messages in the dead-letter queue: `sluice_dead_letters`.
    public func deadLetters(_ count: Int) {
        gauge("sluice_dead_letters", [], Double(count))
    }

    /// A Postgres pool's connections: `sluice_pool_connections{target,class,state}`.
    public func pool(target: String, workloadClass: String, inUse: Int, idle: Int, waiting: Int) {
        for (state, n) in [("in_use", inUse), ("idle", idle), ("waiting", waiting)] {
            gauge("sluice_pool_connections", [("target", target), ("class", workloadClass), ("state", state)], Double(n))
        }
    }

    /// Whether this scheduler holds leadership: `sluice_scheduler_leader` (1 or 0).
    public func schedulerLeader(_ leader: Bool) {
        gauge("sluice_scheduler_leader", [], leader ? 1 : 0)
    }

    /// A schedule fired: `sluice_schedule_last_fire_timestamp_seconds{schedule}`.
    public func scheduleFired(_ schedule: String, at time: Date) {
        gauge("sluice_schedule_last_fire_timestamp_seconds", [("schedule", schedule)], time.timeIntervalSince1970)
    }

    /// Alerts firing now: `sluice_alerts_firing`.
    public func alertsFiring(_ count: Int) {
        gauge("sluice_alerts_firing", [], Double(count))
    }

    /// One HTTP request of the API: `sluice_http_requests_total{method,route,status}` and
    /// `sluice_http_request_duration_seconds{method,route}`. `route` is the template.
    public func httpRequest(method: String, route: String, status: Int, duration: Duration) {
        Counter(label: "sluice_http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))],
                factory: factory).increment()
        Timer(label: "sluice_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    /// The pruner removed `rows` rows of `table` (`jobs`, `import_rejects`, `schedule_fires`…):
    /// `sluice_pruner_rows_removed_total{table}`.
    public func pruned(table: String, rows: Int) {
        guard rows > 0 else { return }
        Counter(label: "sluice_pruner_rows_removed_total", dimensions: [("table", table)], factory: factory).increment(by: rows)
    }

    /// The ledger table's size after a pruner pass: `sluice_ledger_rows`, `sluice_ledger_bytes`,
    /// `sluice_ledger_dead_tuples` (estimates from the statistics collector).
    public func ledgerSize(rows: Int, bytes: Int, deadTuples: Int) {
        gauge("sluice_ledger_rows", [], Double(rows))
        gauge("sluice_ledger_bytes", [], Double(bytes))
        gauge("sluice_ledger_dead_tuples", [], Double(deadTuples))
    }

    /// Whether this process holds the pruner's lease: `sluice_pruner_leader` (1 or 0).
    public func prunerLeader(_ leader: Bool) {
        gauge("sluice_pruner_leader", [], leader ? 1 : 0)
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)], _ value: Double) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, a) = d.components
        return s * 1_000_000_000 + a / 1_000_000_000
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, a) = d.components
        return Double(s) + Double(a) / 1e18
    }
}
