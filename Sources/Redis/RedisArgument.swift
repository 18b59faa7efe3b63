// RedisArgument: one argument of a Redis command, as text, raw bytes or a number.
//
// Arguments are encoded straight into the RESP request buffer (see RESPEncoder), so numbers are
// never formatted through an intermediate String and bytes are sent as they are: any byte,
// including NUL and 0xFF, round-trips.

/// One argument of a command. Literals work directly: `["SET", "key", 42]`.
public struct RedisArgument: Sendable, Hashable, CustomStringConvertible {
    enum Storage: Sendable, Hashable {
        case string(String)
        case bytes([UInt8])
        case integer(Int)
        case double(Double)
    }
    let storage: Storage

    init(storage: Storage) { self.storage = storage }

    public init(_ value: String) { storage = .string(value) }
    public init<S: StringProtocol>(_ value: S) { storage = .string(String(value)) }
    public init(_ value: [UInt8]) { storage = .bytes(value) }
    public init<B: Sequence<UInt8>>(bytes: B) { storage = .bytes(Array(bytes)) }
    public init(_ value: Int) { storage = .integer(value) }
    /// Sent in Swift's shortest round-trip form ("1.5", "1e+20", "inf", "-inf"), which Redis parses.
    public init(_ value: Double) { storage = .double(value) }

    public static func string(_ value: String) -> RedisArgument { RedisArgument(value) }
    public static func bytes(_ value: [UInt8]) -> RedisArgument { RedisArgument(value) }
    public static func int(_ value: Int) -> RedisArgument { RedisArgument(value) }
    public static func double(_ value: Double) -> RedisArgument { RedisArgument(value) }

    /// Describes the kind and size only: arguments may be payloads.
    public var description: String {
        switch storage {
        case .string(let s): return "<string \(s.utf8.count) bytes>"
        case .bytes(let b): return "<bytes \(b.count)>"
        case .integer: return "<integer>"
        case .double: return "<double>"
        }
    }
}

extension RedisArgument: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(stringLiteral value: String) { storage = .string(value) }
    public init(integerLiteral value: Int) { storage = .integer(value) }
    public init(floatLiteral value: Double) { storage = .double(value) }
}

/// A value that can be a command argument, so call sites can pass Swift values directly:
/// `try await redis.send("SET", key, bytes)`.
public protocol RedisArgumentConvertible: Sendable {
    var redisArgument: RedisArgument { get }
}

extension RedisArgument: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { self }
}
extension String: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { RedisArgument(storage: .string(self)) }
}
extension Substring: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { RedisArgument(storage: .string(String(self))) }
}
extension Array: RedisArgumentConvertible where Element == UInt8 {
    public var redisArgument: RedisArgument { RedisArgument(storage: .bytes(self)) }
}
extension ArraySlice: RedisArgumentConvertible where Element == UInt8 {
    public var redisArgument: RedisArgument { RedisArgument(storage: .bytes(Array(self))) }
}
extension Int: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { RedisArgument(storage: .integer(self)) }
}
extension Double: RedisArgumentConvertible {
    public var redisArgument: RedisArgument { RedisArgument(storage: .double(self)) }
}
