// PlannedJob: one job `maintenance.plan` found due, for the runtime to enqueue: kind and
// arguments as they go on the wire, why it is due, how urgent (higher first), and a rough cost.

import SluiceCore

public struct PlannedJob: Codable, Sendable, Equatable {
    public var kind: JobKind
    public var args: [String: JSONValue]
    public var reason: String
    /// Higher runs first: 100+ transaction-id wraparound risk, 90 missing partitions, 50–89 dead
    /// tuples, 30–49 stale statistics or retention due, 20–29 index bloat.
    public var priority: Int
    /// Rough cost from the object's size and assumed throughput; for fitting the time budget.
    public var estimatedSeconds: Double

    public init(kind: JobKind, args: [String: JSONValue], reason: String, priority: Int, estimatedSeconds: Double) {
        self.kind = kind
        self.args = args
        self.reason = reason
        self.priority = priority
        self.estimatedSeconds = estimatedSeconds
    }
}
