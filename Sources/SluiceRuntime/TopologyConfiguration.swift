// TopologyConfiguration: the names and queue type of Sluice's RabbitMQ topology.
//
// Every exchange and queue name starts with `prefix` (`sluice` in production), so tests and
// side-by-side deployments on one vhost never see each other's messages.

/// How the work queues are declared.
public struct TopologyConfiguration: Sendable, Equatable {
    public enum QueueType: String, Sendable, Equatable, CaseIterable {
        /// Classic durable queues with `x-max-priority: 9` (priorities work).
        case classic
        /// Quorum queues (replicated over a cluster; no priorities; `x-delivery-limit` as a poison
        /// safety net), for the work queues, the delay ladder and the dead-letter queue, with
        /// at-least-once dead-lettering.
        case quorum
    }

    /// Prefix of every exchange and queue name. Default `sluice`.
    public var prefix: String
    public var queueType: QueueType
    /// Quorum queues only: deliveries after which the broker dead-letters a message. Default 500:
    /// a safety net against a job that crashes its worker every time, far above the returns a
    /// healthy job sees when workers die (a crash returns every unacked delivery of the worker,
    /// and every return counts).
    public var deliveryLimit: Int

    public init(prefix: String = "sluice", queueType: QueueType = .classic, deliveryLimit: Int = 500) {
        self.prefix = prefix
        self.queueType = queueType
        self.deliveryLimit = deliveryLimit
    }

    /// The direct exchange work queues are bound to.
    public var jobsExchange: String { "\(prefix).jobs" }
    /// The direct exchange of the delay ladder.
    public var delayExchange: String { "\(prefix).delay" }
    /// The fanout exchange of dead letters.
    public var deadExchange: String { "\(prefix).dead" }
    /// The queue holding dead letters.
    public var deadQueue: String { "\(prefix).dead" }

    /// The work queue of a class (`sluice.analytics`).
    public func queue(for workloadClass: String) -> String { "\(prefix).\(workloadClass)" }
    /// The delay queue of a tier (`sluice.delay.16`).
    public func delayQueue(tier seconds: Int) -> String { "\(prefix).delay.\(seconds)" }
}
