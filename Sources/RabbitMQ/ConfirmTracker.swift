// ConfirmTracker: the pure state machine behind publisher confirms.
//
// Each publish on a confirm channel gets the next delivery tag (1, 2, 3... per channel). The
// broker answers with basic.ack / basic.nack, possibly `multiple` (everything up to the tag), and
// for an unroutable mandatory message with basic.return before the ack. A return carries no tag:
// RabbitMQ sends returns in publish order, so it belongs to the oldest outstanding mandatory
// message with the same exchange, routing key, message id and body that was not yet returned.
// (Two identical messages, the first routed and the second not, would be mixed up; a limit we
// accept.) No I/O here: tests feed events and check what resolves.

/// Outstanding publishes of one confirm channel, by delivery tag.
struct ConfirmTracker<Waiter> {
    /// How a publish ended.
    enum Outcome {
        case confirmed
        case returned(AMQPError)
        case nacked
    }

    private struct Entry {
        var waiter: Waiter
        /// Kept only for mandatory publishes, to match a basic.return.
        var returnKey: ReturnKey?
        var returned: AMQPError?
    }

    struct ReturnKey: Equatable {
        var exchange: String
        var routingKey: String
        var messageId: String?
        var body: [UInt8]
    }

    /// entries[head] has tag `headTag`; entries[head + i] has tag headTag + i. nil = settled.
    private var entries: [Entry?] = []
    private var head = 0
    private var headTag: UInt64 = 1
    private(set) var outstanding = 0

    init() {}

    /// The tag the next publish will get.
    var nextTag: UInt64 { headTag + UInt64(entries.count - head) }

    var isEmpty: Bool { outstanding == 0 }

    /// Records a publish; returns its delivery tag.
    @discardableResult
    mutating func published(_ waiter: Waiter, returnKey: ReturnKey?) -> UInt64 {
        let tag = nextTag
        entries.append(Entry(waiter: waiter, returnKey: returnKey, returned: nil))
        outstanding += 1
        return tag
    }

    /// A basic.return: marks the matching outstanding publish so that its ack fails it.
    /// Returns false when nothing matched.
    @discardableResult
    mutating func returned(_ key: ReturnKey, error: AMQPError) -> Bool {
        for i in head..<entries.count {
            guard let entry = entries[i], entry.returned == nil, let k = entry.returnKey else { continue }
            if k == key {
                entries[i]!.returned = error
                return true
            }
        }
        return false
    }

    /// A basic.ack or basic.nack: the publishes it settles and how.
    mutating func settle(tag: UInt64, multiple: Bool, ack: Bool) -> [(Waiter, Outcome)] {
        var out: [(Waiter, Outcome)] = []
        if tag == 0 && !multiple { return out }
        let last = tag == 0 ? nextTag - 1 : min(tag, nextTag - 1)  // tag 0 + multiple = all
        let first = multiple ? headTag : tag
        guard first >= headTag, first <= last else { return out }
        for t in first...last {
            let index = head + Int(t - headTag)
            guard let entry = entries[index] else { continue }
            entries[index] = nil
            outstanding -= 1
            if !ack {
                out.append((entry.waiter, .nacked))
            } else if let error = entry.returned {
                out.append((entry.waiter, .returned(error)))
            } else {
                out.append((entry.waiter, .confirmed))
            }
        }
        compact()
        return out
    }

    /// Everything outstanding (the channel or connection failed). Tags restart at 1, as they do
    /// on a new channel.
    mutating func removeAll() -> [Waiter] {
        let waiters = entries[head...].compactMap { $0?.waiter }
        entries.removeAll()
        head = 0
        headTag = 1
        outstanding = 0
        return waiters
    }

    private mutating func compact() {
        while head < entries.count, entries[head] == nil {
            head += 1
            headTag += 1
        }
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
