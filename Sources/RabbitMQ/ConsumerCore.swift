// ConsumerCore: the consumer's half of its session loop, on the IOThread.
//
// Turns basic.deliver frames into AMQPDelivery values for the deliveries stream, and sends the
// settlements queued by any task through the AckCoalescer. A broker cancel or channel close ends
// the consumer with that error.

import CRabbitMQ
import Logging
import Synchronization

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
    private var coalescer: AckCoalescer
    private var reportedDropped = 0

    init(channel: UInt16, queue: String, endpoint: String, continuation: AsyncThrowingStream<AMQPDelivery, Error>.Continuation,
         gate: DeliveryGate, coalesceAcks: Bool, logger: Logger) {
        self.coalescer = AckCoalescer(coalesce: coalesceAcks)
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
