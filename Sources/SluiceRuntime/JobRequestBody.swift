// JobRequestBody: a job as a client states it: the body of POST /v1/jobs (each entry of a
// batch's `jobs` too) and what `sluice enqueue`'s flags fill in. One type, one set of checks
// (unknown fields, types, ranges, class names), each failure naming its field, then one
// `JobRequest`; what the request leaves out is the kind's (JobDefaults). The kind and its
// arguments are checked later, by the registry, at enqueue.

import Foundation
import SluiceCore

public struct JobRequestBody: Codable, Sendable, Equatable {
    public var kind: String
    public var args: [String: JSONValue]?
    public var workloadClass: String?
    public var target: String?
    public var uniqueKey: String?
    /// Seconds from now, 0…30 days.
    public var delaySeconds: Int?
    /// RFC 3339.
    public var notBefore: String?
    public var priority: Int?
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?
    public var traceID: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, args, workloadClass = "class", target, uniqueKey = "unique_key", delaySeconds = "delay_s"
        case notBefore = "not_before", priority, maxAttempts = "max_attempts", timeoutSeconds = "timeout_s", traceID = "trace_id"
    }

    /// The body's field names.
    public static let fields: Set<String> = Set(CodingKeys.allCases.map(\.rawValue))

    public init(kind: String, args: [String: JSONValue]? = nil, workloadClass: String? = nil, target: String? = nil,
                uniqueKey: String? = nil, delaySeconds: Int? = nil, notBefore: String? = nil, priority: Int? = nil,
                maxAttempts: Int? = nil, timeoutSeconds: Int? = nil, traceID: String? = nil) {
        self.kind = kind
        self.args = args
        self.workloadClass = workloadClass
        self.target = target
        self.uniqueKey = uniqueKey
        self.delaySeconds = delaySeconds
        self.notBefore = notBefore
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
        self.traceID = traceID
    }

    /// Why a body is refused, and the field at fault (nil: the body as a whole).
    public struct Invalid: Error, CustomStringConvertible {
        public var message: String
        public var field: String?
        public var description: String { field.map { "\($0): \(message)" } ?? message }
    }

    /// Limits of the numeric fields.
    static let priorities: ClosedRange<Int64> = 0...9
    static let attempts: ClosedRange<Int64> = 1...100
    static let timeouts: ClosedRange<Int64> = 1...(86_400 * 7)
    static let delays: ClosedRange<Int64> = 0...(86_400 * 30)

    /// Reads one job object; field names in errors start with `prefix` (`jobs[3].`).
    public static func decode(_ value: JSONValue, prefix: String = "") throws(Invalid) -> JobRequestBody {
        guard let o = value.objectValue else {
            throw Invalid(message: "a job is a JSON object", field: prefix.isEmpty ? nil : String(prefix.dropLast()))
        }
        if let unknown = o.keys.sorted().first(where: { !fields.contains($0) }) {
            throw Invalid(message: "unknown field '\(unknown.prefix(64))'", field: prefix + unknown)
        }
        func string(_ name: String) throws(Invalid) -> String? {
            guard let v = o[name], !v.isNull else { return nil }
            guard let s = v.stringValue else { throw Invalid(message: "\(name) must be a string", field: prefix + name) }
            return s
        }
        func int(_ name: String) throws(Invalid) -> Int? {
            guard let v = o[name], !v.isNull else { return nil }
            guard let i = v.intValue else { throw Invalid(message: "\(name) must be an integer", field: prefix + name) }
            return Int(i)
        }
        guard let kind = try string("kind"), !kind.isEmpty else { throw Invalid(message: "kind is required", field: prefix + "kind") }
        var args: [String: JSONValue]?
        if let a = o["args"], !a.isNull {
            guard let object = a.objectValue else { throw Invalid(message: "args must be a JSON object", field: prefix + "args") }
            args = object
        }
        let body = JobRequestBody(
            kind: kind, args: args, workloadClass: try string("class"), target: try string("target"),
            uniqueKey: try string("unique_key"), delaySeconds: try int("delay_s"), notBefore: try string("not_before"),
            priority: try int("priority"), maxAttempts: try int("max_attempts"), timeoutSeconds: try int("timeout_s"),
            traceID: try string("trace_id"))
        try body.check(prefix: prefix)
        return body
    }

    /// Ranges and names, in the order the body's fields are documented.
    func check(prefix: String = "") throws(Invalid) {
        func within(_ name: String, _ value: Int?, _ range: ClosedRange<Int64>) throws(Invalid) {
            guard let value, !range.contains(Int64(value)) else { return }
            throw Invalid(message: "\(name) must be between \(range.lowerBound) and \(range.upperBound)", field: prefix + name)
        }
        try within("priority", priority, Self.priorities)
        try within("max_attempts", maxAttempts, Self.attempts)
        try within("timeout_s", timeoutSeconds, Self.timeouts)
        if let c = workloadClass, WorkloadClass(rawValue: c) == nil {
            throw Invalid(message: "unknown class '\(c.prefix(64))'; expected one of \(WorkloadClass.allCases.map(\.rawValue).joined(separator: ", "))",
                          field: prefix + "class")
        }
        try within("delay_s", delaySeconds, Self.delays)
        if let text = notBefore, Timestamp.parse(text) == nil {
            throw Invalid(message: "not_before must be an RFC 3339 time", field: prefix + "not_before")
        }
    }

    /// The request the producer enqueues (checked again here, for bodies built in code).
    public func request(producer: String) throws(Invalid) -> JobRequest {
        try check()
        var r = JobRequest(kind: JobKind(kind), args: args ?? [:], target: target ?? "main", uniqueKey: uniqueKey, priority: priority,
                           maxAttempts: maxAttempts, timeoutSeconds: timeoutSeconds, traceID: traceID, producer: producer)
        r.workloadClass = workloadClass.flatMap(WorkloadClass.init(rawValue:))
        if let delaySeconds { r.delay(by: .seconds(delaySeconds)) }
        if let notBefore { r.notBefore = Timestamp.parse(notBefore) }
        return r
    }
}
