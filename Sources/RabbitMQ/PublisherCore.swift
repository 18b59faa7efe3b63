// PublisherCore: the publisher's half of its session loop, on the IOThread.
//
// Takes the publishes queued by any task, encodes them into one buffer and sends it, records
// each in the ConfirmTracker, and settles callers as basic.ack / basic.nack / basic.return
// arrive. When the broker closes the channel (404 for a missing exchange...) it fails what was in
// flight and reopens the channel; when the connection fails it fails everything.

import CRabbitMQ
import Foundation
import Logging
import Synchronization

/// The publisher's half of the session loop: writes queued messages, matches confirms.
final class PublisherCore: AMQPSessionDriver, @unchecked Sendable {
    // @unchecked Sendable: `queue` is a Mutex; `tracker` and the other vars are touched only on
    // the session's IOThread (driver callbacks); `channel`, `endpoint`, `logger` are immutable.
    struct Waiter {
        enum Target {
            case single(CheckedContinuation<Void, Error>)
            case batch(BatchCollector, Int)
        }
        let target: Target
        let exchange: String
        let routingKey: String

        func resume(_ result: Result<Void, AMQPError>) {
            switch target {
            case .single(let c):
                switch result {
                case .success: c.resume()
                case .failure(let e): c.resume(throwing: e)
                }
            case .batch(let collector, let i):
                collector.set(i, result)
            }
        }

        var what: String { "publish to exchange '\(exchange)' with routing key '\(routingKey)'" }
    }

    struct Pending {
        let outgoing: AMQPOutgoingMessage
        let waiter: Waiter
    }

    private struct Queue {
        var items: [Pending] = []
        var failure: AMQPError?
        var accepting = true
        var outstanding = 0
    }

    let channel: UInt16
    let endpoint: String
    let logger: Logger
    private let queue = Mutex(Queue())
    private var tracker = ConfirmTracker<Waiter>()

    /// How long a write may make no progress before the connection counts as lost.
    let stallLimit: Duration

    init(channel: UInt16, endpoint: String, stallLimit: Duration, logger: Logger) {
        self.channel = channel
        self.endpoint = endpoint
        self.stallLimit = stallLimit
        self.logger = logger
    }

    static func openConfirmChannel(_ id: UInt16, handle: AMQPConnectionHandle) throws(AMQPError) {
        try handle.openChannel(id)
        _ = amqp_confirm_select(handle.state, id)
        try handle.check(amqp_get_rpc_reply(handle.state), channel: id, context: "confirm.select on channel \(id)")
    }

    static func validate(_ outgoing: AMQPOutgoingMessage) throws(AMQPError) {
        try AMQPConnectionHandle.checkShortString(outgoing.exchange, what: "exchange")
        try AMQPConnectionHandle.checkShortString(outgoing.routingKey, what: "routing key")
    }

    var outstandingCount: Int { queue.withLock { $0.outstanding } }

    /// Queues publishes; returns true when the loop must be woken (the queue was empty).
    /// Fails them at once when the publisher is broken or closing.
    func enqueue(_ items: [Pending]) -> Bool {
        let outcome = queue.withLock { q -> (AMQPError?, Bool) in
            if let f = q.failure { return (f, false) }
            if !q.accepting { return (AMQPError(.closed, context: "publish: publisher is closing", endpoint: endpoint), false) }
            let wasEmpty = q.items.isEmpty
            q.items.append(contentsOf: items)
            q.outstanding += items.count
            return (nil, wasEmpty)
        }
        if let error = outcome.0 {
            for item in items { item.waiter.resume(.failure(Self.contextual(error, item.waiter))) }
            return false
        }
        return outcome.1
    }

    func stopAccepting() {
        queue.withLock { $0.accepting = false }
    }

    private static func contextual(_ error: AMQPError, _ waiter: Waiter) -> AMQPError {
        var e = error
        e.context = waiter.what + ": " + error.context
        return e
    }

