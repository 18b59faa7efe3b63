// AMQPFieldValue: a value in an AMQP field table (queue arguments, message headers, server
// properties).
//
// Covers every field kind rabbitmq-c 0.11 encodes. RabbitMQ understands the signed kinds;
// prefer `.int32`/`.int64` for numbers such as `x-message-ttl`. Unsigned kinds exist because
// other clients send them and a decoded table must round-trip.

import Foundation

/// An AMQP field table: argument or header names to values.
public typealias AMQPTable = [String: AMQPFieldValue]

/// One value in an AMQP field table.
public enum AMQPFieldValue: Sendable, Hashable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    /// value × 10^-scale
    case decimal(scale: UInt8, value: UInt32)
    case string(String)
    case bytes([UInt8])
    /// Seconds since the epoch.
    case timestamp(UInt64)
    case table(AMQPTable)
    case array([AMQPFieldValue])
    case void

    /// The value as a string, when it is one (or bytes that form UTF-8).
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let b): return String(validating: b, as: UTF8.self)
        default: return nil
        }
    }

    /// The value as an Int64, when it is an integer of any width.
    public var intValue: Int64? {
        switch self {
        case .int8(let v): return Int64(v)
        case .uint8(let v): return Int64(v)
        case .int16(let v): return Int64(v)
        case .uint16(let v): return Int64(v)
        case .int32(let v): return Int64(v)
        case .uint32(let v): return Int64(v)
        case .int64(let v): return v
        case .uint64(let v): return Int64(exactly: v)
        case .timestamp(let v): return Int64(exactly: v)
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var tableValue: AMQPTable? {
        if case .table(let t) = self { return t }
        return nil
    }
}

extension AMQPFieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals become `.int64` ('l'), which RabbitMQ accepts wherever it wants a number.
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
}

/// Well-known queue and exchange arguments, so that callers do not misspell them.
public enum AMQPArgument {
    public static let deadLetterExchange = "x-dead-letter-exchange"
    public static let deadLetterRoutingKey = "x-dead-letter-routing-key"
    public static let messageTTL = "x-message-ttl"
    public static let queueType = "x-queue-type"
    public static let maxPriority = "x-max-priority"
    public static let deliveryLimit = "x-delivery-limit"
    public static let expires = "x-expires"
    public static let maxLength = "x-max-length"
    public static let overflow = "x-overflow"
    /// `at-least-once` (quorum queues, with `x-overflow: reject-publish`) or `at-most-once`.
    public static let deadLetterStrategy = "x-dead-letter-strategy"
    public static let singleActiveConsumer = "x-single-active-consumer"
}
