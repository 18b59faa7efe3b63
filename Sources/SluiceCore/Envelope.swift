// Envelope: the job message on the wire, version 1 (DESIGN.md "The envelope").
//
// JSON with sorted keys; AMQP `message_id` is the job id. Unknown fields are ignored so newer
// producers can add fields; an unknown `v`, a malformed field or a malformed document is an
// `EnvelopeError` that names the field, and the worker dead-letters it instead of crashing.

import Foundation

public struct Envelope: Sendable, Hashable {
    public static let version = 1

    public var id: JobID
    public var kind: JobKind
    /// The kind's arguments: always a JSON object.
    public var args: [String: JSONValue]
    /// The name of a configured database.
    public var target: String
    /// 1 for the first run; the worker increments it when it schedules a retry.
    public var attempt: Int
    public var maxAttempts: Int
    /// The job's time limit in seconds; the running statement is cancelled when it is exceeded.
    public var timeoutSeconds: Int
    public var enqueuedAt: Date
    public var notBefore: Date?
    public var uniqueKey: String?
    /// 0 (lowest) to 9, where the queue supports priorities.
    public var priority: Int?
    public var traceID: String?
    public var producer: String?
    /// Who enqueued the job (`api:{token name}`, `scheduler:{schedule}`, `job:{parent id}`,
    /// `cli:{os user}`, `amqp:{user_id}`, `key:{key id}`): the identity the ledger records as
    /// `enqueued_by`. A worker trusts it only when the envelope is signed (README, "Security").
    public var enqueuedBy: String?

    public init(
        id: JobID = .make(), kind: JobKind, args: [String: JSONValue] = [:], target: String = "main",
        attempt: Int = 1, maxAttempts: Int = JobDefaults.standard.maxAttempts,
        timeoutSeconds: Int = JobDefaults.standard.timeoutSeconds, enqueuedAt: Date = Date(),
        notBefore: Date? = nil, uniqueKey: String? = nil, priority: Int? = nil, traceID: String? = nil,
        producer: String? = nil, enqueuedBy: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.args = args
        self.target = target
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
        self.enqueuedAt = enqueuedAt
        self.notBefore = notBefore
        self.uniqueKey = uniqueKey
        self.priority = priority
        self.traceID = traceID
        self.producer = producer
        self.enqueuedBy = enqueuedBy
    }

