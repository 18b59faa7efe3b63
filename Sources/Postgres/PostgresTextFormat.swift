// PostgresTextFormat: byte-level encoders and parsers for Postgres's text representations.
//
// Shared by parameter binding, COPY and result decoding. Works on raw UTF-8 bytes without
// Foundation formatters, so the hot paths (COPY of millions of rows, decoding large results)
// allocate little. Timestamps are ISO 8601 (`DateStyle=ISO`), bytea is hex (`bytea_output=hex`).

import Foundation

enum PostgresTextFormat {
    // MARK: Encoding

    /// Appends the text form of `value` (not COPY-escaped). `.null` appends nothing.
    static func append(_ value: PostgresValue, to out: inout [UInt8]) {
        switch value {
        case .null: break
        case .text(let s), .json(let s): appendUTF8(s, to: &out)
        case .int(let i): appendInt(i, to: &out)
        case .double(let d): appendDouble(d, to: &out)
        case .bool(let b): out.append(b ? UInt8(ascii: "t") : UInt8(ascii: "f"))
        case .timestamp(let d): appendTimestamp(d, to: &out)
        case .uuid(let u): appendUUID(u, to: &out)
        case .bytes(let b): appendByteaHex(b, to: &out)
        case .textArray(let a): appendTextArray(a, to: &out)
        case .intArray(let a): appendIntArray(a, to: &out)
        }
    }

    static func appendUTF8(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    static func appendInt(_ value: Int, to out: inout [UInt8]) {
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = 0
            while magnitude > 0 {
                digits[n] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                n += 1
            }
            if value < 0 { out.append(UInt8(ascii: "-")) }
            while n > 0 {
                n -= 1
                out.append(digits[n])
            }
        }
    }

    static func appendDouble(_ d: Double, to out: inout [UInt8]) {
        if d.isNaN {
            out.append(contentsOf: "NaN".utf8)
        } else if d.isInfinite {
            out.append(contentsOf: (d < 0 ? "-Infinity" : "Infinity").utf8)
        } else {
            out.append(contentsOf: d.description.utf8)
        }
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, with ` BC` for years before 1.
    static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
        let micros = Int((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (days, dayMicros) = floorDivide(micros, 86_400_000_000)
        let (y, m, d) = civil(fromDays: days)
        let year = y <= 0 ? 1 - y : y
        if year < 1000 { appendPadded(year, width: 4, to: &out) } else { appendInt(year, to: &out) }
        out.append(UInt8(ascii: "-"))
        appendPadded(m, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendPadded(d, width: 2, to: &out)
        out.append(UInt8(ascii: " "))
        let secondsOfDay = dayMicros / 1_000_000
        appendPadded(secondsOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondsOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secondsOfDay % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        appendPadded(dayMicros % 1_000_000, width: 6, to: &out)
        out.append(contentsOf: "+00".utf8)
        if y <= 0 { out.append(contentsOf: " BC".utf8) }
    }

    static func appendUUID(_ uuid: UUID, to out: inout [UInt8]) {
        let u = uuid.uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0F)])
        }
    }

