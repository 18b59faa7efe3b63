// QueueHistory: queue depth and oldest-waiting age per class over the last day, sampled by
// `sluice api` itself (the ledger records jobs, not how long a queue was at 10:42), for the
// overview's queue charts.
//
// A bounded ring in memory: at the default 15 s interval, a day is 5,760 samples of four
// classes (a few hundred KB). Limits: each API process keeps its own history, and a restart
// starts it empty; the charts say so by showing only what this process sampled.

import Foundation
import Synchronization

final class QueueHistory: Sendable {
    struct Sample: Sendable {
        var at: Date
        /// Per class: broker depth (nil when the queue does not exist yet) and the oldest
        /// waiting job's age in seconds (nil when nothing waits).
        var classes: [String: (depth: Int?, oldestWaitingS: Double?)]
    }

    /// Samples older than this are dropped.
    let horizon: TimeInterval
    private let samples = Mutex<[Sample]>([])

    init(horizon: TimeInterval = 86_400) {
        self.horizon = horizon
    }

    func record(_ sample: Sample) {
        let cutoff = sample.at.addingTimeInterval(-horizon)
        samples.withLock { s in
            s.append(sample)
            if let first = s.firstIndex(where: { $0.at >= cutoff }), first > 0 { s.removeFirst(first) }
        }
    }

    /// Samples taken at or after `since`, oldest first.
    func since(_ since: Date) -> [Sample] {
        samples.withLock { s in s.filter { $0.at >= since } }
    }
}
