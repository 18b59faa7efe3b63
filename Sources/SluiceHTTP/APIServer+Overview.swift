// APIServer+Overview: the read-only routes behind the dashboard's charts and maintenance tables.
//
// `GET /v1/overview/series` answers, on one dense time axis, jobs completed and failed per
// bucket and class with their p50/p95 run time (one grouped ledger statement over the window:
// see Ledger+Series for why it stays cheap on a large ledger) and the queue depth and oldest
// waiting age this process sampled (`QueueHistory`). `GET /v1/maintenance/{target}` joins the
// catalog's partitioned tables and materialized views with what the health reports and the
// refresh jobs left in Redis: months ahead against the catalog's ask, rows in DEFAULT, the next
// retention action, each view's last refresh against its schedule and its dependent queries.

import Foundation
import HTTPTypes
import Hummingbird
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime

extension APIServer {
    /// The chart windows and their bucket sizes: an hour by the minute, a day by ten minutes.
    static let seriesWindows: [String: (window: Int, step: Int)] = ["1h": (3600, 60), "24h": (86_400, 600)]

    var overviewRoutes: [Route] {
        [
            Route(method: .get, path: "/v1/overview/series", scope: .read) { [self] request, _, _ in
                let name = request.rawQuery("window") ?? "1h"
                guard let window = Self.seriesWindows[name] else {
                    throw APIError.badRequest("window must be one of \(Self.seriesWindows.keys.sorted().joined(separator: ", "))", field: "window")
                }
                return json(try await series(window: window.window, step: window.step, name: name))
            },
            Route(method: .get, path: "/v1/maintenance/{target}", scope: .read) { [self] _, context, _ in
                let target = context.parameters.get("target") ?? ""
                guard !target.isEmpty, target.count <= 100, !target.contains("*"), !target.contains(":") else {
                    throw APIError.badRequest("not a target name", field: "target")
                }
                return json(try await maintenanceOverview(target: target))
            },
        ]
    }

    // MARK: Series

    func series(window: Int, step: Int, name: String) async throws -> JSONValue {
        let classes = WorkloadClass.allCases.map(\.rawValue)
        let now = Date()
        let first = (Int(now.timeIntervalSince1970) - window) / step * step + step
        let last = Int(now.timeIntervalSince1970) / step * step
        let count = (last - first) / step + 1
        let since = Date(timeIntervalSince1970: Double(first))
        let rows = try await bounded("postgres") { [backend] in
            try await backend.throughput(classes: classes, since: since, step: .seconds(step))
        }
        let samples = queueHistory.since(since)
        func index(_ date: Date) -> Int? {
            let i = (Int(date.timeIntervalSince1970) - first) / step
            return (0..<count).contains(i) ? i : nil
        }
        func rounded(_ v: Double?) -> JSONValue { v.map { .double(($0 * 10).rounded() / 10) } ?? .null }
        var out: [String: JSONValue] = [:]
        for c in classes {
            var completed = [Int64](repeating: 0, count: count), failed = [Int64](repeating: 0, count: count)
            var p50 = [JSONValue](repeating: .null, count: count), p95 = [JSONValue](repeating: .null, count: count)
            var totals: JSONValue = ["completed": 0, "failed": 0, "p50_ms": .null, "p95_ms": .null]
            for r in rows where r.workloadClass == c {
                guard let start = r.start else {
                    totals = ["completed": .int(Int64(r.completed)), "failed": .int(Int64(r.failed)), "p50_ms": rounded(r.p50ms),
                              "p95_ms": rounded(r.p95ms)]
                    continue
                }
                guard let i = index(start) else { continue }
                completed[i] = Int64(r.completed)
                failed[i] = Int64(r.failed)
                p50[i] = rounded(r.p50ms)
                p95[i] = rounded(r.p95ms)
            }
            // Queue samples: the largest depth and age seen in each bucket.
            var depth = [JSONValue](repeating: .null, count: count), oldest = [JSONValue](repeating: .null, count: count)
            for s in samples {
                guard let i = index(s.at), let q = s.classes[c] else { continue }
                if let d = q.depth { depth[i] = .int(max(Int64(d), depth[i].intValue ?? 0)) }
                if let o = q.oldestWaitingS { oldest[i] = .double(max(o, oldest[i].number ?? 0)) }
                else if oldest[i] == .null { oldest[i] = .double(0) }
            }
            out[c] = [
                "completed": .array(completed.map { .int($0) }), "failed": .array(failed.map { .int($0) }),
                "p50_ms": .array(p50), "p95_ms": .array(p95), "depth": .array(depth), "oldest_waiting_s": .array(oldest),
                "totals": totals,
            ]
        }
        return [
            "window": .string(name), "window_s": .int(Int64(window)), "step_s": .int(Int64(step)),
            "start": .string(Timestamp.format(since)), "now": .string(Timestamp.format(now)),
            "t": .array((0..<count).map { .int(Int64(first + $0 * step)) }),
            "samples": .int(Int64(samples.count)), "classes": .object(out),
        ]
    }

