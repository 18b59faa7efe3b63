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
                                continuation: continuation, gate: gate, logger: session.logger)
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

/// The deliveries of an `AMQPConsumer`. Once the consumer stops, deliveries still buffered are
/// not handed out (they can no longer be acked; the broker redelivers them); once it fails, the
/// error is thrown at once.
public struct AMQPDeliveries: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    let stream: AsyncThrowingStream<AMQPDelivery, Error>
    let gate: DeliveryGate

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: stream.makeAsyncIterator(), gate: gate)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPDelivery, Error>.AsyncIterator
        let gate: DeliveryGate
        var done = false

        public mutating func next() async throws -> AMQPDelivery? {
            if done { return nil }
            let delivery = try await base.next()
            switch gate.state {
            case .open:
                if delivery == nil { done = true }
                return delivery
            case .stopped:
                done = true
                return nil
            case .failed(let error):
                done = true
                throw error
            }
        }
    }
}

/// Whether deliveries may still be handed out.
final class DeliveryGate: Sendable {
    enum State: Sendable {
        case open
        case stopped
        case failed(AMQPError)
    }
    private let value = Mutex(State.open)

    var state: State { value.withLock { $0 } }

    func close(_ error: AMQPError?) {
        value.withLock { s in
            guard case .open = s else { return }
            s = error.map { .failed($0) } ?? .stopped
        }
    }
}

/// The consumer's half of the session loop: turns frames into deliveries and sends settlements.
final class ConsumerCore: AMQPSessionDriver, @unchecked Sendable {
    // @unchecked Sendable: `requests` is a Mutex; `coalescer` is touched only on the session's
    // IOThread (driver callbacks); the rest is immutable (the continuation is Sendable).
    private struct Requests {
        var items: [AckRequest] = []
        var finished = false
    }

    let channel: UInt16
    let queue: String
    let endpoint: String
    let logger: Logger
    private let continuation: AsyncThrowingStream<AMQPDelivery, Error>.Continuation
    private let gate: DeliveryGate
    private let requests = Mutex(Requests())
    private var coalescer = AckCoalescer()
    private var reportedDropped = 0

    init(channel: UInt16, queue: String, endpoint: String, continuation: AsyncThrowingStream<AMQPDelivery, Error>.Continuation,
         gate: DeliveryGate, logger: Logger) {
        self.channel = channel
        self.queue = queue
        self.endpoint = endpoint
        self.continuation = continuation
        self.gate = gate
        self.logger = logger
    }

    /// Queues a settlement. Returns (accepted, the loop must be woken).
    func submit(_ request: AckRequest) -> (Bool, Bool) {
        requests.withLock { r in
            if r.finished { return (false, false) }
            r.items.append(request)
            return (true, r.items.count == 1)
        }
    }

    // MARK: AMQPSessionDriver (IOThread)

    func flush(_ handle: AMQPConnectionHandle) throws(AMQPError) {
        let batch = requests.withLock { r -> [AckRequest] in
            defer { r.items = [] }
            return r.items
        }
        guard !batch.isEmpty else { return }
        for frame in coalescer.apply(batch) {
            let status: Int32
            switch frame {
            case .ack(let tag, let multiple):
                status = amqp_basic_ack(handle.state, channel, tag, multiple ? 1 : 0)
            case .nack(let tag, let multiple, let requeue):
                status = amqp_basic_nack(handle.state, channel, tag, multiple ? 1 : 0, requeue ? 1 : 0)
            case .reject(let tag, let requeue):
                status = amqp_basic_reject(handle.state, channel, tag, requeue ? 1 : 0)
            }
            try handle.check(status: status, context: "settle delivery on queue '\(queue)'")
        }
        if coalescer.dropped != reportedDropped {
            logger.warning("ignored settlements of unknown or already settled delivery tags",
                           metadata: ["count": "\(coalescer.dropped - reportedDropped)"])
            reportedDropped = coalescer.dropped
        }
    }

    func handle(frame: amqp_frame_t, handle: AMQPConnectionHandle) throws(AMQPError) -> Bool {
        guard frame.channel == channel, frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return false }
        let method = frame.payload.method
        switch method.id {
        case AMQPMethod.basicDeliver:
            let d = method.decoded!.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = d.delivery_tag
            let redelivered = d.redelivered != 0
            let exchange = d.exchange.string
            let routingKey = d.routing_key.string
            let (properties, body) = try handle.readContent(channel: channel)
            coalescer.delivered(tag)
            continuation.yield(AMQPDelivery(
                deliveryTag: tag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
                body: body, properties: properties))
        case AMQPMethod.basicCancel:
            throw AMQPError(.consumerCancelled, context: "consume from queue '\(queue)'", endpoint: endpoint,
                            detail: "the broker cancelled the consumer (queue deleted?)")
        case AMQPMethod.basicCancelOk:
            break
        default:
            return false
        }
        return true
    }

    func channelClosed(_ id: UInt16, error: AMQPError, handle: AMQPConnectionHandle) throws(AMQPError) -> Bool {
        guard id == channel else { return false }
        var e = error
        e.context = "consume from queue '\(queue)': " + error.context
        throw e
    }

    var readyToClose: Bool { true }

    func finished(error: AMQPError?) {
        requests.withLock { r in
            r.finished = true
            r.items = []
        }
        coalescer.reset()
        gate.close(error)
        if let error { continuation.finish(throwing: error) } else { continuation.finish() }
    }
}
