// PostgresCopyTextWriter: encodes rows into COPY's text format, byte by byte.
//
// Columns are separated by a tab, rows end with a newline, NULL is `\N`, and backslash, tab,
// newline and carriage return in values are escaped. A NUL byte cannot be sent and rejects the
// row (the error names its 1-based number, never its content). Runs of bytes needing no escape
// are copied in bulk, and integers, timestamps and UUIDs are written without temporary strings,
// so the client keeps up with the server (≥ 500k narrow rows/s).

import Foundation

public struct PostgresCopyTextWriter: Sendable {
    /// The rows encoded so far (a caller may hand them to `copyIn(into:data:)` later).
    public var buffer: [UInt8]
    private var scratch: [UInt8] = []

    public init(capacity: Int) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    /// Appends one row. On error the buffer is left as it was before the call.
    public mutating func append(row: [PostgresValue], rowNumber: Int) throws(PostgresError) {
        let mark = buffer.count
        for (i, value) in row.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: "\t")) }
            let ok: Bool
            switch value {
            case .null:
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(UInt8(ascii: "N"))
                ok = true
            case .text(let s), .json(let s):
                ok = appendEscaped(s)
            case .int(let n):
                PostgresTextFormat.appendInt(n, to: &buffer)
                ok = true
            case .double(let d):
                PostgresTextFormat.appendDouble(d, to: &buffer)
                ok = true
            case .bool(let b):
                buffer.append(b ? UInt8(ascii: "t") : UInt8(ascii: "f"))
                ok = true
            case .timestamp(let d):
                PostgresTextFormat.appendTimestamp(d, to: &buffer)
                ok = true
            case .uuid(let u):
                PostgresTextFormat.appendUUID(u, to: &buffer)
                ok = true
            case .bytes(let b):
                // The bytea text `\x…` with its backslash escaped for COPY.
                buffer.append(UInt8(ascii: "\\"))
                PostgresTextFormat.appendByteaHex(b, to: &buffer)
                ok = true
            case .textArray, .intArray:
                scratch.removeAll(keepingCapacity: true)
                PostgresTextFormat.append(value, to: &scratch)
                ok = scratch.withUnsafeBufferPointer { appendEscaped($0) }
            }
            if !ok {
                buffer.removeSubrange(mark...)
                var e = PostgresError(
                    .copyRejected,
                    message: "row \(rowNumber), column \(i + 1) contains a NUL byte, which COPY cannot carry")
                e.row = rowNumber
                throw e
            }
        }
        buffer.append(UInt8(ascii: "\n"))
    }

    private mutating func appendEscaped(_ s: String) -> Bool {
        if let ok = s.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) { return ok }
        var copy = s
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable { appendEscaped($0) } ?? false
    }

    /// Appends `bytes` with COPY text escapes; false when a NUL byte is found.
    private mutating func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var runStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            // Every byte that needs attention is a control character or the backslash.
            if b >= 0x20 && b != 0x5C {
                i += 1
                continue
            }
            let escape: UInt8
            switch b {
            case 0x5C: escape = UInt8(ascii: "\\")
            case 0x09: escape = UInt8(ascii: "t")
            case 0x0A: escape = UInt8(ascii: "n")
            case 0x0D: escape = UInt8(ascii: "r")
            case 0x00: return false
            default:
                i += 1
                continue
            }
            if i > runStart { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
            buffer.append(UInt8(ascii: "\\"))
            buffer.append(escape)
            i += 1
            runStart = i
        }
        if n > runStart { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
        return true
    }
}