    /// Samples queue depth and the oldest waiting job every `interval` until cancelled (the
    /// server's application ends it). A failed sample (a server down) is skipped.
    func sampleQueues(every interval: Duration) async {
        while !Task.isCancelled {
            if let q = try? await queues() { recordQueueSample(q) }
            try? await Task.sleep(for: interval)
        }
    }

    /// Records the answer of `queues()` as one sample.
    func recordQueueSample(_ q: JSONValue) {
        var classes: [String: (depth: Int?, oldestWaitingS: Double?)] = [:]
        for (name, c) in q["classes"]?.objectValue ?? [:] {
            classes[name] = (c["depth"]?.intValue.map { Int($0) }, c["oldest_waiting_s"]?.number)
        }
        queueHistory.record(QueueHistory.Sample(at: Date(), classes: classes))
    }

    // MARK: Partitions and views

    func maintenanceOverview(target: String) async throws -> JSONValue {
        let catalog = backend.catalog ?? Catalog()
        let tables = catalog.partitionedTables.filter { $0.applies(to: target) }
        let views = catalog.materializedViews.filter { $0.applies(to: target) }
        let viewNames = views.map(\.view.description)
        let (partitionsReport, matviewsReport, refreshes) = try await bounded("redis") { [backend] in
            let p = try await backend.healthReport(target: target, report: .partitions)
            let m = try await backend.healthReport(target: target, report: .matviews)
            var r: [JSONValue?] = []
            for view in viewNames { r.append(try await backend.viewRefresh(view: view, target: target)) }
            return (p, m, r)
        }
        let now = Date()
        let reported = (partitionsReport?["rows"]?.items ?? [])
        var partitionRows: [JSONValue] = []
        for t in tables {
            let name = t.table.description
            var row: [String: JSONValue] = [
                "table": .string(name), "interval": .string(t.interval.rawValue), "premake": .int(Int64(t.premake)),
                "retention": t.retention.map { .string($0.description) } ?? .null, "retention_mode": .string(t.retentionMode.rawValue),
                "archive_schema": t.archiveSchema.map { .string($0.rawValue) } ?? .null,
            ]
            // The live facts come from the latest `partitions` health report, when there is one.
            if case .object(let r)? = reported.first(where: { $0["table"]?.stringValue == name }) {
                for key in ["exists", "partitions", "ahead", "default_partition", "default_rows", "oldest_partition", "next_retention_at"] {
                    if let v = r[key] { row[key] = v }
                }
            }
            partitionRows.append(.object(row))
        }
        let ages = (matviewsReport?["rows"]?.items ?? [])
        var viewRows: [JSONValue] = []
        for (i, v) in views.enumerated() {
            let name = v.view.description
            var row: [String: JSONValue] = ["view": .string(name), "refresh": .string(v.refresh.rawValue)]
            let last = refreshes[i]
            row["last_refresh"] = last ?? .null
            var refreshedAt: Date?
            if let text = last?["refreshed_at"]?.stringValue ?? last?["finished_at"]?.stringValue { refreshedAt = Timestamp.parse(text) }
            if refreshedAt == nil, let analyzed = ages.first(where: { $0["view"]?.stringValue == name })?["analyzed_at"]?.stringValue {
                refreshedAt = Timestamp.parse(analyzed)
            }
            row["refreshed_at"] = refreshedAt.map { .string(Timestamp.format($0)) } ?? .null
            row["age_s"] = refreshedAt.map { .double((now.timeIntervalSince($0) * 10).rounded() / 10) } ?? .null
            // The schedules that refresh this view, and the shortest period among them.
            var schedules: [JSONValue] = []
            var every: Double?
            for s in catalog.schedules where s.kind.rawValue == "refresh.matview" && (s.target ?? CatalogTarget.defaultName) == target {
                let arg = s.args["view"]?.stringValue
                guard arg == name || arg == v.view.name.rawValue, let d = try? s.definition() else { continue }
                var period: Double?
                if let a = d.spec.nextFire(after: now), let b = d.spec.nextFire(after: a) { period = b.timeIntervalSince(a) }
                schedules.append(["name": .string(s.name), "spec": .string(d.spec.description), "enabled": .bool(s.enabled),
                                  "every_s": period.map { .double($0) } ?? .null])
                if s.enabled, let period { every = min(every ?? period, period) }
            }
            row["schedules"] = .array(schedules)
            row["every_s"] = every.map { .double($0) } ?? .null
            if let every, let age = refreshedAt.map({ now.timeIntervalSince($0) }) {
                row["overdue"] = .bool(age > 2 * every)
            } else {
                row["overdue"] = .null
            }
            row["dependent_queries"] = .array(catalog.queries(dependingOn: v.view, target: target).map { .string($0.name.rawValue) })
            viewRows.append(.object(row))
        }
        return [
            "target": .string(target), "partitions": .array(partitionRows), "views": .array(viewRows),
            "partitions_reported_at": partitionsReport?["generated_at"] ?? .null,
            "views_reported_at": matviewsReport?["generated_at"] ?? .null,
        ]
    }
}

extension JSONValue {
    /// A number as Double (int or double), else nil.
    fileprivate var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    fileprivate var items: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
}
