// RetryPolicy: when a failed attempt runs again, and when a job gives up.
//
// Exponential backoff with jitter between attempts (Sidekiq, Oban and River all do this);
// after `maxAttempts` the job is discarded into the dead-letter queue. Pure: callers pass
// the attempt number and get a delay.

import ClientSupport

public struct RetryPolicy: Sendable, Equatable {
    public var backoff: Backoff

    /// Defaults: 1 s, 2 s, 4 s … capped at 10 minutes, 20 % jitter.
    public init(backoff: Backoff = Backoff(base: .seconds(1), cap: .seconds(600), jitter: 0.2)) {
        self.backoff = backoff
    }

    /// The decision after attempt `attempt` (1-based) failed.
    public func decide(attempt: Int, maxAttempts: Int, retryable: Bool) -> Decision {
        guard retryable else { return .discard(reason: .notRetryable) }
        guard attempt < maxAttempts else { return .discard(reason: .attemptsExhausted) }
        return .retry(after: backoff.delay(attempt: attempt))
    }

    public enum Decision: Sendable, Equatable {
        case retry(after: Duration)
        case discard(reason: DiscardReason)
    }

    public enum DiscardReason: String, Sendable, Equatable {
        case notRetryable = "not_retryable"
        case attemptsExhausted = "attempts_exhausted"
    }
}
