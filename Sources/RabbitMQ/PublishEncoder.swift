// PublishEncoder: encodes basic.publish frames (method, content header, body) into one buffer,
// so that a batch of messages leaves in one send(2) instead of three per message.
//
// amqp_basic_publish writes each frame with its own send; under load the syscalls and small TCP
// segments cost both this process and the broker. The encoding is rabbitmq-c's own
// (amqp_encode_method, amqp_encode_properties); only the 7-byte frame headers and the end octet
// are written here. The buffer goes straight to the socket from the connection's IOThread, between
// library calls, so frames never interleave. rabbitmq-c keeps no outbound buffer of its own.

import CRabbitMQ
import Foundation

final class PublishEncoder {
    private static let basicPublish: amqp_method_number_t = 0x003C_0028
    private static let basicClass: UInt16 = 60
    private static let frameMethod: UInt8 = 1
    private static let frameHeader: UInt8 = 2
    private static let frameBody: UInt8 = 3
    private static let frameEnd: UInt8 = 0xCE

    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var count = 0
    /// Largest frame the broker accepts (negotiated frame_max), header and end octet included.
    let frameMax: Int

    init(frameMax: Int, initialCapacity: Int = 256 * 1024) {
        self.frameMax = frameMax
        self.capacity = initialCapacity
        self.storage = UnsafeMutableRawPointer.allocate(byteCount: initialCapacity, alignment: 16)
    }

    deinit {
        storage.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    func reset() {
        count = 0
    }

    private func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        bigger.copyMemory(from: storage, byteCount: count)
        storage.deallocate()
        storage = bigger
        capacity = newCapacity
    }

    private func put8(_ v: UInt8, at offset: Int) { storage.storeBytes(of: v, toByteOffset: offset, as: UInt8.self) }
    private func put16(_ v: UInt16, at offset: Int) { storage.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt16.self) }
    private func put32(_ v: UInt32, at offset: Int) { storage.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt32.self) }
    private func put64(_ v: UInt64, at offset: Int) { storage.storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt64.self) }

    /// Starts a frame at `count`; returns the offset of its payload.
    private func beginFrame(type: UInt8, channel: UInt16) -> Int {
        put8(type, at: count)
        put16(channel, at: count + 1)
        return count + 7
    }

    /// Ends the frame begun at `start` whose payload is `length` bytes.
    private func endFrame(start: Int, length: Int) {
        put32(UInt32(length), at: start + 3)
        put8(Self.frameEnd, at: start + 7 + length)
        count = start + 8 + length
    }

    /// Appends one message's frames. On error the buffer is left as it was.
    func append(
        channel: UInt16, exchange: amqp_bytes_t, routingKey: amqp_bytes_t, mandatory: Bool,
        properties: inout amqp_basic_properties_t, body: UnsafeRawBufferPointer
    ) throws(AMQPError) {
        let mark = count
        // Method frame: class/method ids, then the arguments.
        reserve(8 + 4 + 2 + 2 * 256 + 1 + 16)
        var method = amqp_basic_publish_t(ticket: 0, exchange: exchange, routing_key: routingKey, mandatory: mandatory ? 1 : 0, immediate: 0)
        var start = count
        var payload = beginFrame(type: Self.frameMethod, channel: channel)
        put32(Self.basicPublish, at: payload)
        let methodLength = amqp_encode_method(Self.basicPublish, &method, amqp_bytes_t(len: capacity - payload - 5, bytes: storage + payload + 4))
        guard methodLength >= 0 else {
            count = mark
            throw AMQPError(.invalidArgument, context: "encode basic.publish", libraryStatus: methodLength,
                            detail: String(cString: amqp_error_string2(methodLength)))
        }
        endFrame(start: start, length: 4 + Int(methodLength))

        // Content header frame: class, weight, body size, then the properties. Headers tables
        // can be large: grow and retry up to one frame.
        var room = 4096
        while true {
            reserve(room + 8 + 12)
            start = count
            payload = beginFrame(type: Self.frameHeader, channel: channel)
            put16(Self.basicClass, at: payload)
            put16(0, at: payload + 2)
            put64(UInt64(body.count), at: payload + 4)
            let propertiesLength = amqp_encode_properties(
                Self.basicClass, &properties, amqp_bytes_t(len: room, bytes: storage + payload + 12))
            if propertiesLength >= 0 {
                guard 12 + Int(propertiesLength) <= frameMax - 8 else {
                    count = mark
                    throw AMQPError(.invalidArgument, context: "encode message properties",
                                    detail: "properties larger than one frame (\(frameMax) bytes)")
                }
                endFrame(start: start, length: 12 + Int(propertiesLength))
                break
            }
            guard room < frameMax else {
                count = mark
                throw AMQPError(.invalidArgument, context: "encode message properties", libraryStatus: propertiesLength,
                                detail: String(cString: amqp_error_string2(propertiesLength)))
            }
            room *= 4
        }

        // Body frames, each at most frame_max.
        let chunk = frameMax - 8
        var offset = 0
        while offset < body.count {
            let n = min(chunk, body.count - offset)
            reserve(n + 8)
            start = count
            payload = beginFrame(type: Self.frameBody, channel: channel)
            (storage + payload).copyMemory(from: body.baseAddress! + offset, byteCount: n)
            endFrame(start: start, length: n)
            offset += n
        }
    }

    /// Writes the whole buffer to `fd` (non-blocking socket: waits for POLLOUT when full),
    /// then empties it. Returns 0, or an errno (ETIMEDOUT when the socket accepted nothing for
    /// `stallLimit`: a broker that stopped reading, e.g. during a long resource alarm, fails the
    /// publishes instead of hanging them).
    func write(to fd: Int32, stallLimit: Duration) -> Int32 {
        var written = 0
        var lastProgress = ContinuousClock.now
        while written < count {
            let n = send(fd, storage + written, count - written, Int32(MSG_NOSIGNAL))
            if n > 0 {
                written += n
                lastProgress = .now
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if ContinuousClock.now - lastProgress > stallLimit { return ETIMEDOUT }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let r = poll(&pfd, 1, 1000)
                if r < 0 && errno != EINTR { return errno }
                if r > 0 && pfd.revents & Int16(POLLERR | POLLHUP) != 0 && pfd.revents & Int16(POLLOUT) == 0 { return EPIPE }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return n == 0 ? EPIPE : errno
        }
        count = 0
        return 0
    }
}
