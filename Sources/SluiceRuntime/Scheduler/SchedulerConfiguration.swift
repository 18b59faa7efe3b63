// SchedulerConfiguration: timings of the scheduler's tick, lease and recovery.
//
// The lease is renewed every third of `leaseTTL`; a leader whose last successful renewal is
// older than half of it stops firing, so it has stopped well before another replica can take
// the expired lease. A takeover after a crash therefore takes at most `leaseTTL` plus one tick.

import Foundation
import SluiceCore

public struct SchedulerConfiguration: Sendable {
    /// This replica's name in the lease row (default host:pid:random).
    public var name: String
    /// How often due fires are computed. Default 1 s.
    public var tick: Duration
    /// The leadership lease's length. Default 15 s.
    public var leaseTTL: Duration
    /// The lease row's name: replicas with the same name compete. Default `scheduler`.
    public var leaseName: String
    /// How late a fire may be and still count as on time (`MissedRunPolicy`). Default 60 s.
    public var grace: Duration
    /// A fire recorded but not confirmed as enqueued this long ago is enqueued again (its
    /// leader died, or the broker refused it). Default 10 s.
    public var recoveryAge: Duration
    /// Enqueue attempts per fire before it is left with its error. Default 8.
    public var maxEnqueueAttempts: Int

    public init(
        name: String = SchedulerConfiguration.defaultName(), tick: Duration = .seconds(1), leaseTTL: Duration = .seconds(15),
        leaseName: String = "scheduler", grace: Duration = MissedRunPolicy.defaultGrace, recoveryAge: Duration = .seconds(10),
        maxEnqueueAttempts: Int = 8
    ) {
        self.name = name
        self.tick = tick
        self.leaseTTL = leaseTTL
        self.leaseName = leaseName
        self.grace = grace
        self.recoveryAge = recoveryAge
        self.maxEnqueueAttempts = maxEnqueueAttempts
    }

    /// `host:pid:random`, unique per process.
    public static func defaultName() -> String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }
}