    /// The envelope as a JSON object (sorted keys when encoded).
    public var json: JSONValue {
        func opt(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        return .object([
            "v": .int(Int64(Self.version)),
            "id": .string(id.description),
            "kind": .string(kind.rawValue),
            "args": .object(args),
            "target": .string(target),
            "attempt": .int(Int64(attempt)),
            "max_attempts": .int(Int64(maxAttempts)),
            "timeout_s": .int(Int64(timeoutSeconds)),
            "enqueued_at": .string(Timestamp.format(enqueuedAt)),
            "enqueued_by": opt(enqueuedBy),
            "not_before": opt(notBefore.map(Timestamp.format)),
            "unique_key": opt(uniqueKey),
            "priority": priority.map { .int(Int64($0)) } ?? .null,
            "trace_id": opt(traceID),
            "producer": opt(producer),
        ])
    }

    /// The wire bytes: the same as `json.encoded()` (keys in sorted order), written field by
    /// field without building the object first (the producer's hot path).
    public func encoded() -> [UInt8] {
        var w = JSONWriter(capacity: 320)
        w.raw("{\"args\":")
        w.write(args)
        w.raw(",\"attempt\":")
        w.write(Int64(attempt))
        w.raw(",\"enqueued_at\":")
        w.write(Timestamp.format(enqueuedAt))
        w.raw(",\"enqueued_by\":")
        if let enqueuedBy { w.write(enqueuedBy) } else { w.raw("null") }
        w.raw(",\"id\":")
        w.write(id.description)
        w.raw(",\"kind\":")
        w.write(kind.rawValue)
        w.raw(",\"max_attempts\":")
        w.write(Int64(maxAttempts))
        w.raw(",\"not_before\":")
        if let notBefore { w.write(Timestamp.format(notBefore)) } else { w.raw("null") }
        w.raw(",\"priority\":")
        if let priority { w.write(Int64(priority)) } else { w.raw("null") }
        w.raw(",\"producer\":")
        if let producer { w.write(producer) } else { w.raw("null") }
        w.raw(",\"target\":")
        w.write(target)
        w.raw(",\"timeout_s\":")
        w.write(Int64(timeoutSeconds))
        w.raw(",\"trace_id\":")
        if let traceID { w.write(traceID) } else { w.raw("null") }
        w.raw(",\"unique_key\":")
        if let uniqueKey { w.write(uniqueKey) } else { w.raw("null") }
        w.raw(",\"v\":")
        w.write(Int64(Self.version))
        w.raw("}")
        return w.bytes
    }

    /// Decodes wire bytes, validating every field. The top level is read field by field into
    /// its slots (`EnvelopeFields`) without building a dictionary of it first: the worker decodes
    /// every message, and the general parser's object of fifteen keys was 7 % of its CPU.
    public static func decode(_ bytes: some Collection<UInt8>) throws(EnvelopeError) -> Envelope {
        let fields: EnvelopeFields
        do {
            fields = try EnvelopeFields.parse(bytes)
        } catch let error as EnvelopeError {
            throw error
        } catch {
            throw EnvelopeError(.malformed, field: nil, reason: "not valid JSON")
        }
        return try decode(fields)
    }

    public static func decode(_ value: JSONValue) throws(EnvelopeError) -> Envelope {
        guard case .object(let o) = value else {
            throw EnvelopeError(.malformed, field: nil, reason: "expected a JSON object")
        }
        var fields = EnvelopeFields()
        for (i, name) in EnvelopeFields.names.enumerated() { fields.slots[i] = o[name] }
        return try decode(fields)
    }

    private static func decode(_ r: EnvelopeFields) throws(EnvelopeError) -> Envelope {
        guard let v = try r.int(.v) else { throw EnvelopeError(.invalidField, field: "v", reason: "is required") }
        guard v == Int64(version) else {
            throw EnvelopeError(.unsupportedVersion, field: "v", reason: "version \(v) is not supported (this worker reads \(version))")
        }
        guard let idText = try r.string(.id) else { throw EnvelopeError(.invalidField, field: "id", reason: "is required") }
        guard let id = JobID(idText) else { throw EnvelopeError(.invalidField, field: "id", reason: "is not a UUID") }
        guard let kindText = try r.string(.kind) else { throw EnvelopeError(.invalidField, field: "kind", reason: "is required") }
        let kind = JobKind(kindText)
        guard kind.isWellFormed else {
            throw EnvelopeError(.invalidField, field: "kind", reason: "'\(kindText.prefix(100))' is not a kind (namespace.name)")
        }
        var args: [String: JSONValue] = [:]
        switch r[.args] {
        case nil, .null?: break
        case .object(let a)?: args = a
        default: throw EnvelopeError(.invalidField, field: "args", reason: "expected an object")
        }
        let target = try r.string(.target) ?? "main"
        guard !target.isEmpty, target.utf8.count <= 63 else {
            throw EnvelopeError(.invalidField, field: "target", reason: "must be a database name of 1-63 bytes")
        }
        let attempt = try r.int(.attempt) ?? 1
        let maxAttempts = try r.int(.maxAttempts) ?? Int64(JobDefaults.standard.maxAttempts)
        guard maxAttempts >= 1, maxAttempts <= 100 else {
            throw EnvelopeError(.invalidField, field: "max_attempts", reason: "must be between 1 and 100")
        }
        guard attempt >= 1, attempt <= maxAttempts + 1 else {
            throw EnvelopeError(.invalidField, field: "attempt", reason: "must be between 1 and max_attempts")
        }
        let timeout = try r.int(.timeout) ?? Int64(JobDefaults.standard.timeoutSeconds)
        guard timeout >= 1, timeout <= 7 * 86_400 else {
            throw EnvelopeError(.invalidField, field: "timeout_s", reason: "must be between 1 and 604800 seconds")
        }
        guard let enqueuedAt = try r.date(.enqueuedAt) else {
            throw EnvelopeError(.invalidField, field: "enqueued_at", reason: "is required")
        }
        let priority = try r.int(.priority)
        if let p = priority, !(0...9).contains(p) {
            throw EnvelopeError(.invalidField, field: "priority", reason: "must be between 0 and 9")
        }
        let enqueuedBy = try r.string(.enqueuedBy)
        if let b = enqueuedBy, b.isEmpty || b.utf8.count > 200 {
            throw EnvelopeError(.invalidField, field: "enqueued_by", reason: "must be 1-200 bytes")
        }
        let uniqueKey = try r.string(.uniqueKey)
        if let u = uniqueKey, u.isEmpty || u.utf8.count > 512 {
            throw EnvelopeError(.invalidField, field: "unique_key", reason: "must be 1-512 bytes")
        }
        return Envelope(
            id: id, kind: kind, args: args, target: target, attempt: Int(attempt), maxAttempts: Int(maxAttempts),
            timeoutSeconds: Int(timeout), enqueuedAt: enqueuedAt, notBefore: try r.date(.notBefore),
            uniqueKey: uniqueKey, priority: priority.map { Int($0) }, traceID: try r.string(.traceID),
            producer: try r.string(.producer), enqueuedBy: enqueuedBy)
    }
}

/// The top-level fields an envelope reads, by slot (unknown fields are skipped), read with
/// typed accessors that name the field on a type mismatch.
private struct EnvelopeFields {
    /// In the order of `names`.
    enum Slot: Int {
        case v, id, kind, args, target, attempt, maxAttempts, timeout, enqueuedAt, enqueuedBy, notBefore, uniqueKey, priority,
             traceID, producer
    }
    static let names = ["v", "id", "kind", "args", "target", "attempt", "max_attempts", "timeout_s", "enqueued_at",
                        "enqueued_by", "not_before", "unique_key", "priority", "trace_id", "producer"]
    private static let utf8Names = names.map { Array($0.utf8) }

