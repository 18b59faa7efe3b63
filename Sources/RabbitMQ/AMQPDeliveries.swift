// AMQPDeliveries: the AsyncSequence of a consumer's deliveries, and the gate that stops it.
//
// Wraps an AsyncThrowingStream fed by the IOThread. Once the consumer stops or fails, buffered
// deliveries are no longer handed out: they can no longer be acked and the broker redelivers them.

import Synchronization

/// The deliveries of an `AMQPConsumer`. Once the consumer stops, deliveries still buffered are
/// not handed out (they can no longer be acked; the broker redelivers them); once it fails, the
/// error is thrown at once.
public struct AMQPDeliveries: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    let stream: AsyncThrowingStream<AMQPDelivery, Error>
    let gate: DeliveryGate

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: stream.makeAsyncIterator(), gate: gate)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<AMQPDelivery, Error>.AsyncIterator
        let gate: DeliveryGate
        var done = false

        public mutating func next() async throws -> AMQPDelivery? {
            if done { return nil }
            let delivery = try await base.next()
            switch gate.state {
            case .open:
                if delivery == nil { done = true }
                return delivery
            case .stopped:
                done = true
                return nil
            case .failed(let error):
                done = true
                throw error
            }
        }
    }
}

/// Whether deliveries may still be handed out.
final class DeliveryGate: Sendable {
    enum State: Sendable {
        case open
        case stopped
        case failed(AMQPError)
    }
    private let value = Mutex(State.open)

    var state: State { value.withLock { $0 } }

    func close(_ error: AMQPError?) {
        value.withLock { s in
            guard case .open = s else { return }
            s = error.map { .failed($0) } ?? .stopped
        }
    }
}
