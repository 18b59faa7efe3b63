// RunningJobs: the jobs a worker process is running now, and why one must stop.
//
// The heartbeat reads the ids to extend their leases; a stop set here (operator cancel,
// shutdown, a lost short claim, or `expire` once its timeout passed) cancels the job's task at
// once, and so its statement, through PQcancel. One task per worker calls `expire`: a job pays
// no timer of its own.

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
        /// The job's task once it runs (`attach`): a stop cancels it at once.
        var task: Task<Worker.Outcome, Never>?
        /// When its `timeout_s` passes (`expire` stops it then).
        var deadline: ContinuousClock.Instant?
    }
    private let state = Mutex<[JobID: Entry]>([:])

    func add(_ id: JobID) { state.withLock { $0[id] = Entry() } }
    func remove(_ id: JobID) { state.withLock { _ = $0.removeValue(forKey: id) } }
    var ids: [JobID] { state.withLock { Array($0.keys) } }
    var count: Int { state.withLock { $0.count } }

    /// The job's task started; it is cancelled at once if the job was stopped already.
    func attach(_ id: JobID, task: Task<Worker.Outcome, Never>, deadline: ContinuousClock.Instant) {
        let stopped = state.withLock { s -> Bool in
            guard s[id] != nil else { return false }
            s[id]?.task = task
            s[id]?.deadline = deadline
            return s[id]?.reason != nil
        }
        if stopped { task.cancel() }
    }

    func stop(_ id: JobID, _ reason: StopReason) { stop(reason) { _ in CollectionOfOne(id) } }

    func stopAll(_ reason: StopReason) { stop(reason) { Array($0.keys) } }

    /// Stops (`.timeout`) every job whose deadline passed.
    func expire(now: ContinuousClock.Instant = .now) {
        stop(.timeout) { jobs in jobs.compactMap { id, e in e.deadline.map { $0 <= now } == true ? id : nil } }
    }

    /// Gives the jobs `select` picks that are not stopped yet `reason`, and cancels their tasks
    /// (outside the lock).
    private func stop<S: Sequence<JobID>>(_ reason: StopReason, _ select: ([JobID: Entry]) -> S) {
        let tasks = state.withLock { s -> [Task<Worker.Outcome, Never>] in
            var tasks: [Task<Worker.Outcome, Never>] = []
            for id in select(s) where s[id] != nil && s[id]?.reason == nil {
                s[id]?.reason = reason
                if let t = s[id]?.task { tasks.append(t) }
            }
            return tasks
        }
        for t in tasks { t.cancel() }
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