    var slots = [JSONValue?](repeating: nil, count: names.count)

    /// Parses a JSON object's top level into slots (a later duplicate key wins, as in the general
    /// parser); valid JSON that is not an object is `malformed`, bad JSON a `JSONValueError`.
    static func parse(_ bytes: some Collection<UInt8>) throws -> EnvelopeFields {
        var fields = EnvelopeFields()
        let isObject = try JSONParser.whole(bytes) { (p: inout JSONParser.Cursor) throws(JSONValueError) -> Bool in
            guard p.peek == UInt8(ascii: "{") else {
                _ = try p.value(depth: 0)
                return false
            }
            try p.members(depth: 0, key: { (p: inout JSONParser.Cursor) throws(JSONValueError) in try p.fieldSlot(utf8Names) }) {
                if let slot = $0 { fields.slots[slot] = $1 }
            }
            return true
        }
        guard isObject else { throw EnvelopeError(.malformed, field: nil, reason: "expected a JSON object") }
        return fields
    }

    subscript(_ slot: Slot) -> JSONValue? { slots[slot.rawValue] }

    /// A field by its slot: nil when absent or null.
    func string(_ i: Slot) throws(EnvelopeError) -> String? {
        switch self[i] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw EnvelopeError(.invalidField, field: Self.names[i.rawValue], reason: "expected a string")
        }
    }

    func int(_ i: Slot) throws(EnvelopeError) -> Int64? {
        switch self[i] {
        case nil, .null?: return nil
        case let v?:
            guard let n = v.intValue else { throw EnvelopeError(.invalidField, field: Self.names[i.rawValue], reason: "expected an integer") }
            return n
        }
    }

    func date(_ i: Slot) throws(EnvelopeError) -> Date? {
        guard let s = try string(i) else { return nil }
        guard let d = Timestamp.parse(s) else {
            throw EnvelopeError(.invalidField, field: Self.names[i.rawValue], reason: "expected an ISO 8601 UTC timestamp")
        }
        return d
    }
}

extension JSONParser.Cursor {
    /// Reads an object key (at its opening quote) and returns the index of the name it equals
    /// in `names`, or nil. A key without escapes is compared as bytes, with no string made.
    mutating func fieldSlot(_ names: [[UInt8]]) throws(JSONValueError) -> Int? {
        let start = index + 1
        var end = start
        while end < bytes.count {
            let c = bytes[end]
            if c == UInt8(ascii: "\"") {
                let key = UnsafeBufferPointer(rebasing: bytes[start..<end])
                guard String(validating: key, as: UTF8.self) != nil else {
                    index = end
                    throw error("invalid UTF-8 in a string")
                }
                index = end + 1
                return names.firstIndex { $0.elementsEqual(key) }
            }
            if c == UInt8(ascii: "\\") || c < 0x20 { break }
            end += 1
        }
        let key = Array(try string().utf8)
        return names.firstIndex(of: key)
    }
}
