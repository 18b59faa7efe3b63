// ClassCounts: `sluice status` figures for one class (Ledger.overview, the one query for them).

/// `sluice status` figures for one class.
public struct ClassCounts: Sendable, Equatable {
    public var waiting: Int
    public var running: Int
    public var completedLastHour: Int
    public var failedLastHour: Int

    public init(waiting: Int = 0, running: Int = 0, completedLastHour: Int = 0, failedLastHour: Int = 0) {
        self.waiting = waiting
        self.running = running
        self.completedLastHour = completedLastHour
        self.failedLastHour = failedLastHour
    }
}
