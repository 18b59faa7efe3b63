// ImportRowReader: the rows of an import file, checked against its spec while streaming:
// each is a row of values ready for COPY (its line number first) or a reject naming the line,
// the column and the reason.
//
// CSV: the header maps file columns to spec columns (case-insensitively); an unknown header or
// a missing required column refuses the file before any row is read. NDJSON: one object per
// line, keys are headers; every spec column is loaded (a missing key is empty). Only the
// first problem of a row is reported.

import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public enum ImportFormat: String, Sendable, Codable, CaseIterable {
    case csv, ndjson
}

public enum ImportItem {
    case row([PostgresValue])
    case reject(ImportReject)
}

/// A row `nextEncoded(into:)` wrote (its line number first), or a reject (nothing written).
public enum ImportEncodedItem {
    case row(line: Int)
    case reject(ImportReject)
}

public struct ImportRowReader<Source: ImportByteSource> {
    public let spec: ImportSpec
    public let format: ImportFormat
    /// The spec columns the file loads, in COPY order (after the line number).
    public private(set) var columns: [ImportColumn] = []
    /// For CSV: the spec column of each file column.
    private var mapping: [Int] = []
    private var headerNames: [String] = []
    private var csv: CSVRecordReader<Source>?
    private var lines: LineReader<Source>?
    /// Data rows seen (not counting the header or empty lines).
    public private(set) var rowsRead = 0

    public init(spec: ImportSpec, format: ImportFormat, delimiter: UInt8 = UInt8(ascii: ","), source: Source) {
        self.spec = spec
        self.format = format
        switch format {
        case .csv: csv = CSVRecordReader(source: source, delimiter: delimiter)
        case .ndjson: lines = LineReader(source: source)
        }
    }

    public var bytesRead: Int { csv?.bytesRead ?? lines?.bytesRead ?? 0 }

    /// Reads and checks the header (CSV), or takes every spec column (NDJSON). Throws
    /// `.invalidArguments` naming the columns when the header does not fit, or the file is empty.
    public mutating func start() async throws {
        guard format == .csv else {
            columns = spec.columns
            return
        }
        guard let first = try await csv!.next() else {
            throw JobError(.invalidArguments, "the file is empty: not even a header line")
        }
        guard case .record(let header) = first else {
            throw JobError(.invalidArguments, "the header line is malformed")
        }
        var unknown: [String] = []
        var seen: Set<String> = []
        var repeated: [String] = []
        for bytes in header.fields {
            let name = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            headerNames.append(name)
            guard let column = spec.column(forHeader: name) else {
                unknown.append(name)
                mapping.append(-1)
                continue
            }
            if !seen.insert(column.header.lowercased()).inserted { repeated.append(name) }
            mapping.append(columns.count)
            columns.append(column)
        }
        let missing = spec.columns.filter { $0.required && !seen.contains($0.header.lowercased()) }.map(\.header)
        var problems: [String] = []
        if !unknown.isEmpty {
            problems.append("unknown column(s) \(unknown.map { Self.shown($0) }.joined(separator: ", ")) (the spec's columns are \(spec.columns.map(\.header).joined(separator: ", ")))")
        }
        if !repeated.isEmpty { problems.append("column(s) given twice: \(repeated.map { Self.shown($0) }.joined(separator: ", "))") }
        if !missing.isEmpty { problems.append("missing required column(s) \(missing.joined(separator: ", "))") }
        if !problems.isEmpty {
            throw JobError(.invalidArguments, "the header does not match import \(spec.name): " + problems.joined(separator: "; "))
        }
    }

    static func shown(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return cut.debugDescription
    }

    /// The next row or reject; nil at the end.
    public mutating func next() async throws -> ImportItem? {
        switch format {
        case .csv:
            guard let result = try await csv!.next() else { return nil }
            rowsRead += 1
            switch result {
            case .malformed(let line, let reason, _):
                return .reject(ImportReject(line: line, column: nil, reason: reason))
            case .record(let record):
                return csvRow(record)
            }
        case .ndjson:
            guard let (line, bytes) = try await lines!.next() else { return nil }
            rowsRead += 1
            return jsonRow(line: line, bytes: bytes)
        }
    }

    /// The next row written straight into `writer` as one COPY text row (its line number
    /// first), or a reject; nil at the end. A CSV cell goes from the reader's buffer to the
    /// writer without an array, a String or a value of its own (`ImportValueCheck.encode`);
    /// NDJSON rows go through `next()`.
    public mutating func nextEncoded(into writer: inout PostgresCopyTextWriter, scratch: inout [UInt8]) async throws -> ImportEncodedItem? {
        guard format == .csv, !mapping.isEmpty else {
            guard let item = try await next() else { return nil }
            switch item {
            case .reject(let reject): return .reject(reject)
            case .row(let values):
                try writer.append(row: values, rowNumber: rowsRead)
                guard case .int(let line) = values[0] else { return .row(line: 0) }
                return .row(line: line)
            }
        }
        guard let result = try await csv!.nextInPlace() else { return nil }
        rowsRead += 1
        switch result {
        case .malformed(let line, let reason, _):
            return .reject(ImportReject(line: line, column: nil, reason: reason))
        case .record(let line, _):
            let ends = csv!.fieldEnds
            guard ends.count == mapping.count else {
                return .reject(ImportReject(line: line, column: nil, reason: "has \(ends.count) field(s); the header has \(mapping.count)"))
            }
            let mark = writer.buffer.count
            writer.appendInt(line)
            let columns = self.columns
            // `start()` refuses a file with an unknown column, so file column i is spec column i.
            let reject: ImportReject? = csv!.fieldStorage.withUnsafeBufferPointer { storage in
                var start = 0
                for (i, end) in ends.enumerated() {
                    writer.appendSeparator()
                    let cell = UnsafeBufferPointer(rebasing: storage[start..<end])
                    if let reason = ImportValueCheck.encode(cell, columns[i], scratch: &scratch, into: &writer) {
                        return ImportReject(line: line, column: columns[i].header, reason: reason.text)
                    }
                    start = end
                }
                return nil
            }
            if let reject {
                writer.truncate(to: mark)
                return .reject(reject)
            }
            writer.endRow()
            return .row(line: line)
        }
    }