    /// `\x0a1b…`
    static func appendByteaHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 2 + bytes.count * 2)
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "x"))
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0F)])
        }
    }

    /// `{"a","b \"q\"",NULL}`: every element quoted, so commas, braces, spaces, empty strings
    /// and the string "NULL" survive; only SQL NULL is unquoted.
    static func appendTextArray(_ array: [String?], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, element) in array.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let element else {
                out.append(contentsOf: "NULL".utf8)
                continue
            }
            out.append(UInt8(ascii: "\""))
            for b in element.utf8 {
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(b)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
    }

    static func appendIntArray(_ array: [Int?], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, element) in array.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if let element { appendInt(element, to: &out) } else { out.append(contentsOf: "NULL".utf8) }
        }
        out.append(UInt8(ascii: "}"))
    }

    static func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v / divisor % 10))
            v %= divisor
            divisor /= 10
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    // MARK: Parsing

    static func parseInt(_ text: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = text.count
        guard n > 0 else { return nil }
        var negative = false
        if text[0] == UInt8(ascii: "-") || text[0] == UInt8(ascii: "+") {
            negative = text[0] == UInt8(ascii: "-")
            i = 1
            guard n > 1 else { return nil }
        }
        var value = 0
        while i < n {
            let d = Int(text[i]) &- 48
            guard d >= 0 && d <= 9 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            guard !o1 && !o2 else { return nil }
            value = s
            i += 1
        }
        return value
    }

    static func parseDouble(_ text: UnsafeRawBufferPointer) -> Double? {
        let s = String(decoding: text, as: UTF8.self)
        switch s {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(s)
        }
    }

    /// Parses ISO output of timestamptz, timestamp (taken as UTC) and date (midnight UTC):
    /// `Y…Y-MM-DD[ HH:MM:SS[.f…]][±HH[:MM[:SS]]][ BC]`, and `infinity` / `-infinity`.
    static func parseTimestamp(_ text: UnsafeRawBufferPointer) -> Date? {
        if text.elementsEqual("infinity".utf8) { return .distantFuture }
        if text.elementsEqual("-infinity".utf8) { return .distantPast }
        var p = 0
        let n = text.count
        func digits(_ minCount: Int, _ maxCount: Int) -> Int? {
            var v = 0
            var count = 0
            while p < n, count < maxCount, text[p] >= 48, text[p] <= 57 {
                v = v * 10 + Int(text[p] - 48)
                p += 1
                count += 1
            }
            return count >= minCount ? v : nil
        }
        func expect(_ c: Character) -> Bool {
            guard p < n, text[p] == c.asciiValue! else { return false }
            p += 1
            return true
        }
        guard var year = digits(4, 9), expect("-"), let month = digits(2, 2), expect("-"),
            let day = digits(2, 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var micros = 0
        if p < n, text[p] == UInt8(ascii: " ") || text[p] == UInt8(ascii: "T") {
            p += 1
            guard let h = digits(2, 2), expect(":"), let mi = digits(2, 2), expect(":"), let s = digits(2, 2),
                h <= 24, mi < 60, s < 61
            else { return nil }
            micros = ((h * 60 + mi) * 60 + s) * 1_000_000
            if expect(".") {
                var scale = 100_000
                var count = 0
                while p < n, text[p] >= 48, text[p] <= 57 {
                    if scale > 0 { micros += Int(text[p] - 48) * scale }
                    scale /= 10
                    p += 1
                    count += 1
                }
                guard count > 0 else { return nil }
            }
            if p < n, text[p] == UInt8(ascii: "+") || text[p] == UInt8(ascii: "-") {
                let sign = text[p] == UInt8(ascii: "-") ? -1 : 1
                p += 1
                guard let oh = digits(2, 2) else { return nil }
                var offset = oh * 3600
                if expect(":") {
                    guard let om = digits(2, 2) else { return nil }
                    offset += om * 60
                    if expect(":") {
                        guard let os = digits(2, 2) else { return nil }
                        offset += os
                    }
                }
                micros -= sign * offset * 1_000_000
            }
        }
        if p < n {
            guard n - p == 3, text[p] == UInt8(ascii: " "), text[p + 1] == UInt8(ascii: "B"),
                text[p + 2] == UInt8(ascii: "C")
            else { return nil }
            year = 1 - year
            p = n
        }
        let total = days(fromCivil: year, month, day) * 86_400_000_000 + micros
        return Date(timeIntervalSince1970: Double(total) / 1_000_000)
    }

    static func parseByteaHex(_ text: UnsafeRawBufferPointer) -> [UInt8]? {
        guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x"), text.count % 2 == 0
        else { return nil }
        var out = [UInt8]()
        out.reserveCapacity((text.count - 2) / 2)
        var i = 2
        while i < text.count {
            guard let h = hexValue(text[i]), let l = hexValue(text[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// Splits a one-dimensional array literal into element texts (nil = NULL).
    /// Accepts an optional `[lo:hi]=` dimension prefix; rejects nested arrays.
    static func parseArray(_ text: UnsafeRawBufferPointer) -> [String?]? {
        var p = 0
        let n = text.count
        if p < n, text[p] == UInt8(ascii: "[") {
            while p < n, text[p] != UInt8(ascii: "=") { p += 1 }
            p += 1
        }
        guard p < n, text[p] == UInt8(ascii: "{") else { return nil }
        p += 1
        var result: [String?] = []
        func skipSpaces() { while p < n, text[p] == UInt8(ascii: " ") { p += 1 } }
        skipSpaces()
        if p < n, text[p] == UInt8(ascii: "}") { return p + 1 == n ? [] : nil }
        while true {
            skipSpaces()
            guard p < n else { return nil }
            var bytes: [UInt8] = []
            var quoted = false
            if text[p] == UInt8(ascii: "{") { return nil }  // multi-dimensional
            if text[p] == UInt8(ascii: "\"") {
                quoted = true
                p += 1
                while true {
                    guard p < n else { return nil }
                    let c = text[p]
                    if c == UInt8(ascii: "\"") { p += 1; break }
                    if c == UInt8(ascii: "\\") {
                        p += 1
                        guard p < n else { return nil }
                    }
                    bytes.append(text[p])
                    p += 1
                }
                skipSpaces()
            } else {
                while p < n, text[p] != UInt8(ascii: ","), text[p] != UInt8(ascii: "}") {
                    if text[p] == UInt8(ascii: "\\") {
                        p += 1
                        guard p < n else { return nil }
                    }
                    bytes.append(text[p])
                    p += 1
                }
                while let last = bytes.last, last == UInt8(ascii: " ") { bytes.removeLast() }
            }
            let isNull = !quoted && bytes.count == 4
                && String(decoding: bytes, as: UTF8.self).uppercased() == "NULL"
            result.append(isNull ? nil : String(decoding: bytes, as: UTF8.self))
            guard p < n else { return nil }
            if text[p] == UInt8(ascii: ",") {
                p += 1
                continue
            }
            guard text[p] == UInt8(ascii: "}"), p + 1 == n else { return nil }
            return result
        }
    }

    // MARK: Calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms)

    static func floorDivide(_ a: Int, _ b: Int) -> (Int, Int) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