    private func settle(_ waiter: Waiter, _ result: Result<Void, AMQPError>) {
        queue.withLock { $0.outstanding -= 1 }
        waiter.resume(result)
    }

    // MARK: AMQPSessionDriver (IOThread)

    func flush(_ handle: AMQPConnectionHandle) throws(AMQPError) {
        let writing = queue.withLock { q -> [Pending] in
            defer { q.items = [] }
            return q.items
        }
        guard !writing.isEmpty else { return }
        let encoder = encoder(for: handle)
        let pool = handle.pool
        var failed = 0
        for item in writing {
            // Encode into one buffer; write it when large and at the end: one send(2) for many
            // messages instead of three per message.
            var properties = item.outgoing.message.properties.encode(into: pool)
            let exchange = pool.bytes(item.outgoing.exchange)
            let routingKey = pool.bytes(item.outgoing.routingKey)
            if handle.usesTLS {
                // The buffer cannot go to a TLS socket with send(2): rabbitmq-c writes each frame
                // through OpenSSL (three writes per message). It waits for the socket without a
                // bound, so the stall limit is kept here: a socket that takes nothing for that
                // long (a broker that stopped reading) breaks the connection first.
                tracker.published(item.waiter, returnKey: Self.returnKey(item))
                var writable = pollfd(fd: handle.socketFD, events: Int16(POLLOUT), revents: 0)
                var ready: Int32
                repeat {
                    ready = poll(&writable, 1, Int32(clamping: stallLimit.milliseconds))
                } while ready < 0 && errno == EINTR
                if ready == 0 {
                    if failed > 0 { queue.withLock { $0.outstanding -= failed } }
                    let error = AMQPError(.connectionLost, context: "write messages", endpoint: endpoint,
                                          detail: "the broker accepted nothing for \(stallLimit)")
                    handle.markBroken(error)
                    throw error
                }
                let status = item.outgoing.message.body.withUnsafeBytes { body in
                    amqp_basic_publish(handle.state, channel, exchange, routingKey, item.outgoing.mandatory ? 1 : 0, 0,
                                       &properties, amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
                }
                pool.recycle()
                if status != AMQP_STATUS_OK.rawValue {
                    if failed > 0 { queue.withLock { $0.outstanding -= failed } }
                    let error = handle.error(status: status, context: "write messages")
                    handle.markBroken(error)
                    throw error
                }
                continue
            }
            let encodeError = item.outgoing.message.body.withUnsafeBytes { body -> AMQPError? in
                do throws(AMQPError) {
                    try encoder.append(channel: channel, exchange: exchange, routingKey: routingKey,
                                       mandatory: item.outgoing.mandatory, properties: &properties, body: body)
                    return nil
                } catch {
                    return error
                }
            }
            if let error = encodeError {
                pool.recycle()
                failed += 1
                item.waiter.resume(.failure(Self.contextual(error, item.waiter)))
                continue
            }
            pool.recycle()
            tracker.published(item.waiter, returnKey: Self.returnKey(item))
            if encoder.count >= 256 * 1024 { try write(encoder, handle) }
        }
        if failed > 0 { queue.withLock { $0.outstanding -= failed } }
        try write(encoder, handle)
    }

    /// What a basic.return of a mandatory message is matched by; nil for other messages.
    private static func returnKey(_ item: Pending) -> ConfirmTracker<Waiter>.ReturnKey? {
        item.outgoing.mandatory
            ? ConfirmTracker<Waiter>.ReturnKey(
                exchange: item.outgoing.exchange, routingKey: item.outgoing.routingKey,
                messageId: item.outgoing.message.properties.messageId, body: item.outgoing.message.body)
            : nil
    }

    private var encoderStorage: PublishEncoder?

    private func encoder(for handle: AMQPConnectionHandle) -> PublishEncoder {
        if let encoderStorage { return encoderStorage }
        let e = PublishEncoder(frameMax: Int(amqp_get_frame_max(handle.state)))
        encoderStorage = e
        return e
    }

    /// Sends what the encoder holds; a failure breaks the connection (the session then fails
    /// everything outstanding).
    private func write(_ encoder: PublishEncoder, _ handle: AMQPConnectionHandle) throws(AMQPError) {
        guard !encoder.isEmpty else { return }
        let err = encoder.write(to: handle.socketFD, stallLimit: stallLimit)
        guard err == 0 else {
            encoder.reset()
            let error = AMQPError(.connectionLost, context: "write messages", endpoint: endpoint,
                                  detail: String(cString: strerror(err)))
            handle.markBroken(error)
            throw error
        }
    }

    func handle(frame: amqp_frame_t, handle: AMQPConnectionHandle) throws(AMQPError) -> Bool {
        guard frame.channel == channel, frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return false }
        let method = frame.payload.method
        switch method.id {
        case AMQPMethod.basicAck:
            let ack = method.decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            resolve(tracker.settle(tag: ack.delivery_tag, multiple: ack.multiple != 0, ack: true))
        case AMQPMethod.basicNack:
            let nack = method.decoded!.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            resolve(tracker.settle(tag: nack.delivery_tag, multiple: nack.multiple != 0, ack: false))
        case AMQPMethod.basicReturn:
            let r = method.decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let exchange = r.exchange.string
            let routingKey = r.routing_key.string
            let replyCode = r.reply_code
            let replyText = r.reply_text.string
            let (properties, body) = try handle.readContent(channel: channel)
            let error = AMQPError(
                .unroutable, context: "publish to exchange '\(exchange)' with routing key '\(routingKey)': returned by the broker",
                endpoint: endpoint, replyCode: replyCode, replyText: replyText)
            let key = ConfirmTracker<Waiter>.ReturnKey(
                exchange: exchange, routingKey: routingKey, messageId: properties.messageId, body: body)
            if !tracker.returned(key, error: error) {
                logger.warning("basic.return matched no outstanding publish", metadata: ["error": "\(error)"])
            }
        default:
            return false
        }
        return true
    }

