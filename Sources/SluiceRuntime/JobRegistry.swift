// JobRegistry: from kind to worker. Validates a job's arguments before anything is published
// (producer) and before it runs (worker), so a malformed job is rejected with the field named.

import SluiceCore

public struct JobRegistry: Sendable {
    struct Entry: Sendable {
        var defaultClass: WorkloadClass
        var validate: @Sendable ([String: JSONValue]) throws(EnvelopeError) -> Void
        var run: @Sendable ([String: JSONValue], JobContext) async throws -> JSONValue
    }

    private var entries: [JobKind: Entry] = [:]

    public init() {}

    /// The registry with the built-in kinds (`sys.noop`, `sys.sleep`).
    public static var builtIn: JobRegistry {
        var r = JobRegistry()
        r.register(NoopJob())
        r.register(SleepJob())
        return r
    }

    public mutating func register<W: JobWorker>(_ worker: W) {
        let decode: @Sendable ([String: JSONValue]) throws(EnvelopeError) -> W.Arguments = { args throws(EnvelopeError) in
            let value: W.Arguments
            if let raw = args as? W.Arguments {
                // Untyped arguments (`[String: JSONValue]`): nothing to decode.
                try worker.validate(raw)
                return raw
            }
            do {
                value = try JSONValue.object(args).decode(W.Arguments.self)
            } catch let error as JSONValueError {
                throw EnvelopeError(.invalidArguments, field: error.field.map { "args.\($0)" } ?? "args", reason: error.reason)
            } catch {
                throw EnvelopeError(.invalidArguments, field: "args", reason: "\(error)")
            }
            try worker.validate(value)
            return value
        }
        entries[W.kind] = Entry(
            defaultClass: W.defaultClass,
            validate: { args throws(EnvelopeError) in _ = try decode(args) },
            run: { args, context in try await worker.run(try decode(args), context: context) })
    }

    public var kinds: [JobKind] { entries.keys.sorted() }

    public func defaultClass(of kind: JobKind) -> WorkloadClass? { entries[kind]?.defaultClass }

    /// Checks that the kind is registered and its arguments fit.
    public func validate(kind: JobKind, args: [String: JSONValue]) throws(EnvelopeError) {
        guard let entry = entries[kind] else {
            throw EnvelopeError(.unknownKind, field: "kind", reason: "no worker is registered for '\(kind.rawValue.prefix(100))'")
        }
        try entry.validate(args)
    }

    func entry(_ kind: JobKind) -> Entry? { entries[kind] }
}
