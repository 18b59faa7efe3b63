// BatchCollector: gathers the outcomes of one `publish(batch:)` call and resumes its caller
// once every message is settled (in any order, from the IOThread or the caller's thread).

import Synchronization

/// Collects the outcomes of a batch publish and resumes the caller once all are in.
final class BatchCollector: Sendable {
    private struct State {
        var results: [Result<Void, AMQPError>?]
        var remaining: Int
        var continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>?
    }
    private let state: Mutex<State>

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count, continuation: continuation))
    }

    func set(_ index: Int, _ result: Result<Void, AMQPError>) {
        let done = state.withLock { s -> ([Result<Void, AMQPError>], CheckedContinuation<[Result<Void, AMQPError>], Never>)? in
            guard s.results[index] == nil else { return nil }
            s.results[index] = result
            s.remaining -= 1
            guard s.remaining == 0, let c = s.continuation else { return nil }
            s.continuation = nil
            return (s.results.map { $0! }, c)
        }
        if let (results, continuation) = done { continuation.resume(returning: results) }
    }
}
