// Batcher: coalesces concurrent requests into one batch operation (a combining queue).
//
// Callers `submit` an item and await its result. When fewer than `maxFlushers` flushes run, the
// caller becomes a flusher: in its own task it takes everything queued (its own item and any
// that arrive meanwhile), runs the batch operation once, hands every caller its result, and
// repeats while more arrived. So under load one SQL statement serves hundreds of jobs, and
// alone a request costs one round trip with no added delay or timer. No background task.

import Synchronization

public final class Batcher<Item: Sendable, Output: Sendable>: Sendable {
    public typealias Operation = @Sendable ([Item]) async -> [Result<Output, any Error>]

    private struct State {
        var queue: [(id: Int, item: Item)] = []
        var waiters: [Int: CheckedContinuation<Output, any Error>] = [:]
        var early: [Int: Result<Output, any Error>] = [:]
        var nextID = 0
        var flushers = 0
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let maxFlushers: Int
    private let operation: Operation

    /// - Parameters:
    ///   - maxBatch: the most items one operation receives.
    ///   - maxFlushers: batches that may run at once (each on its own connection).
    ///   - operation: returns one result per item, in order.
    public init(maxBatch: Int = 1000, maxFlushers: Int = 1, _ operation: @escaping Operation) {
        self.maxBatch = maxBatch
        self.maxFlushers = maxFlushers
        self.operation = operation
    }

    public func submit(_ item: Item) async throws -> Output {
        let (id, flush) = state.withLock { s -> (Int, Bool) in
            s.nextID += 1
            s.queue.append((s.nextID, item))
            guard s.flushers < maxFlushers else { return (s.nextID, false) }
            s.flushers += 1
            return (s.nextID, true)
        }
        if flush { await drain() }
        return try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { s -> Result<Output, any Error>? in
                if let r = s.early.removeValue(forKey: id) { return r }
                s.waiters[id] = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { s -> [(id: Int, item: Item)] in
                let n = min(maxBatch, s.queue.count)
                if n == 0 {
                    s.flushers -= 1
                    return []
                }
                let taken = Array(s.queue.prefix(n))
                s.queue.removeFirst(n)
                return taken
            }
            if batch.isEmpty { return }
            let results = await operation(batch.map(\.item))
            let resume = state.withLock { s -> [(CheckedContinuation<Output, any Error>, Result<Output, any Error>)] in
                var out: [(CheckedContinuation<Output, any Error>, Result<Output, any Error>)] = []
                for (i, entry) in batch.enumerated() {
                    let r: Result<Output, any Error> = i < results.count
                        ? results[i] : .failure(BatchError(reason: "the batch operation returned too few results"))
                    if let c = s.waiters.removeValue(forKey: entry.id) { out.append((c, r)) } else { s.early[entry.id] = r }
                }
                return out
            }
            for (c, r) in resume { c.resume(with: r) }
        }
    }
}

/// A batch operation broke its contract.
public struct BatchError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "batch: \(reason)" }
}
