// AMQPConsumer: consumes one queue with manual acks on a connection and channel of its own.
//
// Deliveries come out of `deliveries` (an AsyncSequence for one reader); the broker's prefetch
// bounds how many are buffered. Settle each one with `ack` / `nack` / `reject` from any task:
// requests are queued to the IOThread, which is woken at once (it is never left waiting out a
// poll timeout), and consecutive acks of the oldest deliveries go out as one `multiple` ack.
// `stop()` (or cancelling the task that iterates) sends the queued acks, ends the sequence and
// closes the connection; the broker redelivers whatever was not acked. On a connection or channel
// failure the sequence throws the AMQPError. No automatic reconnect: start a new consumer.

import CRabbitMQ
import ClientSupport
import Logging
import Synchronization

/// A queue consumer with manual acknowledgements and its own connection.
public final class AMQPConsumer: Sendable {
    let session: AMQPSession
    private let core: ConsumerCore
    /// The broker's name for this consumer (generated when "" was asked for).
    public let consumerTag: String
    public let queue: String
    /// The deliveries, in order. Iterate from one task only.
    public let deliveries: AMQPDeliveries

    private init(session: AMQPSession, core: ConsumerCore, consumerTag: String, queue: String, deliveries: AMQPDeliveries) {
        self.session = session
        self.core = core
        self.consumerTag = consumerTag
        self.queue = queue
        self.deliveries = deliveries
    }

    deinit {
        session.requestClose()
    }

    /// Connects, sets the prefetch (basic.qos) and starts consuming `queue` with manual acks.
    ///
    /// - Parameters:
    ///   - prefetch: the most unacked deliveries the broker sends before waiting for acks
    ///     (1 for long jobs, 50 or more for short ones).
    ///   - exclusive: ask to be the queue's only consumer.
    /// - Throws: `AMQPError`; a missing queue is `.channelClosed` with reply code 404.
    public static func start(
        configuration: AMQPConfiguration, queue: String, prefetch: UInt16, consumerTag: String = "",
        exclusive: Bool = false, arguments: AMQPTable = [:], logger: Logger
    ) async throws -> AMQPConsumer {
        try await start(configuration: configuration, queue: queue, prefetch: prefetch, consumerTag: consumerTag,
                        exclusive: exclusive, arguments: arguments, coalesceAcks: true, logger: logger)
    }

    /// `coalesceAcks: false` sends one basic.ack per delivery (benchmarks only).
    static func start(
        configuration: AMQPConfiguration, queue: String, prefetch: UInt16, consumerTag: String,
        exclusive: Bool, arguments: AMQPTable, coalesceAcks: Bool, logger: Logger
    ) async throws -> AMQPConsumer {
        try AMQPConnectionHandle.checkShortString(queue, what: "queue")
        try AMQPConnectionHandle.checkShortString(consumerTag, what: "consumer tag")
        var logger = logger
        logger[metadataKey: "queue.name"] = .string(queue)
        let session = try await AMQPSession.connect(configuration, role: "consumer", logger: logger)
        let (channel, tag) = try await session.setUp { (h) throws -> (UInt16, String) in
            let id = try session.allocateChannelID()
            try h.openChannel(id)
            _ = amqp_basic_qos(h.state, id, 0, prefetch, 0)
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "set prefetch \(prefetch)")
            defer { h.pool.recycle() }
            let ok = amqp_basic_consume(
                h.state, id, h.pool.bytes(queue), h.pool.bytes(consumerTag), 0, 0, exclusive ? 1 : 0,
                h.pool.table(arguments))
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "consume from queue '\(queue)'")
            return (id, ok?.pointee.consumer_tag.string ?? consumerTag)
        }
        let (stream, continuation) = AsyncThrowingStream<AMQPDelivery, Error>.makeStream()
        let gate = DeliveryGate()
        let core = ConsumerCore(channel: channel, queue: queue, endpoint: configuration.endpoint,
                                continuation: continuation, gate: gate, coalesceAcks: coalesceAcks, logger: session.logger)
        continuation.onTermination = { [weak session] termination in
            // The reader stopped iterating (cancelled or dropped the sequence): stop consuming.
            if case .cancelled = termination { session?.requestClose() }
        }
        session.startLoop(driver: core)
        return AMQPConsumer(session: session, core: core, consumerTag: tag, queue: queue,
                            deliveries: AMQPDeliveries(stream: stream, gate: gate))
    }

    /// Acknowledges a delivery (with `multiple`, every unsettled one up to it).
    /// Returns false when the consumer has stopped or broken: the broker will redeliver.
    @discardableResult
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) -> Bool {
        submit(.ack(deliveryTag, multiple: multiple))
    }

    /// Rejects a delivery (with `multiple`, every unsettled one up to it); `requeue: false`
    /// dead-letters it when the queue has a dead-letter exchange, else drops it.
    @discardableResult
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) -> Bool {
        submit(.nack(deliveryTag, multiple: multiple, requeue: requeue))
    }

    /// Rejects one delivery.
    @discardableResult
    public func reject(_ deliveryTag: UInt64, requeue: Bool = true) -> Bool {
        submit(.reject(deliveryTag, requeue: requeue))
    }

    private func submit(_ request: AckRequest) -> Bool {
        let (accepted, mustWake) = core.submit(request)
        if mustWake { session.wake() }
        return accepted
    }

    /// Sends queued acks, ends `deliveries`, and closes the connection; unacked deliveries go
    /// back to the queue. Returns once the connection is closed.
    public func stop() async {
        await session.close()
    }

    /// True once the connection or channel failed, or the broker cancelled the consumer.
    public var isBroken: Bool { session.failure != nil }

    /// What broke the consumer, if it broke.
    public var failure: AMQPError? { session.failure }

    public var serverVersion: String? { session.serverProperties["version"]?.stringValue }
    public var serverProduct: String? { session.serverProperties["product"]?.stringValue }
}
