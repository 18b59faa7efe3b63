// RunningJobs: the jobs a worker process is running now, and why one must stop.
//
// The heartbeat reads the ids to extend their leases; a stop reason set here (operator
// cancel, shutdown) is noticed by the job's watcher, which cancels the job's task (and so
// its statement, through PQcancel).

import Foundation
import SluiceCore
import Synchronization

/// Why a running job is being stopped.
public enum StopReason: String, Sendable, Equatable {
    /// Its `timeout_s` passed: retryable.
    case timeout
    /// An operator cancelled it: final.
    case cancelled
    /// The worker is shutting down after its grace period: requeued, attempt unchanged.
    case shutdown
}

final class RunningJobs: Sendable {
    private struct Entry {
        var reason: StopReason?
        var lastProgressWrite: ContinuousClock.Instant?
    }
    private let state = Mutex<[JobID: Entry]>([:])

    func add(_ id: JobID) { state.withLock { $0[id] = Entry() } }
    func remove(_ id: JobID) { state.withLock { _ = $0.removeValue(forKey: id) } }
    var ids: [JobID] { state.withLock { Array($0.keys) } }
    var count: Int { state.withLock { $0.count } }

    func stop(_ id: JobID, _ reason: StopReason) {
        state.withLock { s in
            if s[id] != nil, s[id]?.reason == nil { s[id]?.reason = reason }
        }
    }

    func stopAll(_ reason: StopReason) {
        state.withLock { s in
            for id in s.keys where s[id]?.reason == nil { s[id]?.reason = reason }
        }
    }

    func reason(_ id: JobID) -> StopReason? { state.withLock { $0[id]?.reason } }

    /// True when a progress write to the ledger is due (at most one per `interval`).
    func progressDue(_ id: JobID, interval: Duration) -> Bool {
        state.withLock { s in
            let now = ContinuousClock.now
            if let last = s[id]?.lastProgressWrite, now - last < interval { return false }
            s[id]?.lastProgressWrite = now
            return true
        }
    }
}
