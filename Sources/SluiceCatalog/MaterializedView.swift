// MaterializedView: a view the refresh job may refresh.
//
// `auto` refreshes CONCURRENTLY when the view is populated and has a unique index on plain
// columns without a WHERE clause, and plainly otherwise; `concurrent` insists (the job fails if
// it cannot); `plain` always takes the ACCESS EXCLUSIVE lock, for views too small to matter.

public struct MaterializedView: Sendable, Equatable {
    public enum RefreshMode: String, Sendable, CaseIterable {
        case auto, concurrent, plain
    }

    public var view: QualifiedName
    public var refresh: RefreshMode
    public var targets: [String]
    public var location: SourceLocation

    public init(view: QualifiedName, refresh: RefreshMode = .auto, targets: [String] = [], location: SourceLocation) {
        self.view = view
        self.refresh = refresh
        self.targets = targets
        self.location = location
    }

    public func applies(to target: String) -> Bool { targets.isEmpty || targets.contains(target) }
}
