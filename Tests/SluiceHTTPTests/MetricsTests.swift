// The metrics vocabulary: what JobMetrics records shows up in the Prometheus exposition with the
// right names, labels and values, and no job id ever becomes a label.

import Foundation
import ServiceLifecycle
import SluiceHTTP
import SluiceMetrics
import SluiceMetricsServer
import Testing

@Suite struct MetricsTests {
    @Test func seriesAndValues() {
        let registry = MetricsRegistry()
        let m = registry.jobs
        m.jobFinished(workloadClass: "analytics", kind: "sys.noop", outcome: .completed, duration: .milliseconds(20))
        m.jobFinished(workloadClass: "analytics", kind: "sys.noop", outcome: .completed, duration: .milliseconds(40))
        m.jobFinished(workloadClass: "maintenance", kind: "maintenance.vacuum", outcome: .discarded, duration: .seconds(3))
        m.jobStarted(workloadClass: "analytics", kind: "sys.noop", queueWait: .milliseconds(3))
        m.queue(workloadClass: "analytics", depth: 12, consumers: 2, oldestWaiting: .seconds(4))
        m.running(workloadClass: "analytics", count: 3, oldestLeaseAge: .seconds(10))
        m.pool(target: "main", workloadClass: "analytics", inUse: 2, idle: 1, waiting: 0)
        m.schedulerLeader(true)
        m.scheduleFired("nightly", at: Date(timeIntervalSince1970: 1_700_000_000))
        m.alertsFiring(2)
        let text = String(decoding: registry.exposition(), as: UTF8.self)
        #expect(text.contains("sluice_jobs_total{class=\"analytics\",kind=\"sys.noop\",outcome=\"completed\"} 2"))
        #expect(text.contains("sluice_jobs_total{class=\"maintenance\",kind=\"maintenance.vacuum\",outcome=\"discarded\"} 1"))
        #expect(text.contains("sluice_job_duration_seconds_count{class=\"analytics\",kind=\"sys.noop\"} 2"))
        #expect(text.contains("sluice_job_duration_seconds_bucket{class=\"analytics\",kind=\"sys.noop\",le=\"0.025\"} 1"))
        #expect(text.contains("sluice_job_queue_wait_seconds_count{class=\"analytics\",kind=\"sys.noop\"} 1"))
        #expect(text.contains("sluice_queue_depth{class=\"analytics\"} 12"))
        #expect(text.contains("sluice_queue_consumers{class=\"analytics\"} 2"))
        #expect(text.contains("sluice_queue_oldest_waiting_seconds{class=\"analytics\"} 4"))
        #expect(text.contains("sluice_jobs_running{class=\"analytics\"} 3"))
        #expect(text.contains("sluice_pool_connections{target=\"main\",class=\"analytics\",state=\"in_use\"} 2"))
        #expect(text.contains("sluice_scheduler_leader 1"))
        #expect(text.contains("sluice_schedule_last_fire_timestamp_seconds{schedule=\"nightly\"} 1700000000"))
        #expect(text.contains("sluice_alerts_firing 2"))
    }
}

/// A worker that ran jobs, scraped over HTTP on its metrics port.
@Suite(.serialized) struct WorkerMetricsTests {
    @Test func workerMetricsEndpoint() async throws {
        try await withAPI { api in
            let registry = MetricsRegistry()
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let server = MetricsServer(port: 0, registry: registry, logger: testLogger).application { continuation.yield($0) }
            let task = Task { try await ServiceGroup(configuration: .init(services: [server], logger: testLogger)).run() }
            defer { task.cancel() }
            var port = 0
            for await p in ports { port = p; break }
            var ids: [String] = []
            for i in 0..<3 {
                let r = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.noop", "args": ["i": .int(Int64(i))]], token: APIFixture.enqueueToken)
                ids.append(try #require(r.json["id"]?.stringValue))
            }
            let slow = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.sleep", "args": ["ms": 3000], "timeout_s": 1, "max_attempts": 1],
                                                 token: APIFixture.enqueueToken)
            ids.append(try #require(slow.json["id"]?.stringValue))
            let all = ids
            try await api.withWorker(metrics: registry.jobs) {
                for id in all { _ = try await api.waitJob(id) { ["completed", "discarded"].contains($0["state"]?.stringValue ?? "") } }
            }
            let scrape = try await HTTPClient(port: port).request("GET", "/metrics")
            #expect(scrape.status == 200)
            let text = scrape.text
            #expect(text.contains("sluice_jobs_total{class=\"analytics\",kind=\"sys.noop\",outcome=\"completed\"} 3"))
            #expect(text.contains("sluice_jobs_total{class=\"analytics\",kind=\"sys.sleep\",outcome=\"timeout\"} 1"))
            #expect(text.contains("sluice_job_duration_seconds_count{class=\"analytics\",kind=\"sys.noop\"} 3"))
            #expect(text.contains("sluice_job_queue_wait_seconds_count{class=\"analytics\",kind=\"sys.noop\"} 3"))
            // No job id anywhere in the exposition.
            for id in ids { #expect(!text.contains(id)) }
        }
    }

    /// The running-jobs gauges the worker's scrape reads from the ledger.
    @Test func runningJobsFromTheLedger() async throws {
        try await withAPI { api in
            let r = try await api.client.json("POST", "/v1/jobs", ["kind": "sys.sleep", "args": ["ms": 2500]], token: APIFixture.enqueueToken)
            let id = try #require(r.json["id"]?.stringValue)
            try await api.withWorker {
                _ = try await api.waitJob(id) { $0["state"]?.stringValue == "running" }
                try await Task.sleep(for: .milliseconds(600))
                let running = try await api.ledger.running(worker: nil)
                #expect(running["analytics"]?.count == 1)
                #expect((running["analytics"]?.oldest ?? .zero) >= .milliseconds(500))
                #expect(try await api.ledger.running(worker: "nobody").isEmpty)
                let registry = MetricsRegistry()
                registry.jobs.running(workloadClass: "analytics", count: running["analytics"]?.count ?? 0, oldestLeaseAge: running["analytics"]?.oldest)
                #expect(String(decoding: registry.exposition(), as: UTF8.self).contains("sluice_jobs_running{class=\"analytics\"} 1"))
                _ = try await api.waitJob(id) { $0["state"]?.stringValue == "completed" }
            }
        }
    }
}
