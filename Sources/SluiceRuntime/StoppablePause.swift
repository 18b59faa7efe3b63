// StoppablePause: a sleep that a stop request cuts short. The leader-elected loops (the
// scheduler, the pruner) wait between ticks with it, so SIGTERM ends them within 100 ms
// whatever their interval, without cancelling the task mid-statement.

/// Sleeps for `duration`, or less once `stopped()` answers true (checked every 100 ms).
func pause(_ duration: Duration, unless stopped: () -> Bool) async {
    let end = ContinuousClock.now + duration
    while !stopped(), ContinuousClock.now < end {
        try? await Task.sleep(for: min(.milliseconds(100), end - ContinuousClock.now))
    }
}
