// DelayLadder: arbitrary delays out of a fixed set of TTL queues, with no broker plugin.
//
// Tier queues hold messages for 1, 4, 16 … 65536 s (powers of 4) and dead-letter them back to
// the jobs exchange. A delay D goes to the largest tier ≤ D; a worker that receives a job whose
// `not_before` is still ahead re-delays it for the remainder, hopping down the ladder. Since each
// tier queue has a single TTL there is no head-of-line blocking. Pure arithmetic.

import Foundation

public enum DelayLadder {
    /// Tier lengths in seconds.
    public static let tiers: [Int] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536]

    /// A job whose `not_before` is less than this far ahead runs now.
    public static let tolerance: Duration = .milliseconds(5)

    /// The tier for a remaining delay; nil under one second (the smallest tier): a worker
    /// waits out such a remainder itself (`Decision.wait`).
    public static func tier(forRemaining remaining: Duration) -> Int? {
        guard remaining >= .seconds(1) else { return nil }
        let seconds = remaining.seconds
        return tiers.last(where: { Double($0) <= seconds })
    }

    /// What to do with a job due at `notBefore` when it is `now`.
    public enum Decision: Equatable, Sendable {
        /// Run it now.
        case run
        /// Wait this long in the worker, then run (less than a second to go).
        case wait(Duration)
        /// Publish it to this tier.
        case delay(tier: Int)
    }

    public static func decide(notBefore: Date?, now: Date) -> Decision {
        guard let notBefore else { return .run }
        let remaining = Duration.milliseconds(Int64((notBefore.timeIntervalSince(now) * 1000).rounded(.up)))
        if remaining <= tolerance { return .run }
        if let t = tier(forRemaining: remaining) { return .delay(tier: t) }
        return .wait(remaining)
    }
}
