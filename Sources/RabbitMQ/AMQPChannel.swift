// AMQPChannel: topology requests (exchanges, queues, bindings) on one channel of a connection.
//
// Requests run one at a time on the connection's IOThread and wait for the broker's reply.
// When the broker closes the channel (404 on a passive declare of a missing queue, 406 on an
// inequivalent redeclare...), the request throws `.channelClosed` with the reply code and text,
// `lastError` keeps it, and the channel is reopened transparently on its next request.

import CRabbitMQ

/// An exchange type; extensible for plugin types ("x-delayed-message"...).
public struct AMQPExchangeType: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let name: String
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
    public var description: String { name }

    public static let direct = AMQPExchangeType("direct")
    public static let topic = AMQPExchangeType("topic")
    public static let fanout = AMQPExchangeType("fanout")
    public static let headers = AMQPExchangeType("headers")
}

/// A queue as declare-ok reports it.
public struct AMQPQueueState: Sendable, Equatable {
    /// The queue name (the broker's choice when declared with "").
    public var name: String
    /// Messages ready for delivery (not counting unacked ones).
    public var messageCount: UInt32
    public var consumerCount: UInt32
}

/// A channel for topology requests.
public final class AMQPChannel: Sendable {
    let session: AMQPSession
    /// The channel number on its connection.
    public let id: UInt16
    /// Keeps the owning connection, publisher or consumer alive while the channel is in use.
    private let owner: AnyObject & Sendable

    init(session: AMQPSession, id: UInt16, owner: AnyObject & Sendable) {
        self.session = session
        self.id = id
        self.owner = owner
    }

    /// Declares an exchange (idempotent when the attributes match; 406 when they do not).
    public func declareExchange(
        _ name: String, type: AMQPExchangeType = .direct, durable: Bool = true, autoDelete: Bool = false,
        internal isInternal: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        try AMQPConnectionHandle.checkShortString(name, what: "exchange")
        try await session.onChannel(id, "declare exchange '\(name)'") { [id] (h) throws(AMQPError) in
            _ = amqp_exchange_declare(
                h.state, id, h.pool.bytes(name), h.pool.bytes(type.name), 0, durable ? 1 : 0, autoDelete ? 1 : 0,
                isInternal ? 1 : 0, h.pool.table(arguments))
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "declare exchange '\(name)'")
        }
    }

    /// Checks that an exchange exists (404 `.channelClosed` when it does not).
    public func declareExchangePassive(_ name: String) async throws {
        try AMQPConnectionHandle.checkShortString(name, what: "exchange")
        try await session.onChannel(id, "check exchange '\(name)'") { [id] (h) throws(AMQPError) in
            _ = amqp_exchange_declare(h.state, id, h.pool.bytes(name), h.pool.bytes("direct"), 1, 0, 0, 0, amqp_empty_table)
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "check exchange '\(name)'")
        }
    }

    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws {
        try AMQPConnectionHandle.checkShortString(name, what: "exchange")
        try await session.onChannel(id, "delete exchange '\(name)'") { [id] (h) throws(AMQPError) in
            _ = amqp_exchange_delete(h.state, id, h.pool.bytes(name), ifUnused ? 1 : 0)
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "delete exchange '\(name)'")
        }
    }

    /// Declares a queue; returns its depth and consumer count. Pass `"x-queue-type": "quorum"`
    /// (durable, not exclusive, not auto-delete) for a quorum queue.
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: AMQPTable = [:]
    ) async throws -> AMQPQueueState {
        try AMQPConnectionHandle.checkShortString(name, what: "queue")
        return try await session.onChannel(id, "declare queue '\(name)'") { [id] (h) throws(AMQPError) in
            let ok = amqp_queue_declare(
                h.state, id, h.pool.bytes(name), 0, durable ? 1 : 0, exclusive ? 1 : 0, autoDelete ? 1 : 0,
                h.pool.table(arguments))
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "declare queue '\(name)'")
            return Self.state(ok)
        }
    }

    /// The depth and consumer count of an existing queue. A missing queue throws
    /// `.channelClosed` with reply code 404 (the channel is reopened on the next request).
    public func declareQueuePassive(_ name: String) async throws -> AMQPQueueState {
        try AMQPConnectionHandle.checkShortString(name, what: "queue")
        return try await session.onChannel(id, "check queue '\(name)'") { [id] (h) throws(AMQPError) in
            let ok = amqp_queue_declare(h.state, id, h.pool.bytes(name), 1, 0, 0, 0, amqp_empty_table)
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "check queue '\(name)'")
            return Self.state(ok)
        }
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        try AMQPConnectionHandle.checkShortString(queue, what: "queue")
        try AMQPConnectionHandle.checkShortString(exchange, what: "exchange")
        try AMQPConnectionHandle.checkShortString(routingKey, what: "routing key")
        let what = "bind queue '\(queue)' to exchange '\(exchange)' with routing key '\(routingKey)'"
        try await session.onChannel(id, what) { [id] (h) throws(AMQPError) in
            _ = amqp_queue_bind(h.state, id, h.pool.bytes(queue), h.pool.bytes(exchange), h.pool.bytes(routingKey), h.pool.table(arguments))
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: what)
        }
    }

    public func unbindQueue(_ queue: String, exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        try AMQPConnectionHandle.checkShortString(queue, what: "queue")
        try AMQPConnectionHandle.checkShortString(exchange, what: "exchange")
        try AMQPConnectionHandle.checkShortString(routingKey, what: "routing key")
        let what = "unbind queue '\(queue)' from exchange '\(exchange)' with routing key '\(routingKey)'"
        try await session.onChannel(id, what) { [id] (h) throws(AMQPError) in
            _ = amqp_queue_unbind(h.state, id, h.pool.bytes(queue), h.pool.bytes(exchange), h.pool.bytes(routingKey), h.pool.table(arguments))
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: what)
        }
    }

    /// Deletes a queue; returns the number of messages it held.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        try AMQPConnectionHandle.checkShortString(name, what: "queue")
        return try await session.onChannel(id, "delete queue '\(name)'") { [id] (h) throws(AMQPError) -> UInt32 in
            let ok = amqp_queue_delete(h.state, id, h.pool.bytes(name), ifUnused ? 1 : 0, ifEmpty ? 1 : 0)
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "delete queue '\(name)'")
            return ok?.pointee.message_count ?? 0
        }
    }

    /// Removes the ready messages of a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> UInt32 {
        try AMQPConnectionHandle.checkShortString(name, what: "queue")
        return try await session.onChannel(id, "purge queue '\(name)'") { [id] (h) throws(AMQPError) -> UInt32 in
            let ok = amqp_queue_purge(h.state, id, h.pool.bytes(name))
            try h.check(amqp_get_rpc_reply(h.state), channel: id, context: "purge queue '\(name)'")
            return ok?.pointee.message_count ?? 0
        }
    }

    /// The error the broker last closed this channel with (it has been reopened since, or will
    /// be on the next request).
    public var lastError: AMQPError? {
        get async { await session.lastChannelError(id) }
    }

    /// Closes the channel; later requests on it fail with `.closed`.
    public func close() async throws {
        try await session.closeTopologyChannel(id)
    }

    private static func state(_ ok: UnsafeMutablePointer<amqp_queue_declare_ok_t>?) -> AMQPQueueState {
        guard let ok = ok?.pointee else { return AMQPQueueState(name: "", messageCount: 0, consumerCount: 0) }
        return AMQPQueueState(name: ok.queue.string, messageCount: ok.message_count, consumerCount: ok.consumer_count)
    }
}
