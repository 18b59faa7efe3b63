// RESPValue: a typed Redis (RESP2) reply.
//
// Replies are copied out of hiredis's reply tree at once, so a value owns its bytes and is
// Sendable. The accessors are lenient in the way Redis is (a bulk string "42" reads as an Int);
// the cases are exact. A top-level error reply is thrown as `RedisError` by `send`; `.error`
// appears only inside arrays (EXEC, scripts) and in pipeline results.

/// A reply from Redis.
public enum RESPValue: Sendable, Hashable {
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply nested in an array (top-level errors are thrown).
    case error(RedisError)
    case integer(Int)
    /// A bulk string; nil is the nil bulk string (`GET` of a missing key).
    case bulkString([UInt8]?)
    /// An array; nil is the nil array (`BLPOP` / `XREAD BLOCK` timing out, aborted `EXEC`).
    case array([RESPValue]?)

    /// Text of a status reply or a UTF-8 bulk string, or an integer's decimal form; nil otherwise
    /// (nil replies, arrays, bytes that are not UTF-8).
    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let b?): return String(validating: b, as: UTF8.self)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// An integer reply, or a string reply holding a decimal integer.
    public var int: Int? {
        switch self {
        case .integer(let i): return i
        case .bulkString(let b?): return String(validating: b, as: UTF8.self).flatMap { Int($0) }
        case .simpleString(let s): return Int(s)
        default: return nil
        }
    }

    /// A number reply (ZSCORE, INCRBYFLOAT): integers and decimal strings.
    public var double: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .bulkString(let b?): return String(validating: b, as: UTF8.self).flatMap { Double($0) }
        case .simpleString(let s): return Double(s)
        default: return nil
        }
    }

    /// The raw bytes of a bulk string (or a status reply's text).
    public var bytes: [UInt8]? {
        switch self {
        case .bulkString(let b): return b
        case .simpleString(let s): return Array(s.utf8)
        default: return nil
        }
    }

    /// The elements of a non-nil array.
    public var array: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// True for the nil bulk string and the nil array.
    public var isNil: Bool {
        switch self {
        case .bulkString(nil), .array(nil): return true
        default: return false
        }
    }

    /// The error of an `.error` value.
    public var error: RedisError? {
        if case .error(let e) = self { return e }
        return nil
    }

    /// A flat array of field/value pairs (HGETALL, CONFIG GET, XRANGE fields) as a dictionary.
    /// Nil when the reply is not such an array or a field or value is not text; a nil array is
    /// an empty dictionary.
    public var dictionary: [String: String]? {
        guard case .array(let elements) = self else { return nil }
        guard let elements else { return [:] }
        guard elements.count % 2 == 0 else { return nil }
        var result: [String: String] = [:]
        result.reserveCapacity(elements.count / 2)
        var i = 0
        while i < elements.count {
            guard let key = elements[i].string, let value = elements[i + 1].string else { return nil }
            result[key] = value
            i += 2
        }
        return result
    }

    /// Like `dictionary`, with values kept as bytes (binary-safe).
    public var byteDictionary: [String: [UInt8]]? {
        guard case .array(let elements) = self else { return nil }
        guard let elements else { return [:] }
        guard elements.count % 2 == 0 else { return nil }
        var result: [String: [UInt8]] = [:]
        result.reserveCapacity(elements.count / 2)
        var i = 0
        while i < elements.count {
            guard let key = elements[i].string, let value = elements[i + 1].bytes else { return nil }
            result[key] = value
            i += 2
        }
        return result
    }
}
