// uncancellable: cleanup that must run after a job's task was cancelled: dropping the invalid
// index a cancelled REINDEX CONCURRENTLY left, releasing an advisory lock, restoring session
// settings. A cancelled task's statements fail at once (and a running one is cancelled), so the
// cleanup runs in a detached task that the caller awaits; it is bounded by the session's
// lock_timeout and statement_timeout like any other statement.

/// Runs `body` to completion even when the calling task is cancelled.
func uncancellable<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    await Task.detached { await body() }.value
}
