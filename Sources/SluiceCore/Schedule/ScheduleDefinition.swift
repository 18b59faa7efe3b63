// ScheduleDefinition: one periodic job as the catalog declares it — a name, when it fires, what
// it enqueues, and what happens to fires missed during downtime.
//
// The validating initializer is the only way to build one, so the scheduler never meets an
// empty name, a malformed kind, a sub-second interval or a broken unique-key template. The
// catalog's YAML maps onto the initializer's parameters.

import Foundation

public struct ScheduleDefinition: Sendable, Hashable {
    /// Unique in the catalog; part of every `FireKey`. Letters, digits, `_`, `.`, `-`.
    public let name: String
    public let spec: ScheduleSpec
    public let kind: JobKind
    /// The job's arguments, the same for every fire.
    public let args: [String: JSONValue]
    /// The unique-key template for enqueued jobs, or nil for none. Placeholders: `{name}`,
    /// `{kind}`, `{fire}` (the fire time as a Timestamp) and `{args.KEY}` (a string, integer or
    /// boolean argument), e.g. `refresh.matview:{args.view}`.
    public let uniqueKey: String?
    public let missedRuns: MissedRunPolicy
    /// A disabled schedule stays in the catalog but never fires.
    public let enabled: Bool

    private let uniqueKeyParts: [TemplatePart]?

    public static let maximumNameLength = 100
    /// The envelope's limit for a unique key.
    public static let maximumUniqueKeyLength = 512

    /// Validates every field; the error names the field at fault.
    public init(
        name: String, spec: ScheduleSpec, kind: JobKind, args: [String: JSONValue] = [:],
        uniqueKey: String? = nil, missedRuns: MissedRunPolicy = .runOnce, enabled: Bool = true
    ) throws(ScheduleError) {
        func fail(_ field: String, _ reason: String) -> ScheduleError {
            ScheduleError(.invalidDefinition, field: field, reason: reason)
        }
        guard !name.isEmpty else { throw fail("name", "is empty") }
        guard Self.isValidName(name) else {
            throw fail("name", "'\(name.prefix(Self.maximumNameLength))' must be 1-\(Self.maximumNameLength) letters, "
                + "digits, '_', '.' or '-', starting with a letter or digit")
        }
        guard kind.isWellFormed else {
            throw fail("kind", "'\(kind.rawValue.prefix(100))' is not a kind (namespace.name: lower-case letters, digits, '_')")
        }
        if case .every(let interval, _) = spec {
            guard interval >= ScheduleSpec.minimumInterval else {
                throw fail("every", "\(interval) is below the minimum of \(DurationSyntax.formatCompound(ScheduleSpec.minimumInterval))")
            }
            guard interval <= ScheduleSpec.maximumInterval else {
                throw fail("every", "\(DurationSyntax.formatCompound(interval)) is above the maximum of \(DurationSyntax.formatCompound(ScheduleSpec.maximumInterval))")
            }
            guard interval.components.attoseconds == 0 else { throw fail("every", "\(interval) is not a whole number of seconds") }
        }
        if case .runEach(let max) = missedRuns, !(1...MissedRunPolicy.maximumRunEach).contains(max) {
            throw fail("missed_runs", "run_each needs a limit of 1-\(MissedRunPolicy.maximumRunEach), found \(max)")
        }
        var parts: [TemplatePart]?
        if let template = uniqueKey {
            let parsed = try Self.parseTemplate(template, args: args)
            let sample = Self.render(parsed, name: name, kind: kind, args: args, fire: ScheduleSpec.epoch)
            guard sample.utf8.count <= Self.maximumUniqueKeyLength else {
                throw fail("unique_key", "renders to more than \(Self.maximumUniqueKeyLength) bytes")
            }
            parts = parsed
        }
        self.name = name
        self.spec = spec
        self.kind = kind
        self.args = args
        self.uniqueKey = uniqueKey
        self.missedRuns = missedRuns
        self.enabled = enabled
        self.uniqueKeyParts = parts
    }

    /// Whether `name` can name a schedule (and so appear in a `FireKey`).
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= maximumNameLength, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// The dedupe identity of a fire of this schedule.
    public func fireKey(_ fire: Date) -> FireKey { FireKey(schedule: name, fireTime: fire) }

    /// The rendered unique key for a fire, or nil when the definition has no template.
    public func uniqueKey(for fire: Date) -> String? {
        uniqueKeyParts.map { Self.render($0, name: name, kind: kind, args: args, fire: fire) }
    }

    /// The fires to enqueue at `now` (see `dueFires(schedule:lastFire:now:policy:grace:)`);
    /// none while disabled.
    public func dueFires(lastFire: Date?, now: Date, grace: Duration = MissedRunPolicy.defaultGrace) -> [FireKey] {
        guard enabled else { return [] }
        return SluiceCore.dueFires(schedule: spec, lastFire: lastFire, now: now, policy: missedRuns, grace: grace)
            .map(fireKey)
    }

    // MARK: - Unique-key template

    enum TemplatePart: Hashable, Sendable {
        case literal(String)
        case name, kind, fire
        case argument(String)
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    static func parseTemplate(_ template: String, args: [String: JSONValue]) throws(ScheduleError) -> [TemplatePart] {
        func fail(_ reason: String) -> ScheduleError { ScheduleError(.invalidDefinition, field: "unique_key", reason: reason) }
        guard !template.isEmpty else { throw fail("is empty") }
        guard template.utf8.count <= maximumUniqueKeyLength else { throw fail("is longer than \(maximumUniqueKeyLength) bytes") }
        var parts: [TemplatePart] = []
        var literal = ""
        var rest = template[...]
        while let c = rest.first {
            rest = rest.dropFirst()
            if c == "}" { throw fail("has a '}' without a matching '{'") }
            guard c == "{" else { literal.append(c); continue }
            guard let close = rest.firstIndex(of: "}") else { throw fail("has a '{' without a matching '}'") }
            let placeholder = String(rest[..<close])
            rest = rest[rest.index(after: close)...]
            if placeholder.contains("{") { throw fail("has a '{' inside a placeholder") }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            switch placeholder {
            case "name": parts.append(.name)
            case "kind": parts.append(.kind)
            case "fire": parts.append(.fire)
            default:
                guard placeholder.hasPrefix("args."), placeholder.count > 5 else {
                    throw fail("unknown placeholder '{\(placeholder.prefix(32))}'; expected {name}, {kind}, {fire} or {args.KEY}")
                }
                let key = String(placeholder.dropFirst(5))
                switch args[key] {
                case .string?, .int?, .bool?: parts.append(.argument(key))
                case nil: throw fail("{\(placeholder.prefix(64))} names no argument")
                default: throw fail("{\(placeholder.prefix(64))} must name a string, integer or boolean argument")
                }
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return parts
    }

    static func render(_ parts: [TemplatePart], name: String, kind: JobKind, args: [String: JSONValue], fire: Date) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .name: out += name
            case .kind: out += kind.rawValue
            case .fire: out += FireKey(schedule: name, fireTime: fire).fireTimeText
            case .argument(let key):
                switch args[key] {
                case .string(let s)?: out += s
                case .int(let i)?: out += String(i)
                case .bool(let b)?: out += b ? "true" : "false"
                default: break
                }
            }
        }
        return out
    }
}
