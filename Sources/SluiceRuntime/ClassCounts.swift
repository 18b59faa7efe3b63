// ClassCounts: `sluice status` figures for one class.

/// `sluice status` figures for one class.
public struct ClassCounts: Sendable, Equatable {
    public var waiting: Int
    public var running: Int
    public var completedLastHour: Int
    public var failedLastHour: Int
}
