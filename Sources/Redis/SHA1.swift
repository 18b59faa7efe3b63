// SHA1: the SHA-1 digest, for the script hashes EVALSHA expects.
//
// Only used to name Lua scripts as Redis does (SHA-1 of the source, lower-case hex); it is not a
// security primitive here. FIPS 180-4, processed in 64-byte blocks.

public enum SHA1 {
    /// Lower-case hex SHA-1 of `bytes`.
    public static func hex<C: Collection<UInt8>>(_ bytes: C) -> String {
        let digest = hash(bytes)
        let table = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(40)
        for b in digest {
            out.append(table[Int(b >> 4)])
            out.append(table[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hash<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        var message = Array(bytes)
        let bitLength = UInt64(message.count) &* 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) {
            message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }

        var h0: UInt32 = 0x6745_2301
        var h1: UInt32 = 0xEFCD_AB89
        var h2: UInt32 = 0x98BA_DCFE
        var h3: UInt32 = 0x1032_5476
        var h4: UInt32 = 0xC3D2_E1F0
        var w = [UInt32](repeating: 0, count: 80)

        var offset = 0
        while offset < message.count {
            for i in 0..<16 {
                let j = offset + i * 4
                w[i] = UInt32(message[j]) << 24 | UInt32(message[j + 1]) << 16
                    | UInt32(message[j + 2]) << 8 | UInt32(message[j + 3])
            }
            for i in 16..<80 {
                w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)
            }
            var a = h0, b = h1, c = h2, d = h3, e = h4
            for i in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = rotl(a, 5) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = rotl(b, 30)
                b = a
                a = temp
            }
            h0 = h0 &+ a
            h1 = h1 &+ b
            h2 = h2 &+ c
            h3 = h3 &+ d
            h4 = h4 &+ e
            offset += 64
        }

        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for h in [h0, h1, h2, h3, h4] {
            digest.append(UInt8(truncatingIfNeeded: h >> 24))
            digest.append(UInt8(truncatingIfNeeded: h >> 16))
            digest.append(UInt8(truncatingIfNeeded: h >> 8))
            digest.append(UInt8(truncatingIfNeeded: h))
        }
        return digest
    }

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 {
        (x << n) | (x >> (32 - n))
    }
}
