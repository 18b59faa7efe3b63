// DemoLoadProgress: a snapshot of a running demo load, reported every few seconds.

public struct DemoLoadProgress: Sendable {
    /// The table being loaded, e.g. `demo.email_events`, or the finishing step.
    public var step: String
    /// Rows of this table so far, and how many it will get.
    public var rows: Int
    public var expectedRows: Int
    /// Rows of every table so far.
    public var totalRows: Int
    public var elapsed: Duration
    /// Rows per second over the whole load so far.
    public var rowsPerSecond: Double

    public var description: String {
        if expectedRows == 0 {
            return "\(step) (\(totalRows) rows loaded, \(Int(elapsed.components.seconds)) s)"
        }
        let percent = expectedRows > 0 ? " (\(rows * 100 / expectedRows) %)" : ""
        return "\(step): \(rows)/\(expectedRows) rows\(percent), \(totalRows) in total, "
            + "\(Int(rowsPerSecond)) rows/s, \(Int(elapsed.components.seconds)) s"
    }
}
