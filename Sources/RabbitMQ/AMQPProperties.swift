// AMQPProperties: the basic-class properties of a message (content type, message id,
// persistence, priority, headers...), and their translation to and from rabbitmq-c.
//
// Only set properties go on the wire. `expiration` is a Duration here; on the wire it is the
// millisecond string RabbitMQ expects (a foreign non-numeric value decodes as nil).

import CRabbitMQ
import Foundation

/// Whether the broker writes a message to disk.
public enum AMQPDeliveryMode: UInt8, Sendable {
    case transient = 1
    case persistent = 2
}

/// The properties of an AMQP message.
public struct AMQPProperties: Sendable, Equatable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: AMQPTable
    public var deliveryMode: AMQPDeliveryMode?
    public var priority: UInt8?
    public var correlationId: String?
    public var replyTo: String?
    /// Per-message TTL.
    public var expiration: Duration?
    public var messageId: String?
    /// Seconds precision on the wire.
    public var timestamp: Date?
    public var type: String?
    public var userId: String?
    public var appId: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: AMQPTable = [:],
        deliveryMode: AMQPDeliveryMode? = .persistent, priority: UInt8? = nil, correlationId: String? = nil,
        replyTo: String? = nil, expiration: Duration? = nil, messageId: String? = nil, timestamp: Date? = nil,
        type: String? = nil, userId: String? = nil, appId: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.deliveryMode = deliveryMode
        self.priority = priority
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageId = messageId
        self.timestamp = timestamp
        self.type = type
        self.userId = userId
        self.appId = appId
    }
}

extension AMQPProperties {
    /// The C form, with strings and headers copied into `pool` (valid until it is recycled).
    func encode(into pool: AMQPPool) -> amqp_basic_properties_t {
        var p = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let contentType {
            p.content_type = pool.bytes(contentType)
            flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG)
        }
        if let contentEncoding {
            p.content_encoding = pool.bytes(contentEncoding)
            flags |= UInt32(AMQP_BASIC_CONTENT_ENCODING_FLAG)
        }
        if !headers.isEmpty {
            p.headers = pool.table(headers)
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
        }
        if let deliveryMode {
            p.delivery_mode = deliveryMode.rawValue
            flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        }
        if let priority {
            p.priority = priority
            flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG)
        }
        if let correlationId {
            p.correlation_id = pool.bytes(correlationId)
            flags |= UInt32(AMQP_BASIC_CORRELATION_ID_FLAG)
        }
        if let replyTo {
            p.reply_to = pool.bytes(replyTo)
            flags |= UInt32(AMQP_BASIC_REPLY_TO_FLAG)
        }
        if let expiration {
            p.expiration = pool.bytes(String(expiration.milliseconds))
            flags |= UInt32(AMQP_BASIC_EXPIRATION_FLAG)
        }
        if let messageId {
            p.message_id = pool.bytes(messageId)
            flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
        }
        if let timestamp {
            p.timestamp = UInt64(max(0, timestamp.timeIntervalSince1970.rounded(.down)))
            flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG)
        }
        if let type {
            p.type = pool.bytes(type)
            flags |= UInt32(AMQP_BASIC_TYPE_FLAG)
        }
        if let userId {
            p.user_id = pool.bytes(userId)
            flags |= UInt32(AMQP_BASIC_USER_ID_FLAG)
        }
        if let appId {
            p.app_id = pool.bytes(appId)
            flags |= UInt32(AMQP_BASIC_APP_ID_FLAG)
        }
        p._flags = amqp_flags_t(flags)
        return p
    }

    /// A Swift copy of properties decoded by rabbitmq-c.
    init(decoding p: amqp_basic_properties_t) {
        let flags = UInt32(truncatingIfNeeded: p._flags)
        func has(_ flag: Int32) -> Bool { flags & UInt32(flag) != 0 }
        self.init(deliveryMode: nil)
        if has(AMQP_BASIC_CONTENT_TYPE_FLAG) { contentType = p.content_type.string }
        if has(AMQP_BASIC_CONTENT_ENCODING_FLAG) { contentEncoding = p.content_encoding.string }
        if has(AMQP_BASIC_HEADERS_FLAG) { headers = AMQPFieldValue.decode(table: p.headers) }
        if has(AMQP_BASIC_DELIVERY_MODE_FLAG) { deliveryMode = AMQPDeliveryMode(rawValue: p.delivery_mode) }
        if has(AMQP_BASIC_PRIORITY_FLAG) { priority = p.priority }
        if has(AMQP_BASIC_CORRELATION_ID_FLAG) { correlationId = p.correlation_id.string }
        if has(AMQP_BASIC_REPLY_TO_FLAG) { replyTo = p.reply_to.string }
        if has(AMQP_BASIC_EXPIRATION_FLAG), let ms = Int64(p.expiration.string) { expiration = .milliseconds(ms) }
        if has(AMQP_BASIC_MESSAGE_ID_FLAG) { messageId = p.message_id.string }
        if has(AMQP_BASIC_TIMESTAMP_FLAG) { timestamp = Date(timeIntervalSince1970: TimeInterval(p.timestamp)) }
        if has(AMQP_BASIC_TYPE_FLAG) { type = p.type.string }
        if has(AMQP_BASIC_USER_ID_FLAG) { userId = p.user_id.string }
        if has(AMQP_BASIC_APP_ID_FLAG) { appId = p.app_id.string }
    }
}
