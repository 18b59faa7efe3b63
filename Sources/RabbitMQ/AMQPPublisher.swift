// AMQPPublisher: publishes with publisher confirms on a connection and channel of its own.
//
// `publish` returns only once the broker has confirmed the message (stored it, for a persistent
// message to a durable queue) and throws on a nack, on a return of a mandatory message, and on
// any connection or channel failure before the confirm: a caller never sees a silent loss (but
// may see a failure for a message that was in fact stored: retry and deduplicate). Many
// publishes are in flight at once: the IOThread writes all queued messages back to back, then
// reads confirms (the broker batches them as `multiple` acks) until new publishes arrive, so one
// round trip is shared by everything in flight. Limits: no automatic reconnect (see
// `AMQPConnection.connect(_:retry:attempts:logger:)`); cancelling a publishing task does not
// withdraw its message.

import CRabbitMQ
import ClientSupport
import Logging
import Synchronization

/// A confirm-mode publisher with its own connection.
public final class AMQPPublisher: Sendable {
    let session: AMQPSession
    private let core: PublisherCore

    private init(session: AMQPSession, core: PublisherCore) {
        self.session = session
        self.core = core
    }

    deinit {
        core.stopAccepting()
        session.requestClose()
    }

    /// Connects, opens a channel and puts it in confirm mode.
    public static func connect(configuration: AMQPConfiguration, logger: Logger) async throws -> AMQPPublisher {
        let session = try await AMQPSession.connect(configuration, role: "publisher", logger: logger)
        let channel = try await session.setUp { handle in
            let id = try session.allocateChannelID()
            try PublisherCore.openConfirmChannel(id, handle: handle)
            return id
        }
        let core = PublisherCore(channel: channel, endpoint: configuration.endpoint, logger: session.logger)
        session.startLoop(driver: core)
        return AMQPPublisher(session: session, core: core)
    }

    /// Publishes `message` and returns once the broker confirms it.
    ///
    /// - Parameter mandatory: when true (the default), a message that matches no queue fails
    ///   with `.unroutable` (reply code 312) instead of being dropped by the broker.
    /// - Throws: `AMQPError`: `.unroutable`, `.publishNacked`, `.channelClosed` (e.g. 404 when
    ///   the exchange does not exist; the publisher reopens its channel and stays usable),
    ///   `.connectionLost` / `.connectionClosed` (the publisher is then broken), `.closed`.
    public func publish(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = true) async throws {
        let outgoing = AMQPOutgoingMessage(message, exchange: exchange, routingKey: routingKey, mandatory: mandatory)
        try PublisherCore.validate(outgoing)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let waiter = PublisherCore.Waiter(target: .single(continuation), exchange: exchange, routingKey: routingKey)
            if core.enqueue([PublisherCore.Pending(outgoing: outgoing, waiter: waiter)]) { session.wake() }
        }
    }

    /// Publishes several messages at once; returns each one's outcome, in order, once all are
    /// settled. Cheaper than separate `publish` calls: one queue operation, one wake-up.
    public func publish(batch: [AMQPOutgoingMessage]) async -> [Result<Void, AMQPError>] {
        if batch.isEmpty { return [] }
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
            let collector = BatchCollector(count: batch.count, continuation: continuation)
            var pending: [PublisherCore.Pending] = []
            pending.reserveCapacity(batch.count)
            for (i, outgoing) in batch.enumerated() {
                let waiter = PublisherCore.Waiter(target: .batch(collector, i), exchange: outgoing.exchange, routingKey: outgoing.routingKey)
                do {
                    try PublisherCore.validate(outgoing)
                    pending.append(PublisherCore.Pending(outgoing: outgoing, waiter: waiter))
                } catch {
                    waiter.resume(.failure(error as! AMQPError))
                }
            }
            if !pending.isEmpty && core.enqueue(pending) { session.wake() }
        }
    }

    /// Opens a channel on this publisher's connection for topology requests (declaring the
    /// exchange it publishes to, say). Requests on it pause confirm reading for one round trip.
    public func openChannel() async throws -> AMQPChannel {
        let id = try await session.openTopologyChannel()
        return AMQPChannel(session: session, id: id, owner: self)
    }

    /// Publishes not yet confirmed, plus those queued but not written yet.
    public var outstanding: Int { core.outstandingCount }

    /// True once the connection failed; make a new publisher.
    public var isBroken: Bool { session.failure != nil }

    /// What broke the connection, if it broke.
    public var failure: AMQPError? { session.failure }

    public var serverProperties: AMQPTable { session.serverProperties }
    public var serverVersion: String? { session.serverProperties["version"]?.stringValue }
    public var serverProduct: String? { session.serverProperties["product"]?.stringValue }

    /// Stops accepting publishes, waits for the confirms of those in flight, then closes the
    /// connection.
    public func close() async {
        core.stopAccepting()
        await session.close()
    }
}

/// Collects the outcomes of a batch publish and resumes the caller once all are in.
final class BatchCollector: Sendable {
    private struct State {
        var results: [Result<Void, AMQPError>?]
        var remaining: Int
        var continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>?
    }
    private let state: Mutex<State>

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, continuation: continuation))
    }

    func set(_ index: Int, _ result: Result<Void, AMQPError>) {
        let done = state.withLock { s -> ([Result<Void, AMQPError>], CheckedContinuation<[Result<Void, AMQPError>], Never>)? in
            guard s.results[index] == nil else { return nil }
            s.results[index] = result
            s.remaining -= 1
            guard s.remaining == 0, let c = s.continuation else { return nil }
            s.continuation = nil
            return (s.results.map { $0! }, c)
        }
        if let (results, continuation) = done { continuation.resume(returning: results) }
    }
}

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

    init(channel: UInt16, endpoint: String, logger: Logger) {
        self.channel = channel
        self.endpoint = endpoint
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
        for i in writing.indices {
            let item = writing[i]
            let status = write(item.outgoing, handle: handle)
            guard status == AMQP_STATUS_OK.rawValue else {
                // This and the rest were not (fully) written: fail them here; the session's
                // teardown fails those in the tracker.
                let error = handle.error(status: status, context: "write message")
                for rest in writing[i...] { settle(rest.waiter, .failure(Self.contextual(error, rest.waiter))) }
                throw error
            }
            let key = item.outgoing.mandatory
                ? ConfirmTracker<Waiter>.ReturnKey(
                    exchange: item.outgoing.exchange, routingKey: item.outgoing.routingKey,
                    messageId: item.outgoing.message.properties.messageId, body: item.outgoing.message.body)
                : nil
            tracker.published(item.waiter, returnKey: key)
        }
    }

    private func write(_ outgoing: AMQPOutgoingMessage, handle: AMQPConnectionHandle) -> Int32 {
        let pool = handle.pool
        defer { pool.recycle() }
        var properties = outgoing.message.properties.encode(into: pool)
        let exchange = pool.bytes(outgoing.exchange)
        let routingKey = pool.bytes(outgoing.routingKey)
        return outgoing.message.body.withUnsafeBytes { body in
            amqp_basic_publish(
                handle.state, channel, exchange, routingKey, outgoing.mandatory ? 1 : 0, 0, &properties,
                amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
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
        for (waiter, outcome) in settled {
            switch outcome {
            case .confirmed:
                settle(waiter, .success(()))
            case .returned(let error):
                settle(waiter, .failure(error))
            case .nacked:
                settle(waiter, .failure(AMQPError(.publishNacked, context: waiter.what + ": nacked by the broker (not stored)", endpoint: endpoint)))
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
