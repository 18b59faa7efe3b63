// SluiceJobs: the database work itself (partitions, vacuum, reindex, cleanup, refresh, demo
// data, the catalog's live check), as plain async functions over a Postgres pool and the
// catalog. The runtime wraps each one as a job kind; keeping the work free of the runtime lets
// each piece be tested directly against the demo schema.

/// Reports a job's progress (a small JSON-able dictionary) to whoever runs it.
public typealias ProgressReporter = @Sendable ([String: String]) async -> Void
