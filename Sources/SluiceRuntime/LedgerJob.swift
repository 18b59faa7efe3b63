// LedgerJob: one row of the ledger (`<schema>.jobs`) as read back for `sluice job`, rescue and
// replay. The row can rebuild the job's envelope, so a lost message is never a lost job.

import Foundation
import Postgres
import SluiceCore

public struct LedgerJob: Sendable {
    public var id: JobID
    public var kind: JobKind
    public var workloadClass: String
    public var target: String
    public var args: [String: JSONValue]
    public var state: JobState
    public var attempt: Int
    public var maxAttempts: Int
    public var timeoutSeconds: Int
    public var priority: Int?
    public var uniqueKey: String?
    public var leaseUntil: Date?
    public var worker: String?
    public var enqueuedAt: Date
    public var notBefore: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var progress: JSONValue?
    public var error: String?
    public var result: JSONValue?
    public var producer: String?
    public var traceID: String?
    /// Who enqueued it (migration 8); nil for jobs enqueued before it.
    public var enqueuedBy: String?
    public var cancelRequested: Bool

    /// The columns `init(row:)` reads, in a SELECT list.
    static let columns = """
        id, kind, class, target, args::text AS args, state, attempt, max_attempts, timeout_s, priority, unique_key, \
        lease_until, worker, enqueued_at, not_before, started_at, finished_at, progress::text AS progress, error, \
        result::text AS result, producer, trace_id, cancel_requested, enqueued_by
        """

    init(row: PostgresRow) throws {
        func json(_ name: String) throws -> JSONValue? {
            guard let text = try row.decode(name, as: String?.self) else { return nil }
            return try JSONValue.parse(text)
        }
        let stateText = try row.decode("state", as: String.self)
        guard let state = JobState(rawValue: stateText) else {
            throw LedgerError(.malformedRow, "unknown state '\(stateText)'")
        }
        id = JobID(uuid: try row.decode("id", as: UUID.self))
        kind = JobKind(try row.decode("kind", as: String.self))
        workloadClass = try row.decode("class", as: String.self)
        target = try row.decode("target", as: String.self)
        args = try json("args")?.objectValue ?? [:]
        self.state = state
        attempt = try row.decode("attempt", as: Int.self)
        maxAttempts = try row.decode("max_attempts", as: Int.self)
        timeoutSeconds = try row.decode("timeout_s", as: Int.self)
        priority = try row.decode("priority", as: Int?.self)
        uniqueKey = try row.decode("unique_key", as: String?.self)
        leaseUntil = try row.decode("lease_until", as: Date?.self)
        worker = try row.decode("worker", as: String?.self)
        enqueuedAt = try row.decode("enqueued_at", as: Date.self)
        notBefore = try row.decode("not_before", as: Date?.self)
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at", as: Date?.self)
        progress = try json("progress")
        error = try row.decode("error", as: String?.self)
        result = try json("result")
        producer = try row.decode("producer", as: String?.self)
        traceID = try row.decode("trace_id", as: String?.self)
        cancelRequested = try row.decode("cancel_requested", as: Bool.self)
        enqueuedBy = try row.decode("enqueued_by", as: String?.self)
    }

    /// The envelope for attempt `attempt` (the row's own by default).
    public func envelope(attempt: Int? = nil) -> Envelope {
        Envelope(
            id: id, kind: kind, args: args, target: target, attempt: attempt ?? self.attempt, maxAttempts: maxAttempts,
            timeoutSeconds: timeoutSeconds, enqueuedAt: enqueuedAt, notBefore: notBefore, uniqueKey: uniqueKey,
            priority: priority, traceID: traceID, producer: producer, enqueuedBy: enqueuedBy)
    }

    /// The row as JSON (for `sluice job --json`).
    public var json: JSONValue {
        func t(_ d: Date?) -> JSONValue { d.map { .string(Timestamp.format($0)) } ?? .null }
        func s(_ v: String?) -> JSONValue { v.map(JSONValue.string) ?? .null }
        return .object([
            "id": .string(id.description), "kind": .string(kind.rawValue), "class": .string(workloadClass),
            "target": .string(target), "args": .object(args), "state": .string(state.rawValue),
            "attempt": .int(Int64(attempt)), "max_attempts": .int(Int64(maxAttempts)),
            "timeout_s": .int(Int64(timeoutSeconds)), "priority": priority.map { .int(Int64($0)) } ?? .null,
            "unique_key": s(uniqueKey), "lease_until": t(leaseUntil), "worker": s(worker),
            "enqueued_at": t(enqueuedAt), "not_before": t(notBefore), "started_at": t(startedAt),
            "finished_at": t(finishedAt), "progress": progress ?? .null, "error": s(error), "result": result ?? .null,
            "producer": s(producer), "trace_id": s(traceID), "cancel_requested": .bool(cancelRequested),
            "enqueued_by": s(enqueuedBy),
        ])
    }
}