    private func resolve(_ settled: [(Waiter, ConfirmTracker<Waiter>.Outcome)]) {
        guard !settled.isEmpty else { return }
        queue.withLock { $0.outstanding -= settled.count }
        for (waiter, outcome) in settled {
            switch outcome {
            case .confirmed:
                waiter.resume(.success(()))
            case .returned(let error):
                waiter.resume(.failure(error))
            case .nacked:
                waiter.resume(.failure(AMQPError(.publishNacked, context: waiter.what + ": nacked by the broker (not stored)", endpoint: endpoint)))
            }
        }
    }

    func channelClosed(_ id: UInt16, error: AMQPError, handle: AMQPConnectionHandle) throws(AMQPError) -> Bool {
        guard id == channel else { return false }
        // Everything in flight on the closed channel is lost to the broker: fail it, then
        // reopen so that later publishes work (tags restart at 1 on the new channel).
        logger.warning("publisher channel closed by the broker; reopening", metadata: ["error": "\(error)"])
        for waiter in tracker.removeAll() { settle(waiter, .failure(Self.contextual(error, waiter))) }
        try Self.openConfirmChannel(channel, handle: handle)
        return true
    }

    var readyToClose: Bool {
        tracker.isEmpty && queue.withLock { $0.items.isEmpty }
    }

    func finished(error: AMQPError?) {
        let failure = error ?? AMQPError(.closed, context: "publisher closed", endpoint: endpoint)
        let queued = queue.withLock { q -> [Pending] in
            q.failure = failure
            q.accepting = false
            var taken: [Pending] = []
            swap(&taken, &q.items)
            return taken
        }
        for waiter in tracker.removeAll() { settle(waiter, .failure(Self.contextual(failure, waiter))) }
        for item in queued { settle(item.waiter, .failure(Self.contextual(failure, item.waiter))) }
    }
}