    private func csvRow(_ record: CSVRecord) -> ImportItem {
        guard record.fields.count == mapping.count else {
            return .reject(ImportReject(line: record.line, column: nil,
                reason: "has \(record.fields.count) field(s); the header has \(mapping.count)"))
        }
        var values = [PostgresValue](repeating: .null, count: columns.count + 1)
        values[0] = .int(record.line)
        for (i, bytes) in record.fields.enumerated() {
            let index = mapping[i]
            switch ImportValueCheck.check(bytes, columns[index]) {
            case .success(let v): values[index + 1] = v
            case .failure(let reason):
                return .reject(ImportReject(line: record.line, column: columns[index].header, reason: reason.text))
            }
        }
        return .row(values)
    }

    private func jsonRow(line: Int, bytes: [UInt8]) -> ImportItem {
        if bytes.contains(0) { return .reject(ImportReject(line: line, column: nil, reason: "contains a NUL byte")) }
        guard ImportValueCheck.utf8String(bytes) != nil else {
            return .reject(ImportReject(line: line, column: nil, reason: "is not valid UTF-8"))
        }
        guard let value = try? JSONValue.parse(bytes) else {
            return .reject(ImportReject(line: line, column: nil, reason: "is not valid JSON"))
        }
        guard case .object(let object) = value else {
            return .reject(ImportReject(line: line, column: nil, reason: "is not a JSON object"))
        }
        for key in object.keys where spec.column(forHeader: key) == nil {
            return .reject(ImportReject(line: line, column: key, reason: "is not a column of import \(spec.name)"))
        }
        var byHeader: [String: JSONValue] = [:]
        for (k, v) in object { byHeader[k.trimmingCharacters(in: .whitespaces).lowercased()] = v }
        var values = [PostgresValue](repeating: .null, count: columns.count + 1)
        values[0] = .int(line)
        for (index, column) in columns.enumerated() {
            let field = byHeader[column.header.lowercased()] ?? .null
            var text: String
            switch field {
            case .null: text = ""
            case .string(let s): text = s
            case .int(let i): text = String(i)
            case .double(let d): text = String(d)
            case .bool(let b): text = b ? "true" : "false"
            case .object:
                guard column.type == .json_object else {
                    return .reject(ImportReject(line: line, column: column.header, reason: "is an object where \(column.type.rawValue) belongs"))
                }
                text = field.jsonString
            case .array(let items):
                guard column.type == .text_array else {
                    return .reject(ImportReject(line: line, column: column.header, reason: "is a list where \(column.type.rawValue) belongs"))
                }
                var strings: [String] = []
                for item in items {
                    guard case .string(let s) = item else {
                        return .reject(ImportReject(line: line, column: column.header, reason: "holds a non-string element"))
                    }
                    if s.utf8.contains(0) { return .reject(ImportReject(line: line, column: column.header, reason: "contains a NUL byte")) }
                    strings.append(s)
                }
                values[index + 1] = .textArray(strings)
                continue
            }
            if column.type == .text_array, case .string = field {
                // A string in NDJSON is read as an array literal, like in CSV.
            }
            if text.utf8.contains(0) { return .reject(ImportReject(line: line, column: column.header, reason: "contains a NUL byte")) }
            switch ImportValueCheck.check(text: &text, column) {
            case .success(let v): values[index + 1] = v
            case .failure(let reason): return .reject(ImportReject(line: line, column: column.header, reason: reason.text))
            }
        }
        return .row(values)
    }
}

/// Lines of a byte stream (LF or CRLF), skipping empty ones, with their 1-based numbers.
struct LineReader<Source: ImportByteSource> {
    private var source: Source
    private var buffer: [UInt8] = []
    private var position = 0
    private var exhausted = false
    private var line = 0
    private(set) var bytesRead = 0

    init(source: Source) { self.source = source }

    mutating func next() async throws -> (Int, [UInt8])? {
        while true {
            if let nl = buffer[position...].firstIndex(of: 0x0A) {
                var end = nl
                if end > position, buffer[end - 1] == 0x0D { end -= 1 }
                let bytes = Array(buffer[position..<end])
                bytesRead += nl + 1 - position
                position = nl + 1
                line += 1
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                return (line, bytes)
            }
            if !exhausted, let chunk = try await source.next() {
                buffer.removeFirst(position)
                position = 0
                buffer.append(contentsOf: chunk)
                continue
            }
            exhausted = true
            guard position < buffer.count else { return nil }
            let bytes = Array(buffer[position...])
            bytesRead += buffer.count - position
            position = buffer.count
            line += 1
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
            return (line, bytes)
        }
    }
}
