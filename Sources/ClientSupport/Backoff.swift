// Backoff: exponential delays with full jitter, for reconnects and retries.
//
// Pure arithmetic, no clock and no sleeping: callers decide how to wait. Tests pass a seeded
// random number generator to get repeatable sequences.

/// Exponential backoff with jitter: attempt n waits a random time in
/// [base * 2^(n-1) * (1 - jitter), base * 2^(n-1)], capped at `cap`.
public struct Backoff: Sendable, Equatable {
    public var base: Duration
    public var cap: Duration
    /// Fraction of the delay that is randomized (0 = fixed, 1 = full jitter).
    public var jitter: Double

    public init(base: Duration = .milliseconds(100), cap: Duration = .seconds(30), jitter: Double = 0.5) {
        precondition(base > .zero && cap >= base && (0...1).contains(jitter))
        self.base = base
        self.cap = cap
        self.jitter = jitter
    }

    /// The ceiling for attempt `n` (1-based), before jitter.
    public func ceiling(attempt n: Int) -> Duration {
        let exponent = min(max(n - 1, 0), 40)
        let factor = Double(UInt64(1) << UInt64(exponent))
        let seconds = min(base.seconds * factor, cap.seconds)
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// The delay before attempt `n` (1-based).
    public func delay<R: RandomNumberGenerator>(attempt n: Int, using rng: inout R) -> Duration {
        let ceiling = ceiling(attempt: n).seconds
        let floor = ceiling * (1 - jitter)
        let seconds = floor == ceiling ? ceiling : Double.random(in: floor...ceiling, using: &rng)
        return .nanoseconds(Int64(seconds * 1e9))
    }

    public func delay(attempt n: Int) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return delay(attempt: n, using: &rng)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// Whole milliseconds, rounded down, at least 0.
    public var milliseconds: Int {
        max(0, Int(seconds * 1000))
    }
}
