// JobRegistry: from kind to worker, with the catalog every kind validates against. Validates a
// job's target, kind and arguments before anything is written (producer) and before it runs
// (worker), so a malformed job is refused with the field named.

import Foundation
import SluiceCatalog
import SluiceCore

public struct JobRegistry: Sendable {
    struct Entry: Sendable {
        var defaultClass: WorkloadClass
        var defaults: JobDefaults
        /// The kind's work runs in the transaction that records it completed.
        var transactional: Bool
        var validate: @Sendable ([String: JSONValue], Catalog) throws(EnvelopeError) -> Void
        var run: @Sendable ([String: JSONValue], JobContext) async throws -> JSONValue
    }

    private var entries: [JobKind: Entry] = [:]
    /// What operators allow: the targets a job may name and the objects kinds may touch.
    public let catalog: Catalog
    /// The catalog as each declared target sees it (objects may be limited to some targets).
    private let scoped: [String: Catalog]

    public init(catalog: Catalog = Catalog()) {
        self.catalog = catalog
        var scoped: [String: Catalog] = [:]
        for t in catalog.targets { scoped[t.name] = catalog.scoped(to: t.name) }
        self.scoped = scoped
    }

    /// The catalog as `target` sees it (the whole catalog for an undeclared target).
    public func catalog(for target: String) -> Catalog { scoped[target] ?? catalog }

    /// The registry with the built-in kinds (`sys.noop`, `sys.sleep`) only.
    public static var builtIn: JobRegistry { JobRegistry(catalog: Catalog()).withBuiltIns() }

    /// This registry plus the built-in kinds.
    public func withBuiltIns() -> JobRegistry {
        var r = self
        r.register(NoopJob())
        r.register(SleepJob())
        return r
    }

    /// Adds a kind. Registering a kind twice is a programming error (two types claiming one
    /// kind string, or one line repeated): the process stops here, at start, naming the kind.
    public mutating func register<W: JobWorker>(_ worker: W) {
        precondition(entries[W.kind] == nil, "job kind '\(W.kind.rawValue)' is registered twice")
        let decode: @Sendable ([String: JSONValue], Catalog) throws(EnvelopeError) -> W.Arguments = { args, catalog throws(EnvelopeError) in
            let value: W.Arguments
            if let raw = args as? W.Arguments {
                // Untyped arguments (`[String: JSONValue]`): nothing to decode.
                value = raw
            } else {
                do throws(JSONValueError) {
                    value = try JSONValue.object(args).decode(W.Arguments.self)
                } catch {
                    var reason = error.reason
                    if let field = error.field, let near = Self.nearMiss(field, among: args.keys) {
                        reason += " (found '\(near)': did you mean '\(field)'?)"
                    }
                    throw EnvelopeError(.invalidArguments, field: error.field.map { "args.\($0)" } ?? "args", reason: reason)
                }
                if let encodable = value as? any Encodable { try Self.refuseUnknownKeys(args, decoded: encodable) }
            }
            try worker.validate(value, against: catalog)
            return value
        }
        entries[W.kind] = Entry(
            defaultClass: W.defaultClass,
            defaults: W.defaults,
            transactional: W.transactional,
            validate: { args, catalog throws(EnvelopeError) in _ = try decode(args, catalog) },
            run: { args, context in
                let report = try await worker.run(try decode(args, context.catalog), context: context)
                return try JobReportEncoding.json(report)
            })
    }

    public var kinds: [JobKind] { entries.keys.sorted() }

    public func defaultClass(of kind: JobKind) -> WorkloadClass? { entries[kind]?.defaultClass }

    /// Whether the kind's work runs in the transaction that records it completed.
    public func isTransactional(_ kind: JobKind) -> Bool { entries[kind]?.transactional ?? false }

    /// The kind's time limit, attempts and backoff (nil for an unknown kind).
    public func defaults(of kind: JobKind) -> JobDefaults? { entries[kind]?.defaults }

    /// Checks that the kind is registered and its arguments fit.
    public func validate(kind: JobKind, args: [String: JSONValue]) throws(EnvelopeError) {
        guard let entry = entries[kind] else {
            throw EnvelopeError(.unknownKind, field: "kind", reason: "no worker is registered for '\(kind.rawValue.prefix(100))'")
        }
        try entry.validate(args, catalog)
    }

