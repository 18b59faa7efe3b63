// ProducerGrant: what one signing key may enqueue (the catalog's `producers:` section): kinds
// (exact, or `namespace.*`), classes and targets, each optional (left out: any). A key the
// section does not list is not limited. The producer refuses a job its key may not enqueue;
// a worker dead-letters one published by hand (`not_allowed`), so a reporting service's key can
// enqueue `analytics.*` and never `maintenance.*`.

import SluiceCore

public struct ProducerGrant: Sendable, Equatable {
    /// The signing key's id (`SLUICE_SIGNING_KEYS`).
    public var keyID: String
    /// Kind patterns: `analytics.query`, or `analytics.*` for a whole namespace. nil: any kind.
    public var kinds: [String]?
    public var classes: [WorkloadClass]?
    public var targets: [String]?
    public var location: SourceLocation?

    public init(keyID: String, kinds: [String]? = nil, classes: [WorkloadClass]? = nil, targets: [String]? = nil,
                location: SourceLocation? = nil) {
        self.keyID = keyID
        self.kinds = kinds
        self.classes = classes
        self.targets = targets
        self.location = location
    }

    /// Whether `pattern` is a kind or `namespace.*`.
    public static func isValidPattern(_ pattern: String) -> Bool {
        if pattern.hasSuffix(".*") { return JobKind(String(pattern.dropLast(2)) + ".x").isWellFormed }
        return JobKind(pattern).isWellFormed
    }

    /// Why the key may not enqueue this job (naming the field), nil when it may.
    public func refusal(kind: JobKind, workloadClass: String, target: String) -> String? {
        if let kinds, !kinds.contains(where: { Self.matches($0, kind.rawValue) }) {
            return "key '\(keyID)' may not enqueue kind \(kind.rawValue) (allowed: \(kinds.joined(separator: ", ")))"
        }
        if let classes, !classes.contains(where: { $0.rawValue == workloadClass }) {
            return "key '\(keyID)' may not enqueue to class \(workloadClass) (allowed: \(classes.map(\.rawValue).joined(separator: ", ")))"
        }
        if let targets, !targets.contains(target) {
            return "key '\(keyID)' may not enqueue for target \(target) (allowed: \(targets.joined(separator: ", ")))"
        }
        return nil
    }

    static func matches(_ pattern: String, _ kind: String) -> Bool {
        if pattern.hasSuffix(".*") { return kind.hasPrefix(pattern.dropLast(1)) }
        return pattern == kind
    }
}

extension Catalog {
    /// Why the job cannot be enqueued with `keyID` (`producers:`), nil when it can.
    public func producerRefusal(keyID: String, kind: JobKind, workloadClass: String, target: String) -> String? {
        producers.first { $0.keyID == keyID }?.refusal(kind: kind, workloadClass: workloadClass, target: target)
    }
}
