// PostgresCopyText: reading COPY's text format (the output of `COPY … TO STDOUT`).
//
// `copyOut` hands over raw data messages; this splits them into rows and fields and undoes
// the escapes, so callers (exports, tests) need not reimplement the format.

/// Helpers for COPY's text format.
public enum PostgresCopyText {
    /// Splits COPY text data (one or more newline-terminated rows) into rows of fields;
    /// `\N` becomes nil. Handles the escapes `\\ \t \n \r \b \f \v` and octal `\ooo`.
    public static func decodeRows(_ data: [UInt8]) -> [[String?]] {
        var rows: [[String?]] = []
        var fields: [String?] = []
        var field: [UInt8] = []
        var isNull = false
        var i = 0
        func endField() {
            fields.append(isNull ? nil : String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            isNull = false
        }
        while i < data.count {
            let b = data[i]
            switch b {
            case UInt8(ascii: "\t"):
                endField()
            case UInt8(ascii: "\n"):
                endField()
                rows.append(fields)
                fields.removeAll()
            case UInt8(ascii: "\\") where i + 1 < data.count:
                i += 1
                let e = data[i]
                switch e {
                case UInt8(ascii: "N") where field.isEmpty: isNull = true
                case UInt8(ascii: "t"): field.append(0x09)
                case UInt8(ascii: "n"): field.append(0x0A)
                case UInt8(ascii: "r"): field.append(0x0D)
                case UInt8(ascii: "b"): field.append(0x08)
                case UInt8(ascii: "f"): field.append(0x0C)
                case UInt8(ascii: "v"): field.append(0x0B)
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    var v = Int(e - 48)
                    var digits = 1
                    while digits < 3, i + 1 < data.count, (48...55).contains(data[i + 1]) {
                        i += 1
                        v = v * 8 + Int(data[i] - 48)
                        digits += 1
                    }
                    field.append(UInt8(truncatingIfNeeded: v))
                default: field.append(e)
                }
            default:
                field.append(b)
            }
            i += 1
        }
        if !field.isEmpty || isNull || !fields.isEmpty {
            endField()
            rows.append(fields)
        }
        return rows
    }

    /// Encodes one row as COPY text (tab-separated, newline-terminated). Throws
    /// `.copyRejected` for a NUL byte.
    public static func encodeRow(_ row: [PostgresValue], rowNumber: Int = 1) throws(PostgresError) -> [UInt8] {
        var writer = PostgresCopyTextWriter(capacity: 64)
        try writer.append(row: row, rowNumber: rowNumber)
        return writer.buffer
    }
}
