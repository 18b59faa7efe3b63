// UUIDText: the canonical text form of a UUID (8-4-4-4-12 hex digits), written and read by
// hand. Job ids are formatted and parsed many times per job (ledger rows, Redis keys, message
// ids, envelopes); Foundation's `uuidString` goes through `snprintf` and `UUID(uuidString:)`
// through `sscanf`, which showed up in the pipeline's profile.

import Foundation

public enum UUIDText {
    private static let lower: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lower-case canonical text (`0193a5b2-7c00-7abc-8def-0123456789ab`).
    public static func format(_ uuid: UUID) -> String {
        withUnsafeBytes(of: uuid.uuid) { raw in
            String(unsafeUninitializedCapacity: 36) { out in
                var o = 0
                for i in 0..<16 {
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        out[o] = UInt8(ascii: "-")
                        o += 1
                    }
                    out[o] = lower[Int(raw[i] >> 4)]
                    out[o + 1] = lower[Int(raw[i] & 0x0F)]
                    o += 2
                }
                return 36
            }
        }
    }

    /// Parses the canonical form, hex digits in either case (what `UUID(uuidString:)` accepts);
    /// nil for anything else.
    public static func parse(_ text: String) -> UUID? {
        var text = text
        return text.withUTF8 { parse(utf8: $0) }
    }

    public static func parse(utf8 b: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard b.count == 36, b[8] == UInt8(ascii: "-"), b[13] == UInt8(ascii: "-"), b[18] == UInt8(ascii: "-"),
              b[23] == UInt8(ascii: "-") else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
        }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &bytes) { out -> Bool in
            var i = 0
            for k in 0..<16 {
                if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }
                guard let hi = nibble(b[i]), let lo = nibble(b[i + 1]) else { return false }
                out[k] = hi << 4 | lo
                i += 2
            }
            return true
        }
        return ok ? UUID(uuid: bytes) : nil
    }
}
