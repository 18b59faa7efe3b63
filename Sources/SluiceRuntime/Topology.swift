// Topology: declares Sluice's exchanges and queues, idempotently, for producers and workers.
//
// `sluice.jobs` (direct) → `sluice.<class>` work queues; `sluice.delay` (direct) → tier queues
// `sluice.delay.<N>` whose TTL dead-letters back to `sluice.jobs`; `sluice.dead` (fanout) →
// queue `sluice.dead`. A delayed message carries its class in the `CC` header, so when it
// expires from a tier queue its dead-letter routing keys are [tier.N, <class>] and only the
// class binding matches. Redeclaring with different arguments fails with 406 from the broker.

import RabbitMQ
import SluiceCore

public enum Topology {
    /// Declares everything for `classes` (all classes by default) on `channel`.
    public static func declare(
        on channel: AMQPChannel, _ configuration: TopologyConfiguration,
        classes: [WorkloadClass] = WorkloadClass.allCases
    ) async throws {
        let c = configuration
        try await channel.declareExchange(c.jobsExchange, type: .direct, durable: true)
        try await channel.declareExchange(c.delayExchange, type: .direct, durable: true)
        try await channel.declareExchange(c.deadExchange, type: .fanout, durable: true)
        try await channel.declareQueue(c.deadQueue, durable: true, arguments: deadQueueArguments(c))
        try await channel.bindQueue(c.deadQueue, exchange: c.deadExchange, routingKey: "")
        for workloadClass in classes {
            let name = c.queue(for: workloadClass.rawValue)
            try await channel.declareQueue(name, durable: true, arguments: workQueueArguments(c))
            try await channel.bindQueue(name, exchange: c.jobsExchange, routingKey: workloadClass.rawValue)
        }
        for tier in DelayLadder.tiers {
            let name = c.delayQueue(tier: tier)
            try await channel.declareQueue(name, durable: true, arguments: delayQueueArguments(c, tier: tier))
            try await channel.bindQueue(name, exchange: c.delayExchange, routingKey: delayRoutingKey(tier: tier))
        }
    }

    /// Deletes everything `declare` made (tests and `sluice` uninstall); ignores what is missing.
    public static func delete(on channel: AMQPChannel, _ c: TopologyConfiguration) async {
        for workloadClass in WorkloadClass.allCases { _ = try? await channel.deleteQueue(c.queue(for: workloadClass.rawValue)) }
        for tier in DelayLadder.tiers { _ = try? await channel.deleteQueue(c.delayQueue(tier: tier)) }
        _ = try? await channel.deleteQueue(c.deadQueue)
        for x in [c.jobsExchange, c.delayExchange, c.deadExchange] { try? await channel.deleteExchange(x) }
    }

    static func workQueueArguments(_ c: TopologyConfiguration) -> AMQPTable {
        var args: AMQPTable = [AMQPArgument.deadLetterExchange: .string(c.deadExchange)]
        switch c.queueType {
        case .classic:
            args[AMQPArgument.maxPriority] = .int32(9)
        case .quorum:
            args.merge(quorumArguments(c)) { _, q in q }
            args[AMQPArgument.deliveryLimit] = .int64(Int64(c.deliveryLimit))
        }
        return args
    }

    /// A tier's TTL dead-letters each message back to the jobs exchange.
    static func delayQueueArguments(_ c: TopologyConfiguration, tier: Int) -> AMQPTable {
        var args: AMQPTable = [
            AMQPArgument.messageTTL: .int64(Int64(tier) * 1000),
            AMQPArgument.deadLetterExchange: .string(c.jobsExchange),
        ]
        if c.queueType == .quorum { args.merge(quorumArguments(c)) { _, q in q } }
        return args
    }

    static func deadQueueArguments(_ c: TopologyConfiguration) -> AMQPTable {
        c.queueType == .quorum ? [AMQPArgument.queueType: .string("quorum")] : [:]
    }

    /// Quorum queues that dead-letter (work queues, delay tiers): at-least-once dead-lettering,
    /// which RabbitMQ honours only together with `x-overflow: reject-publish` (otherwise it
    /// silently stays at-most-once and a message can vanish between two queues in a failover).
    static func quorumArguments(_ c: TopologyConfiguration) -> AMQPTable {
        [
            AMQPArgument.queueType: .string("quorum"),
            AMQPArgument.overflow: .string("reject-publish"),
            AMQPArgument.deadLetterStrategy: .string("at-least-once"),
        ]
    }

    /// `tier.<N>`.
    public static func delayRoutingKey(tier: Int) -> String { "tier.\(tier)" }

    /// Where to publish an envelope for class `workloadClass` so that it reaches a worker
    /// after `tier` seconds (nil: at once).
    public static func route(
        _ c: TopologyConfiguration, workloadClass: String, tier: Int?
    ) -> (exchange: String, routingKey: String, headers: AMQPTable) {
        guard let tier else { return (c.jobsExchange, workloadClass, [:]) }
        return (c.delayExchange, delayRoutingKey(tier: tier), ["CC": .array([.string(workloadClass)])])
    }
}
