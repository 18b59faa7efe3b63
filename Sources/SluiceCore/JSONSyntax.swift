// JSONSyntax: whether bytes are one JSON object, by the grammar `JSONParser` reads, without
// building the value: no allocation, one pass. An import checks every `json_object` cell this
// way (building a tree per cell was a tenth of the import's reading CPU).
//
// The bytes must already be valid UTF-8 (the caller checks the cell once for all its types).
// With `postgresJSONB`, the escape `\u0000` is refused too: `jsonb` cannot hold it, and one such
// cell would fail the whole COPY instead of one row.

public enum JSONSyntax {
    public static func isObject(_ bytes: UnsafeBufferPointer<UInt8>, postgresJSONB: Bool = false) -> Bool {
        var s = Scanner(bytes: bytes, noNUL: postgresJSONB)
        s.skipWhitespace()
        guard s.peek == UInt8(ascii: "{"), s.value(depth: 0) else { return false }
        s.skipWhitespace()
        return s.index == bytes.count
    }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let noNUL: Bool
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>, noNUL: Bool) {
            self.bytes = bytes
            self.noNUL = noNUL
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

        mutating func literal(_ text: StaticString) -> Bool {
            let n = text.utf8CodeUnitCount
            guard index + n <= bytes.count else { return false }
            let lit = text.utf8Start
            for i in 0..<n where bytes[index + i] != lit[i] { return false }
            index += n
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard depth < JSONParser.maxDepth, let c = peek else { return false }
            switch c {
            case UInt8(ascii: "{"): return container(depth: depth, close: UInt8(ascii: "}"), keyed: true)
            case UInt8(ascii: "["): return container(depth: depth, close: UInt8(ascii: "]"), keyed: false)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        mutating func container(depth: Int, close: UInt8, keyed: Bool) -> Bool {
            index += 1
            skipWhitespace()
            if peek == close {
                index += 1
                return true
            }
            while true {
                skipWhitespace()
                if keyed {
                    guard peek == UInt8(ascii: "\""), string() else { return false }
                    skipWhitespace()
                    guard peek == UInt8(ascii: ":") else { return false }
                    index += 1
                    skipWhitespace()
                }
                guard value(depth: depth + 1) else { return false }
                skipWhitespace()
                guard let c = peek else { return false }
                index += 1
                if c == close { return true }
                guard c == UInt8(ascii: ",") else { return false }
            }
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: return nil
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        mutating func string() -> Bool {
            index += 1
            while index < bytes.count {
                let c = bytes[index]
                index += 1
                if c == UInt8(ascii: "\"") { return true }
                if c < 0x20 { return false }
                guard c == UInt8(ascii: "\\") else { continue }
                guard let e = peek else { return false }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    guard let scalar = hex4() else { return false }
                    if scalar == 0, noNUL { return false }
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            return false
                        }
                        index += 2
                        guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return false }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        return false
                    }
                default: return false
                }
            }
            return false
        }

        /// The number grammar of RFC 8259; like `JSONParser`, a number that is not a whole
        /// number fitting Int64 must be a finite Double.
        mutating func number() -> Bool {
            let start = index
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
            if first == UInt8(ascii: "0") {
                index += 1
            } else {
                while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 }
            }
            var integral = true
            if peek == UInt8(ascii: ".") {
                integral = false
                index += 1
                guard let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { return false }
                while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                integral = false
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) else { return false }
                while let c = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) { index += 1 }
            }
            // Up to 18 digits always fit Int64; only longer or non-integral numbers are parsed.
            if integral, index - start <= 18 { return true }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if integral, Int64(text) != nil { return true }
            guard let d = Double(text) else { return false }
            return d.isFinite
        }
    }
}
