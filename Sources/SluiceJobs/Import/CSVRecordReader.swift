// CSVRecordReader: RFC 4180 records from a byte stream, one at a time, with the line each
// starts on, never holding more than the current record and one chunk.
//
// Quoted fields may hold the delimiter, `""` and newlines; CRLF and LF both end a record; a
// UTF-8 BOM at the start is skipped; empty lines are skipped. A record with bad quoting (a quote
// inside an unquoted field, text after a closing quote) is returned as an error and reading goes
// on at the next line; an unterminated quote swallows the rest of the file and says so.
//
// `nextInPlace()` leaves the record's fields in one buffer the reader reuses (`fieldStorage`,
// ended at `fieldEnds`): no allocation per field or per record, for the chunked import's
// reading loop. `next()` copies them out as a `CSVRecord`.

public struct CSVRecord {
    /// The 1-based line the record starts on.
    public var line: Int
    /// The raw bytes of each field (quotes removed, `""` unescaped).
    public var fields: [[UInt8]]
    /// Bytes the record took in the file, separators included.
    public var byteCount: Int
}

public enum CSVRecordResult {
    case record(CSVRecord)
    case malformed(line: Int, reason: String, byteCount: Int)
}

/// A record read in place: its fields are in the reader's `fieldStorage` until the next read.
public enum CSVRecordPlace {
    case record(line: Int, byteCount: Int)
    case malformed(line: Int, reason: String, byteCount: Int)
}

public struct CSVRecordReader<Source: ImportByteSource> {
    private var source: Source
    private var buffer: [UInt8] = []
    private var position = 0
    private var exhausted = false
    private var line = 1
    private var atStart = true
    public let delimiter: UInt8
    /// Bytes consumed so far (after decompression).
    public private(set) var bytesRead = 0
    /// The last record's fields, one after the other; field i ends at `fieldEnds[i]`.
    public private(set) var fieldStorage: [UInt8] = []
    public private(set) var fieldEnds: [Int] = []

    public init(source: Source, delimiter: UInt8 = UInt8(ascii: ",")) {
        self.source = source
        self.delimiter = delimiter
    }

    /// Refills the buffer, keeping the unread part; false at the end of the source.
    private mutating func refill() async throws -> Bool {
        if exhausted { return false }
        guard let chunk = try await source.next() else {
            exhausted = true
            return false
        }
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer.append(contentsOf: chunk)
        return true
    }

    /// The next record, nil at the end of the input.
    public mutating func next() async throws -> CSVRecordResult? {
        switch try await nextInPlace() {
        case nil: return nil
        case .malformed(let line, let reason, let byteCount): return .malformed(line: line, reason: reason, byteCount: byteCount)
        case .record(let line, let byteCount):
            var fields: [[UInt8]] = []
            fields.reserveCapacity(fieldEnds.count)
            var start = 0
            for end in fieldEnds {
                fields.append(Array(fieldStorage[start..<end]))
                start = end
            }
            return .record(CSVRecord(line: line, fields: fields, byteCount: byteCount))
        }
    }

    /// The next record with its fields left in `fieldStorage`; nil at the end of the input.
    public mutating func nextInPlace() async throws -> CSVRecordPlace? {
        if atStart {
            while buffer.count - position < 3, try await refill() {}
            if buffer.count - position >= 3, buffer[position] == 0xEF, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF {
                position += 3
                bytesRead += 3
            }
            atStart = false
        }
        while true {
            switch parse() {
            case .needMore:
                if try await refill() { continue }
                // End of input: what is left is the last record (no final newline).
                if position >= buffer.count { return nil }
                switch parse(final: true) {
                case .needMore: return nil
                case .done(let result): if let result { return result } else { continue }
                }
            case .done(let result):
                if let result { return result }
            }
        }
    }

    private enum Step {
        case needMore
        /// nil: an empty line was skipped.
        case done(CSVRecordPlace?)
    }

    /// Parses one record from `position`. Moves `position` and `line` only when it completes.
    private mutating func parse(final: Bool = false) -> Step {
        let start = position
        let startLine = line
        let count = buffer.count
        let delim = delimiter
        var position = self.position
        var line = self.line
        var bytesRead = self.bytesRead
        var field = self.fieldStorage
        var ends = self.fieldEnds
        self.fieldStorage = []
        self.fieldEnds = []
        field.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        defer {
            self.position = position
            self.line = line
            self.bytesRead = bytesRead
            self.fieldStorage = field
            self.fieldEnds = ends
        }
        return buffer.withUnsafeBufferPointer { b -> Step in
            var i = start
            var lines = 0
            // An empty line.
            if i < count, b[i] == 0x0A || (b[i] == 0x0D && i + 1 < count && b[i + 1] == 0x0A) {
                let n = b[i] == 0x0A ? 1 : 2
                position = i + n
                bytesRead += n
                line += 1
                return .done(nil)
            }
            if i < count, b[i] == 0x0D, i + 1 >= count, !final { return .needMore }
            func finishMalformed(_ reason: String, at j: Int) -> Step {
                // Skip to the end of the physical line.
                var k = j
                while k < count, b[k] != 0x0A { k += 1 }
                if k >= count, !final { return .needMore }
                let end = min(count, k + 1)
                position = end
                bytesRead += end - start
                line = startLine + lines + 1
                return .done(.malformed(line: startLine, reason: reason, byteCount: end - start))
            }
            while true {
                if i < count, b[i] == 0x22 {
                    // Quoted field.
                    i += 1
                    var closed = false
                    while i < count {
                        let c = b[i]
                        if c == 0x22 {
                            if i + 1 < count, b[i + 1] == 0x22 {
                                field.append(0x22)
                                i += 2
                                continue
                            }
                            if i + 1 >= count, !final { return .needMore }
                            i += 1
                            closed = true
                            break
                        }
                        if c == 0x0A { lines += 1 }
                        field.append(c)
                        i += 1
                    }
                    if !closed {
                        if !final { return .needMore }
                        position = count
                        bytesRead += count - start
                        line = startLine + lines + 1
                        return .done(.malformed(line: startLine, reason: "a quoted field is never closed (the rest of the file was read as part of it)", byteCount: count - start))
                    }
                    if i < count, b[i] != delim, b[i] != 0x0A, b[i] != 0x0D {
                        return finishMalformed("text after a closing quote", at: i)
                    }
                } else {
                    let fieldStart = i
                    while i < count {
                        let c = b[i]
                        if c == delim || c == 0x0A || c == 0x0D { break }
                        if c == 0x22 { return finishMalformed("a quote inside an unquoted field", at: i) }
                        i += 1
                    }
                    field.append(contentsOf: UnsafeBufferPointer(rebasing: b[fieldStart..<i]))
                }
                // A separator, a line end or the end of input.
                if i >= count {
                    if !final { return .needMore }
                    ends.append(field.count)
                    position = count
                    bytesRead += count - start
                    line = startLine + lines + 1
                    return .done(.record(line: startLine, byteCount: count - start))
                }
                let c = b[i]
                if c == delim {
                    ends.append(field.count)
                    i += 1
                    continue
                }
                if c == 0x0D {
                    if i + 1 >= count, !final { return .needMore }
                    i += (i + 1 < count && b[i + 1] == 0x0A) ? 2 : 1
                } else {
                    i += 1
                }
                ends.append(field.count)
                position = i
                bytesRead += i - start
                line = startLine + lines + 1
                return .done(.record(line: startLine, byteCount: i - start))
            }
        }
    }
}