    /// Checks the target, then the kind and its arguments against what the catalog declares
    /// for that target.
    public func validate(kind: JobKind, args: [String: JSONValue], target: String) throws(EnvelopeError) {
        try validate(target: target)
        guard let entry = entries[kind] else {
            throw EnvelopeError(.unknownKind, field: "kind", reason: "no worker is registered for '\(kind.rawValue.prefix(100))'")
        }
        do {
            try entry.validate(args, catalog(for: target))
        } catch where error.code == .invalidArguments {
            // Refused as `target` sees the catalog: when the whole catalog accepts it, the
            // object is declared for other targets only, and the target is what is wrong.
            guard (try? entry.validate(args, catalog)) != nil else { throw error }
            let shown = target.count > 64 ? String(target.prefix(64)) + "…" : target
            throw EnvelopeError(.invalidField, field: "target",
                                reason: "\(error.field ?? "args") names what the catalog declares only for other targets than \(shown.debugDescription) (as \(shown.debugDescription) sees the catalog: \(error.reason))")
        }
    }

    /// A target must be declared in the catalog (`main` always is, unless the catalog redefines it).
    public func validate(target: String) throws(EnvelopeError) {
        guard catalog.target(named: target) == nil else { return }
        let shown = target.count > 64 ? String(target.prefix(64)) + "…" : target
        let declared = catalog.targets.map(\.name).joined(separator: ", ")
        throw EnvelopeError(.invalidField, field: "target", reason: "the catalog declares no target named \(shown.debugDescription) (declared: \(declared))")
    }

    func entry(_ kind: JobKind) -> Entry? { entries[kind] }

    /// A given key within two edits of the missing `field` (`tabel` for `table`).
    static func nearMiss(_ field: String, among keys: Dictionary<String, JSONValue>.Keys) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for i in 1...max(a.count, 1) where !a.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in stride(from: 1, through: b.count, by: 1) {
                    let old = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                    previous = old
                }
            }
            return a.isEmpty ? b.count : row[b.count]
        }
        let target = Array(field)
        return keys.filter { $0 != field && $0.count < 64 }.sorted().first { distance(Array($0), target) <= 2 }
    }

    /// Keys present in the message (with a non-null value) that the typed arguments did not
    /// read back are refused, nested objects included: `{"tabel": …}` is an error, not a default.
    static func refuseUnknownKeys(_ args: [String: JSONValue], decoded: any Encodable) throws(EnvelopeError) {
        guard let encoded = try? JSONValue(encoding: decoded), case .object(let known) = encoded else { return }
        try compare(args, known, path: "args")
    }

    private static func compare(_ given: [String: JSONValue], _ known: [String: JSONValue], path: String) throws(EnvelopeError) {
        for key in given.keys.sorted() {
            let value = given[key]!
            if case .null = value { continue }
            guard let back = known[key] else {
                let shown = key.count > 64 ? String(key.prefix(64)) + "…" : key
                // The re-encoded value omits optional arguments left out, so this lists the
                // arguments given that the kind knows, plus the ones it always has: not all of them.
                let expected = known.keys.sorted().joined(separator: ", ")
                throw EnvelopeError(.invalidArguments, field: "\(path).\(shown)",
                                    reason: "unknown argument" + (expected.isEmpty ? "" : " (known arguments include: \(expected))"))
            }
            if case .object(let g) = value, case .object(let k) = back {
                try compare(g, k, path: "\(path).\(key)")
            }
        }
    }
}

/// How a kind's typed report becomes the JSON stored in the ledger and Redis: snake_case keys,
/// ISO 8601 dates. A `JSONValue` report is stored as it is.
public enum JobReportEncoding {
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    public static func json<R: Encodable>(_ report: R) throws -> JSONValue {
        if let value = report as? JSONValue { return value }
        do {
            return try JSONValue.parse(Array(try encoder.encode(report)))
        } catch {
            throw JobError("could not encode the job's report: \(error)", retryable: false)
        }
    }
}
