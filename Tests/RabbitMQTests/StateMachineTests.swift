// Unit tests of the pure parts: confirm tracking, ack coalescing, table encoding.

import CRabbitMQ
import Foundation
import Testing
@testable import RabbitMQ

@Suite struct ConfirmTrackerTests {
    typealias Tracker = ConfirmTracker<Int>

    private func ids(_ settled: [(Int, Tracker.Outcome)]) -> [Int] { settled.map(\.0) }

    @Test func singleAndMultipleAcks() {
        var t = Tracker()
        for i in 1...5 { #expect(t.published(i, returnKey: nil) == UInt64(i)) }
        #expect(ids(t.settle(tag: 2, multiple: false, ack: true)) == [2])
        #expect(ids(t.settle(tag: 3, multiple: true, ack: true)) == [1, 3])
        #expect(t.outstanding == 2)
        let nacked = t.settle(tag: 5, multiple: false, ack: false)
        #expect(ids(nacked) == [5])
        if case .nacked = nacked[0].1 {} else { Issue.record("expected nacked") }
        // A duplicate or stale ack settles nothing.
        #expect(t.settle(tag: 3, multiple: false, ack: true).isEmpty)
        #expect(t.settle(tag: 2, multiple: true, ack: true).isEmpty)
        #expect(t.removeAll() == [4])
        #expect(t.isEmpty)
        #expect(t.nextTag == 1)
    }

    @Test func multipleAckWithTagZeroSettlesAll() {
        var t = Tracker()
        for i in 1...3 { t.published(i, returnKey: nil) }
        #expect(ids(t.settle(tag: 0, multiple: true, ack: true)) == [1, 2, 3])
    }

    @Test func returnMarksTheMatchingMandatoryPublish() {
        var t = Tracker()
        let a = Tracker.ReturnKey(exchange: "", routingKey: "q1", messageId: "m1", body: [1])
        let b = Tracker.ReturnKey(exchange: "", routingKey: "q2", messageId: "m2", body: [2])
        t.published(1, returnKey: a)
        t.published(2, returnKey: b)
        t.published(3, returnKey: nil)
        let error = AMQPError(.unroutable, context: "test", replyCode: 312, replyText: "NO_ROUTE")
        let matched = t.returned(b, error: error)
        #expect(matched)
        let unmatched = t.returned(Tracker.ReturnKey(exchange: "x", routingKey: "q9", messageId: nil, body: []), error: error)
        #expect(!unmatched)
        let settled = t.settle(tag: 3, multiple: true, ack: true)
        #expect(ids(settled) == [1, 2, 3])
        if case .returned(let e) = settled[1].1 { #expect(e.replyCode == 312) } else { Issue.record("expected returned") }
        if case .confirmed = settled[0].1 {} else { Issue.record("expected confirmed") }
    }

    @Test func manyOutstandingStayConsistent() {
        var t = Tracker()
        for i in 1...20_000 { t.published(i, returnKey: nil) }
        var confirmed = 0
        var tag: UInt64 = 0
        while tag < 20_000 {
            tag += 7
            confirmed += t.settle(tag: min(tag, 20_000), multiple: true, ack: true).count
        }
        #expect(confirmed == 20_000)
        #expect(t.isEmpty)
        #expect(t.nextTag == 20_001)
    }
}

@Suite struct AckCoalescerTests {
    @Test func consecutiveAcksBecomeOneMultipleAck() {
        var c = AckCoalescer()
        for t: UInt64 in 1...5 { c.delivered(t) }
        #expect(c.apply([.ack(2, multiple: false), .ack(1, multiple: false), .ack(3, multiple: false)]) == [.ack(3, multiple: true)])
        #expect(c.apply([.ack(5, multiple: false)]) == [.ack(5, multiple: false)])
        #expect(c.apply([.ack(4, multiple: false)]) == [.ack(4, multiple: false)])
        #expect(c.unsettledCount == 0)
    }

    @Test func doubleAndUnknownSettlementsAreDropped() {
        var c = AckCoalescer()
        c.delivered(1)
        #expect(c.apply([.ack(1, multiple: false), .ack(1, multiple: false)]) == [.ack(1, multiple: false)])
        #expect(c.apply([.ack(1, multiple: false), .reject(7, requeue: true), .nack(9, multiple: false, requeue: false)]) == [])
        #expect(c.dropped == 4)
    }

    @Test func nackFlushesEarlierAcksFirst() {
        var c = AckCoalescer()
        for t: UInt64 in 1...4 { c.delivered(t) }
        let frames = c.apply([.ack(1, multiple: false), .nack(2, multiple: false, requeue: true), .ack(3, multiple: false), .reject(4, requeue: false)])
        #expect(frames == [.ack(1, multiple: false), .nack(2, multiple: false, requeue: true), .ack(3, multiple: false), .reject(4, requeue: false)])
        #expect(c.unsettledCount == 0)
    }

    @Test func multipleRequestsCoverOnlyUnsettledTags() {
        var c = AckCoalescer()
        for t: UInt64 in 1...6 { c.delivered(t) }
        #expect(c.apply([.ack(2, multiple: false)]) == [.ack(2, multiple: false)])
        // nack multiple up to 4 covers 1, 3, 4 (2 is settled): one multiple nack on 4.
        #expect(c.apply([.nack(4, multiple: true, requeue: true)]) == [.nack(4, multiple: true, requeue: true)])
        #expect(c.apply([.ack(6, multiple: true)]) == [.ack(6, multiple: true)])
        #expect(c.unsettledCount == 0)
    }

    @Test func outOfOrderAcksGoOutSingly() {
        var c = AckCoalescer()
        for t: UInt64 in 1...4 { c.delivered(t) }
        #expect(c.apply([.ack(4, multiple: false), .ack(2, multiple: false)]) == [.ack(2, multiple: false), .ack(4, multiple: false)])
        #expect(c.apply([.ack(1, multiple: false), .ack(3, multiple: false)]) == [.ack(3, multiple: true)])
    }
}

@Suite struct FieldTableTests {
    @Test func everyKindRoundTripsThroughTheCEncoding() {
        let table: AMQPTable = [
            "bool": .bool(true), "i8": .int8(-8), "u8": .uint8(8), "i16": .int16(-16), "u16": .uint16(16),
            "i32": .int32(-32), "u32": .uint32(32), "i64": .int64(-64), "u64": .uint64(64),
            "f32": .float(1.5), "f64": .double(2.25), "dec": .decimal(scale: 2, value: 12345),
            "str": "héllo", "bytes": .bytes([0, 1, 255]), "ts": .timestamp(1_700_000_000),
            "nested": .table(["x-death": .array([.table(["count": .int64(2)]), .string("a")])]),
            "empty": .array([]), "void": .void, "emptyTable": .table([:]),
        ]
        let pool = AMQPPool()
        let encoded = pool.table(table)
        #expect(AMQPFieldValue.decode(table: encoded) == table)
        // Also through the wire encoding rabbitmq-c uses for headers and arguments.
        var buffer = [UInt8](repeating: 0, count: 4096)
        var offset = 0
        let status = buffer.withUnsafeMutableBytes { raw in
            var encodedCopy = encoded
            return amqp_encode_table(amqp_bytes_t(len: raw.count, bytes: raw.baseAddress), &encodedCopy, &offset)
        }
        #expect(status == 0)
        var decoded = amqp_table_t()
        var readOffset = 0
        let decodeStatus = buffer.withUnsafeMutableBytes { raw in
            amqp_decode_table(amqp_bytes_t(len: offset, bytes: raw.baseAddress), pool.pointer, &decoded, &readOffset)
        }
        #expect(decodeStatus == 0)
        #expect(AMQPFieldValue.decode(table: decoded) == table)
    }
}

import ClientSupport

@Suite struct IOThreadLoopTests {
    /// Regression: a long work item that polls with runPending() must see the items queued
    /// right behind it (IOThread used to take the whole queue as one batch).
    @Test func longItemSeesItemsQueuedBehindIt() async throws {
        let thread = IOThread(name: "io-test")
        defer { thread.shutdown() }
        let stop = Flag()
        defer { stop.set() }
        thread.execute {
            while !stop.isSet {
                thread.runPending()
                usleep(1000)
            }
        }
        let value = try await withTimeout(5, "work item behind a polling item") {
            try await thread.run { 42 }
        }
        #expect(value == 42)
    }

    final class Flag: @unchecked Sendable {
        // @unchecked Sendable: `value` is only touched under `lock`.
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }
}
