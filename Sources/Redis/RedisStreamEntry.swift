// RedisStreamEntry: one entry of a Redis stream, parsed from XRANGE / XREVRANGE / XREAD replies.
//
// Field values stay bytes (binary-safe); `subscript(string:)` reads one as UTF-8 text. Fields keep
// their order and duplicates, as Redis stores them.

/// An entry of a stream: its ID and its field/value pairs.
public struct RedisStreamEntry: Sendable, Hashable {
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: [UInt8]
        public init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// The entry ID, "<milliseconds>-<sequence>".
    public var id: String
    public var fields: [Field]

    public init(id: String, fields: [Field]) {
        self.id = id
        self.fields = fields
    }

    /// The first value of `name`, as bytes.
    public subscript(_ name: String) -> [UInt8]? {
        fields.first { $0.name == name }?.value
    }

    /// The first value of `name`, as UTF-8 text.
    public subscript(string name: String) -> String? {
        self[name].flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// Parses an XRANGE / XREVRANGE reply (an array of [id, [field, value, ...]]).
    public static func entries(from reply: RESPValue) throws(RedisError) -> [RedisStreamEntry] {
        guard case .array(let items) = reply else {
            throw RedisError(.protocol, "a stream range reply is not an array")
        }
        guard let items else { return [] }
        var entries: [RedisStreamEntry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            guard let pair = item.array, pair.count == 2, let id = pair[0].string else {
                throw RedisError(.protocol, "a stream entry is not [id, fields]")
            }
            // A deleted entry still pending in a consumer group has nil fields.
            let flat = pair[1].array ?? []
            guard flat.count % 2 == 0 else {
                throw RedisError(.protocol, "stream entry \(id) has an odd number of field items")
            }
            var fields: [Field] = []
            fields.reserveCapacity(flat.count / 2)
            var i = 0
            while i < flat.count {
                guard let name = flat[i].string, let value = flat[i + 1].bytes else {
                    throw RedisError(.protocol, "stream entry \(id) has a field that is not a string")
                }
                fields.append(Field(name: name, value: value))
                i += 2
            }
            entries.append(RedisStreamEntry(id: id, fields: fields))
        }
        return entries
    }

    /// Parses an XREAD / XREADGROUP reply into (stream, entries) pairs in reply order; a nil
    /// reply (the BLOCK time passed) is an empty list.
    public static func streams(fromXRead reply: RESPValue) throws(RedisError) -> [(stream: String, entries: [RedisStreamEntry])] {
        if reply.isNil { return [] }
        guard let items = reply.array else {
            throw RedisError(.protocol, "an XREAD reply is not an array")
        }
        var result: [(stream: String, entries: [RedisStreamEntry])] = []
        for item in items {
            guard let pair = item.array, pair.count == 2, let stream = pair[0].string else {
                throw RedisError(.protocol, "an XREAD stream is not [name, entries]")
            }
            result.append((stream, try entries(from: pair[1])))
        }
        return result
    }
}
