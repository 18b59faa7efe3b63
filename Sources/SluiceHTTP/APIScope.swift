// APIScope: what a bearer token may do. `admin` implies the others; `read` and `enqueue` are
// independent, so a service that only enqueues cannot read other services' jobs.

public enum APIScope: String, Sendable, CaseIterable, Comparable {
    case read
    case enqueue
    case admin

    public static func < (a: APIScope, b: APIScope) -> Bool { a.rawValue < b.rawValue }

    /// True when a token holding `self` may do what `needed` allows.
    public func grants(_ needed: APIScope) -> Bool { self == .admin || self == needed }
}
