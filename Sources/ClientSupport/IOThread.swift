// IOThread: a dedicated OS thread that runs submitted work items one at a time, in order.
//
// Every call into libpq, rabbitmq-c and hiredis blocks. Swift's cooperative pool has one thread
// per core (two here), so one blocking call there stalls half of all async work. Each client
// connection therefore owns an IOThread, and its C handle is touched only from that thread.
// Long-running loops (a consumer polling the broker) run as one work item and call
// `runPending()` between polls so that other work (acks) still gets through.

import Foundation

/// Thrown by `IOThread.run` when the thread has been shut down and no longer accepts work.
public struct IOThreadShutDownError: Error, CustomStringConvertible {
    public let threadName: String
    public var description: String { "I/O thread '\(threadName)' has shut down" }
}

/// A dedicated thread with a FIFO of work items.
public final class IOThread: @unchecked Sendable {
    // @unchecked Sendable: `pending`, `accepting` and `finished` are read and written only while
    // holding `condition`; `name` is immutable.
    public let name: String
    private let condition = NSCondition()
    /// Queued work is pending[head...]; the thread takes one item at a time, so that a long
    /// item calling `runPending()` also sees the items queued behind it.
    private var pending: [@Sendable () -> Void] = []
    private var head = 0
    private var accepting = true
    private var finished = false

    /// Starts the thread at once. It runs until `shutdown()` and then drains what was queued.
    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        thread.start()
    }

    /// Queues `work` to run on this thread. Returns false (and drops `work`) after `shutdown()`.
    @discardableResult
    public func execute(_ work: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard accepting else { return false }
        pending.append(work)
        if pending.count - head == 1 { condition.signal() }
        return true
    }

    /// Runs `body` on this thread and returns its result to the awaiting task.
    ///
    /// The awaiting task is suspended, not blocked: the cooperative pool stays free while the
    /// C library call waits on the network.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = execute {
                continuation.resume(with: Result { try body() })
            }
            if !accepted { continuation.resume(throwing: IOThreadShutDownError(threadName: name)) }
        }
    }

    /// Runs the work queued so far, inline. Call only from a work item running on this thread
    /// (a long poll loop), never from elsewhere.
    public func runPending() {
        condition.lock()
        let batch = pending[head...]
        pending.removeAll(keepingCapacity: true)
        head = 0
        condition.unlock()
        for work in batch { work() }
    }

    /// True when work is waiting; a poll loop may shorten its next wait.
    public var hasPending: Bool {
        condition.lock()
        defer { condition.unlock() }
        return head < pending.count
    }

    /// Stops accepting work; the thread runs what is already queued, then exits.
    /// With `wait: true` (never from the thread itself) returns once the thread has exited.
    public func shutdown(wait: Bool = false) {
        condition.lock()
        accepting = false
        condition.broadcast()
        if wait {
            while !finished { condition.wait() }
        }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while head == pending.count && accepting { condition.wait() }
            if head == pending.count && !accepting {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            // One item at a time (not the whole batch): if this item is a long poll loop, the
            // items behind it must stay visible to its runPending().
            let work = pending[head]
            head += 1
            if head == pending.count {
                pending.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= pending.count {
                // Never drained under sustained load: drop the consumed prefix now and then.
                pending.removeFirst(head)
                head = 0
            }
            condition.unlock()
            work()
        }
    }
}
