// ShortWatch: the thresholds of a worker's unclaimed short runs (Worker+Short), watched by one
// task. A run registers its deadline when it starts and ends itself when it finishes; the task
// sleeps until the earliest deadline (at most `tick`, so a run registered meanwhile with an
// earlier one waits at most a tick longer) and fires each run whose deadline passed, or every
// run at once when the worker starts stopping. Firing hands the run to its `onThreshold`
// (the claim) in a task of its own. Before this a short run paid a timer and two task groups
// of its own (worker CPU +30 µs a job, measured); now it pays two locked dictionary updates.

import Synchronization

/// One short run's claim, as the run and the watch see it.
final class ShortRun: Sendable {
    enum Phase: Sendable, Equatable {
        /// Running, not claimed: its end records it the short way.
        case unclaimed
        /// The threshold's claim is under way: the run's end waits for it.
        case claiming
        /// Claimed at the threshold: it goes on as a long job.
        case claimed(attempt: Int)
        /// Final or held by another worker when the claim came: not ours to record.
        case lost
        /// Ended before its threshold: the watch no longer claims it.
        case ended
    }

    private struct State {
        var phase = Phase.unclaimed
        var waiter: CheckedContinuation<Phase, Never>?
    }

    private let state = Mutex(State())
    let onThreshold: @Sendable (ShortRun) async -> Void

    init(onThreshold: @escaping @Sendable (ShortRun) async -> Void) {
        self.onThreshold = onThreshold
    }

    /// The threshold passed: true when the claim is this caller's to make.
    func beginClaim() -> Bool {
        state.withLock { s in
            guard case .unclaimed = s.phase else { return false }
            s.phase = .claiming
            return true
        }
    }

    /// The threshold's claim ended: claimed, lost, or failed (`nil`: unclaimed again, to be
    /// tried later, or recorded the short way if the run ended meanwhile).
    func claimEnded(_ result: Phase?) {
        let (waiter, phase) = state.withLock { s -> (CheckedContinuation<Phase, Never>?, Phase) in
            if let result {
                s.phase = result
            } else {
                s.phase = s.waiter == nil ? .unclaimed : .ended
            }
            defer { s.waiter = nil }
            return (s.waiter, s.phase == .ended ? .unclaimed : s.phase)
        }
        waiter?.resume(returning: phase)
    }

    /// The run finished: `.unclaimed` when it is to be recorded the short way (the watch will
    /// not claim it any more), else how the threshold's claim ended (waiting for one under way).
    func end() async -> Phase {
        await withCheckedContinuation { (c: CheckedContinuation<Phase, Never>) in
            let now = state.withLock { s -> Phase? in
                switch s.phase {
                case .unclaimed:
                    s.phase = .ended
                    return .unclaimed
                case .claiming:
                    s.waiter = c
                    return nil
                case .ended:
                    return .unclaimed
                case .claimed, .lost:
                    return s.phase
                }
            }
            if let now { c.resume(returning: now) }
        }
    }
}

final class ShortWatch: Sendable {
    private struct State {
        var runs: [Int: (deadline: ContinuousClock.Instant, run: ShortRun)] = [:]
        var next = 0
        var stopping = false
    }

    /// The longest the watch sleeps between looks.
    let tick: Duration
    private let state = Mutex(State())
    private let signal: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>

    init(tick: Duration = .milliseconds(50)) {
        self.tick = tick
        (signals, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Watches `run` until `remove`; returns its key.
    func add(_ run: ShortRun, deadline: ContinuousClock.Instant) -> Int {
        let (key, wake) = state.withLock { s -> (Int, Bool) in
            s.next += 1
            let wake = s.runs.isEmpty || s.stopping
            s.runs[s.next] = (deadline, run)
            return (s.next, wake)
        }
        if wake { signal.yield() }
        return key
    }

    /// Watches a run again after a failed claim.
    func retry(_ run: ShortRun, after delay: Duration) {
        _ = add(run, deadline: .now + delay)
    }

    func remove(_ key: Int) {
        state.withLock { _ = $0.runs.removeValue(forKey: key) }
    }

    /// The worker is stopping: every run is claimed now, and every one added from now on.
    func stop() {
        state.withLock { $0.stopping = true }
        signal.yield()
    }

    /// Fires runs as their deadlines pass, until the task is cancelled.
    func run() async {
        var signals = self.signals.makeAsyncIterator()
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (due, earliest) = state.withLock { s -> ([ShortRun], ContinuousClock.Instant?) in
                var due: [ShortRun] = []
                var earliest: ContinuousClock.Instant?
                for (key, entry) in s.runs {
                    if s.stopping || entry.deadline <= now {
                        due.append(entry.run)
                        s.runs[key] = nil
                    } else if earliest.map({ entry.deadline < $0 }) ?? true {
                        earliest = entry.deadline
                    }
                }
                return (due, earliest)
            }
            for run in due {
                Task { await run.onThreshold(run) }
            }
            if let earliest {
                try? await Task.sleep(for: min(earliest - now, tick))
            } else if await signals.next() == nil {
                return
            }
        }
    }
}
