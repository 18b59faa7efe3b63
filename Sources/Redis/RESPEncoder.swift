// RESPEncoder: writes commands as RESP2 requests into one contiguous byte buffer.
//
// A pipeline of N commands becomes a single buffer handed to hiredis with one
// `redisAppendFormattedCommand` call: no argv arrays and no per-command allocations (hiredis's
// `redisAppendCommandArgv` formats each command into a fresh sds first). The buffer is reused
// across commands by its connection and touched only on that connection's I/O thread.

struct RESPEncoder {
    private(set) var buffer: [UInt8] = []

    /// Buffers larger than this are released after use rather than kept for the next command.
    static let retainedCapacity = 1 << 20

    init() {
        buffer.reserveCapacity(4096)
    }

    mutating func reset() {
        if buffer.capacity > Self.retainedCapacity {
            buffer = []
            buffer.reserveCapacity(4096)
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
    }

    mutating func append(command args: [RedisArgument]) {
        buffer.append(UInt8(ascii: "*"))
        appendDecimal(args.count)
        appendCRLF()
        for arg in args { append(arg) }
    }

    mutating func append(_ arg: RedisArgument) {
        switch arg.storage {
        case .string(var s):
            let written: Bool? = s.utf8.withContiguousStorageIfAvailable { utf8 in
                appendBulk(UnsafeRawBufferPointer(utf8))
                return true
            }
            if written == nil {
                s.makeContiguousUTF8()
                s.utf8.withContiguousStorageIfAvailable { appendBulk(UnsafeRawBufferPointer($0)) }
            }
        case .bytes(let b):
            b.withUnsafeBytes { appendBulk($0) }
        case .integer(let i):
            var digits = DecimalDigits(i)
            buffer.append(UInt8(ascii: "$"))
            appendDecimal(digits.count)
            appendCRLF()
            digits.withBytes { buffer.append(contentsOf: $0) }
            appendCRLF()
        case .double(let d):
            let text = d.isInfinite ? (d < 0 ? "-inf" : "inf") : d.description
            text.utf8.withContiguousStorageIfAvailable { appendBulk(UnsafeRawBufferPointer($0)) }
                ?? appendBulk(Array(text.utf8))
        }
    }

    private mutating func appendBulk(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(UInt8(ascii: "$"))
        appendDecimal(bytes.count)
        appendCRLF()
        buffer.append(contentsOf: bytes)
        appendCRLF()
    }

    private mutating func appendBulk(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { appendBulk($0) }
    }

    private mutating func appendCRLF() {
        buffer.append(13)
        buffer.append(10)
    }

    private mutating func appendDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            buffer.append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits = DecimalDigits(value)
        digits.withBytes { buffer.append(contentsOf: $0) }
    }
}

/// The decimal text of an Int, built on the stack.
private struct DecimalDigits {
    // 20 digits and a sign cover Int64.min.
    private var storage: (UInt64, UInt64, UInt64) = (0, 0, 0)
    private var start = 24
    var count: Int { 24 - start }

    init(_ value: Int) {
        var magnitude = value.magnitude
        var bytes: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let first = withUnsafeMutableBytes(of: &bytes) { raw -> Int in
            var i = 24
            repeat {
                i -= 1
                raw[i] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                i -= 1
                raw[i] = UInt8(ascii: "-")
            }
            return i
        }
        storage = bytes
        start = first
    }

    mutating func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let start = self.start
        return withUnsafeBytes(of: &storage) { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[start..<24]))
        }
    }
}
