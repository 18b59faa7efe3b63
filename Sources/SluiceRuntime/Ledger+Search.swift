// Ledger+Search: the operator's job list (`GET /v1/jobs`, the dashboard) and the oldest waiting
// job per class.
//
// Pages are keyset pages on `id` (UUIDv7, so newest first is id descending): a page is one index
// range scan whatever the ledger's size, and nothing here counts the whole ledger. The indexes
// the filters need are migration 5's.

import Foundation
import Postgres
import SluiceCore

/// Filters of the job list; nil means any.
public struct JobFilter: Sendable, Equatable {
    public var state: JobState?
    public var kind: JobKind?
    public var workloadClass: String?
    public var target: String?
    /// A job id (exact), a kind (exact) or a unique key (exact or prefix).
    public var query: String?

    public init(state: JobState? = nil, kind: JobKind? = nil, workloadClass: String? = nil, target: String? = nil, query: String? = nil) {
        self.state = state
        self.kind = kind
        self.workloadClass = workloadClass
        self.target = target
        self.query = query
    }

    /// The WHERE clause and its binds; `after` continues below that id.
    func sql(after: JobID?, limit: Int) -> (whereClause: String, binds: [PostgresValue]) {
        var conditions: [String] = []
        var binds: [PostgresValue] = []
        func bind(_ v: PostgresValue) -> String {
            binds.append(v)
            return "$\(binds.count)"
        }
        if let state { conditions.append("state = \(bind(.text(state.rawValue)))") }
        if let kind { conditions.append("kind = \(bind(.text(kind.rawValue)))") }
        if let workloadClass { conditions.append("class = \(bind(.text(workloadClass)))") }
        if let target { conditions.append("target = \(bind(.text(target)))") }
        if let query, !query.isEmpty {
            if let id = JobID(query) {
                conditions.append("id = \(bind(.uuid(id.uuid)))")
            } else {
                let exact = bind(.text(query))
                let escaped = query.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
                let prefix = bind(.text(escaped + "%"))
                conditions.append("(kind = \(exact) OR unique_key = \(exact) OR (unique_key IS NOT NULL AND unique_key LIKE \(prefix)))")
            }
        }
        if let after { conditions.append("id < \(bind(.uuid(after.uuid)))") }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return (whereClause, binds)
    }
}

/// One page of the job list, newest first.
public struct JobPage: Sendable {
    public var jobs: [LedgerJob]
    /// Pass as `after` for the next page; nil on the last page.
    public var next: JobID?
}

extension Ledger {
    /// Up to `limit` jobs matching `filter` with ids below `after`, newest first.
    public func search(_ filter: JobFilter, after: JobID? = nil, limit: Int = 50) async throws -> JobPage {
        let limit = max(1, min(limit, 500))
        let (whereClause, binds) = filter.sql(after: after, limit: limit)
        let sql = "SELECT \(LedgerJob.columns) FROM \(table) \(whereClause) ORDER BY id DESC LIMIT \(limit + 1)"
        let rows = try await pool.withConnection { c in try await c.query(sql, binds) }
        var jobs = try rows.map { try LedgerJob(row: $0) }
        var next: JobID?
        if jobs.count > limit {
            jobs.removeLast()
            next = jobs.last?.id
        }
        return JobPage(jobs: jobs, next: next)
    }

    /// The enqueue time of the oldest `available` job per class (classes with none are absent).
    /// One statement: a short index scan per class.
    public func oldestWaiting(classes: [String]) async throws -> [String: Date] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT c.class, o.enqueued_at FROM unnest($1::text[]) AS c(class)
                CROSS JOIN LATERAL (SELECT enqueued_at FROM \(table) j WHERE j.state = \(JobState.available.sql) AND j.class = c.class
                                    ORDER BY j.id LIMIT 1) o
                """, [.textArray(classes)])
        }
        var out: [String: Date] = [:]
        for row in rows { out[try row.decode(0, as: String.self)] = try row.decode(1, as: Date.self) }
        return out
    }

    /// Per class: jobs waiting and running now, completed and failed in the last hour: the
    /// overview's numbers, and `statusCounts`'. Each number is a range scan of the (class, state,
    /// finished_at) index, so its cost follows the last hour's volume, not the ledger's size (one
    /// pass over everything live or recent was a sequential scan: 1.1 s at 1M rows).
    public func overview(classes: [String]) async throws -> [String: ClassCounts] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT c.class,
                    (SELECT count(*) FROM \(table) j WHERE j.class = c.class AND j.state IN \(JobState.waitingSQL)),
                    (SELECT count(*) FROM \(table) j WHERE j.class = c.class AND j.state = \(JobState.running.sql)),
                    (SELECT count(*) FROM \(table) j WHERE j.class = c.class AND j.state = \(JobState.completed.sql)
                        AND j.finished_at > now() - interval '1 hour'),
                    (SELECT count(*) FROM \(table) j WHERE j.class = c.class AND j.state = \(JobState.discarded.sql)
                        AND j.finished_at > now() - interval '1 hour')
                FROM unnest($1::text[]) AS c(class)
                """, [.textArray(classes)])
        }
        var out: [String: ClassCounts] = [:]
        for row in rows {
            out[try row.decode(0, as: String.self)] = ClassCounts(
                waiting: try row.decode(1, as: Int.self), running: try row.decode(2, as: Int.self),
                completedLastHour: try row.decode(3, as: Int.self), failedLastHour: try row.decode(4, as: Int.self))
        }
        return out
    }

    /// Per class, the jobs `worker` runs now and how long the oldest has run (for the worker's
    /// `sluice_jobs_running` and `sluice_lease_age_seconds`); nil worker: every worker. Served by
    /// the partial index on running jobs.
    public func running(worker: String?) async throws -> [String: (count: Int, oldest: Duration)] {
        let rows = try await pool.withConnection { c in
            try await c.query("""
                SELECT class, count(*), COALESCE(EXTRACT(EPOCH FROM max(now() - started_at)), 0)::float8
                FROM \(table) WHERE state = \(JobState.running.sql) AND ($1::text IS NULL OR worker = $1) GROUP BY class
                """, [worker.map { .text($0) } ?? .null])
        }
        var out: [String: (count: Int, oldest: Duration)] = [:]
        for row in rows {
            out[try row.decode(0, as: String.self)] = (try row.decode(1, as: Int.self),
                                                       .milliseconds(Int64(try row.decode(2, as: Double.self) * 1000)))
        }
        return out
    }
}
