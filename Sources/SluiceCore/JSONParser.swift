// JSONParser: a strict RFC 8259 parser from UTF-8 bytes straight to JSONValue.
//
// Every message a worker receives is parsed once; going through Foundation's JSONDecoder and
// JSONValue's trial-and-error Codable init cost a quarter of a worker's CPU. This parser is a
// single pass with no intermediate objects. Integers without fraction or exponent that fit
// Int64 become `.int`, other numbers `.double`. Nesting is limited (512 levels) so that a
// hostile message cannot exhaust the stack. Errors give the byte offset, never the payload.

public enum JSONParser {
    public static let maxDepth = 512

    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONValueError) -> JSONValue {
        try whole(bytes) { (p: inout Cursor) throws(JSONValueError) -> JSONValue in try p.value(depth: 0) }
    }

    /// Runs `read` over one JSON document (whitespace around it allowed, nothing after it).
    static func whole<T>(_ bytes: some Collection<UInt8>, _ read: (inout Cursor) throws(JSONValueError) -> T) throws(JSONValueError) -> T {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(JSONValueError) -> T in
            var p = Cursor(bytes: buffer)
            p.skipWhitespace()
            let value = try read(&p)
            p.skipWhitespace()
            guard p.index == buffer.count else { throw p.error("unexpected data after the JSON value") }
            return value
        }
    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func error(_ reason: String) -> JSONValueError {
            JSONValueError(reason: "malformed JSON (\(reason) at byte \(index))")
        }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func expect(_ literal: StaticString, _ value: JSONValue) throws(JSONValueError) -> JSONValue {
            let n = literal.utf8CodeUnitCount
            guard index + n <= bytes.count else { throw error("truncated literal") }
            let lit = literal.utf8Start
            for i in 0..<n where bytes[index + i] != lit[i] { throw error("invalid literal") }
            index += n
            return value
        }

        mutating func value(depth: Int) throws(JSONValueError) -> JSONValue {
            guard depth < JSONParser.maxDepth else { throw error("nesting deeper than \(JSONParser.maxDepth)") }
            guard let c = peek else { throw error("unexpected end") }
            switch c {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character")
            }
        }

        mutating func object(depth: Int) throws(JSONValueError) -> JSONValue {
            var out: [String: JSONValue] = [:]
            try members(depth: depth, key: { (p: inout Cursor) throws(JSONValueError) in try p.string() }) { out[$0] = $1 }
            return .object(out)
        }

        /// Reads an object (at its `{`): each member's key with `key` (at its opening quote),
        /// its value parsed, both handed to `member` in order.
        mutating func members<Key>(depth: Int, key: (inout Cursor) throws(JSONValueError) -> Key,
                                   _ member: (Key, JSONValue) -> Void) throws(JSONValueError) {
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let k = try key(&self)
                skipWhitespace()
                guard peek == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                member(k, try value(depth: depth + 1))
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return
                default: throw error("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(JSONValueError) -> JSONValue {
            index += 1
            var out: [JSONValue] = []
            skipWhitespace()
            if peek == UInt8(ascii: "]") { index += 1; return .array(out) }
            while true {
                skipWhitespace()
                out.append(try value(depth: depth + 1))
                skipWhitespace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return .array(out)
                default: throw error("expected ',' or ']'")
                }
            }
        }

        mutating func hex4() throws(JSONValueError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        mutating func string() throws(JSONValueError) -> String {
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    let s = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    guard let s else { throw error("invalid UTF-8 in a string") }
                    return s
                }
                if c == UInt8(ascii: "\\") || c < 0x20 { break }
                index += 1
            }
            var out = Array(bytes[start..<index])
            while index < bytes.count {
                let c = bytes[index]
                switch c {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                    return s
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let e = peek else { throw error("truncated escape") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                                throw error("unpaired surrogate")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw error("unpaired surrogate")
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw error("invalid escape")
                    }
                default:
                    guard c >= 0x20 else { throw error("control character in a string") }
                    out.append(c)
                    index += 1
                }
            }
            throw error("unterminated string")
        }

        mutating func number() throws(JSONValueError) -> JSONValue {
            let start = index
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw error("invalid number") }
            if first == UInt8(ascii: "0") {
                index += 1
            } else {
                while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 }
            }
            var integral = true
            if peek == UInt8(ascii: ".") {
                integral = false
                index += 1
                guard let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { throw error("invalid number") }
                while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                integral = false
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { throw error("invalid number") }
                while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if integral, let i = Int64(text) { return .int(i) }
            guard let d = Double(text), d.isFinite else { throw error("number out of range") }
            return .double(d)
        }
    }
}
