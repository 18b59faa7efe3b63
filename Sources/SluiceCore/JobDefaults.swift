// JobDefaults: what a job gets where its request does not say: one attempt's time limit, how
// many attempts, and the backoff between them. Each kind declares its own (`JobWorker.defaults`,
// SluiceRuntime); a request (`sluice enqueue --max-attempts`, the API's `max_attempts`, a
// schedule) overrides them field by field. `standard` is the one spelling of 900 s and 5
// attempts (the ledger's column defaults in migration 1 say the same, and stay as shipped).

public struct JobDefaults: Sendable, Equatable {
    /// One attempt's time limit, in seconds.
    public var timeoutSeconds: Int
    /// Attempts before the job is dead-lettered.
    public var maxAttempts: Int
    /// The backoff between attempts; nil: the worker's (`WorkerConfiguration.retryPolicy`).
    public var retry: RetryPolicy?

    public init(timeoutSeconds: Int = 900, maxAttempts: Int = 5, retry: RetryPolicy? = nil) {
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = maxAttempts
        self.retry = retry
    }

    /// 900 s, 5 attempts, the worker's backoff: a kind that declares nothing.
    public static let standard = JobDefaults()
}
