// AckCoalescer: the pure state machine that turns a consumer's settlements into wire frames.
//
// Deliveries arrive with increasing tags. Acks queued by worker tasks are applied in batches (one
// batch per loop turn): when they settle a run of the oldest unsettled deliveries, one
// `basic.ack multiple` replaces the run. Settling a tag twice, or a tag this channel never
// delivered, would make the broker close the channel (406 PRECONDITION_FAILED "unknown delivery
// tag"), so such requests are dropped here and counted. A nack or reject first flushes the acks
// before it, so no multiple-ack ever covers a nacked tag.

/// A settlement asked for by the owner of a delivery.
enum AckRequest: Equatable, Sendable {
    case ack(UInt64, multiple: Bool)
    case nack(UInt64, multiple: Bool, requeue: Bool)
    case reject(UInt64, requeue: Bool)
}

/// A frame to send.
enum AckFrame: Equatable {
    case ack(UInt64, multiple: Bool)
    case nack(UInt64, multiple: Bool, requeue: Bool)
    case reject(UInt64, requeue: Bool)
}

struct AckCoalescer {
    /// Unsettled delivery tags in increasing order: unsettled[head...].
    private var unsettled: [UInt64] = []
    private var head = 0
    private var members: Set<UInt64> = []
    private var pendingAcks: Set<UInt64> = []
    /// Requests dropped because their tag was unknown or already settled.
    private(set) var dropped = 0
    /// False sends every ack on its own (for measuring what coalescing buys).
    let coalesce: Bool

    init(coalesce: Bool = true) {
        self.coalesce = coalesce
    }

    var unsettledCount: Int { unsettled.count - head }

    mutating func delivered(_ tag: UInt64) {
        unsettled.append(tag)
        members.insert(tag)
    }

    /// Applies a batch of requests; returns the frames to send, in order.
    mutating func apply(_ requests: [AckRequest]) -> [AckFrame] {
        var frames: [AckFrame] = []
        for request in requests {
            switch request {
            case .ack(let tag, let multiple):
                let tags = covered(tag, multiple: multiple)
                if tags.isEmpty { dropped += 1 }
                for t in tags { pendingAcks.insert(t) }
            case .nack(let tag, let multiple, let requeue):
                flushAcks(into: &frames)
                let tags = covered(tag, multiple: multiple)
                guard let last = tags.last else {
                    dropped += 1
                    continue
                }
                frames.append(.nack(last, multiple: tags.count > 1, requeue: requeue))
                remove(tags)
            case .reject(let tag, let requeue):
                flushAcks(into: &frames)
                guard members.contains(tag) else {
                    dropped += 1
                    continue
                }
                frames.append(.reject(tag, requeue: requeue))
                remove([tag])
            }
        }
        flushAcks(into: &frames)
        return frames
    }

    /// Forgets everything (the channel is gone; the broker requeues what was unsettled).
    mutating func reset() {
        unsettled.removeAll()
        head = 0
        members.removeAll()
        pendingAcks.removeAll()
    }

    /// Unsettled tags a request covers (not already pending an ack), ascending.
    private func covered(_ tag: UInt64, multiple: Bool) -> [UInt64] {
        if !multiple {
            return members.contains(tag) && !pendingAcks.contains(tag) ? [tag] : []
        }
        var out: [UInt64] = []
        var i = head
        while i < unsettled.count, unsettled[i] <= tag || tag == 0 {
            if !pendingAcks.contains(unsettled[i]) { out.append(unsettled[i]) }
            i += 1
        }
        return out
    }

    private mutating func flushAcks(into frames: inout [AckFrame]) {
        guard !pendingAcks.isEmpty else { return }
        // The run of oldest unsettled deliveries that are all acked: one multiple ack.
        var end = head
        while coalesce, end < unsettled.count, pendingAcks.contains(unsettled[end]) { end += 1 }
        if end > head {
            frames.append(.ack(unsettled[end - 1], multiple: end - head > 1))
            for i in head..<end {
                members.remove(unsettled[i])
                pendingAcks.remove(unsettled[i])
            }
            head = end
        }
        // The rest one by one.
        if !pendingAcks.isEmpty {
            let rest = pendingAcks.sorted()
            for t in rest { frames.append(.ack(t, multiple: false)) }
            remove(rest)
            pendingAcks.removeAll()
        }
        compact()
    }

    private mutating func remove(_ tags: [UInt64]) {
        guard !tags.isEmpty else { return }
        let set = Set(tags)
        for t in tags { members.remove(t) }
        unsettled = Array(unsettled[head...].filter { !set.contains($0) })
        head = 0
    }

    private mutating func compact() {
        if head == unsettled.count {
            unsettled.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > unsettled.count {
            unsettled.removeFirst(head)
            head = 0
        }
    }
}
