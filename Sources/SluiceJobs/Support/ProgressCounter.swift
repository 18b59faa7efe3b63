// ProgressCounter: a counter a job shares with its child tasks (progress reports seen, rows
// deleted so far), readable after the job fails as well as when it succeeds.

import Synchronization

final class ProgressCounter: Sendable {
    private let count = Mutex<Int>(0)
    func increment() { add(1) }
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}
