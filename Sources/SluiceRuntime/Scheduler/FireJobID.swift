// FireJobID: the job id of a fire's n-th enqueue attempt, derived from the fire's key, so every
// replica computes the same id and a re-enqueue after a crash finds the job already made.
//
// A name-based UUID (version 8, RFC 9562 "custom") from the 128-bit FNV-1a hash of
// `<fire key>#<attempt>`. Not a security primitive: it only has to be stable and spread well.

import Foundation
import SluiceCore

public enum FireJobID {
    /// The id for attempt `attempt` (0-based) of the fire named `key` (`FireKey` text, or
    /// `<name>@manual@<time>` for a manual fire).
    public static func make(key: String, attempt: Int) -> JobID {
        var hash: UInt128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d
        let prime: UInt128 = 0x0000_0000_0100_0000_0000_0000_0000_013B
        for byte in "\(key)#\(attempt)".utf8 {
            hash ^= UInt128(byte)
            hash = hash &* prime
        }
        var b = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { b[i] = UInt8(truncatingIfNeeded: hash >> (8 * (15 - i))) }
        b[6] = 0x80 | (b[6] & 0x0F)  // version 8
        b[8] = 0x80 | (b[8] & 0x3F)  // variant 10
        let u: uuid_t = (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        return JobID(uuid: UUID(uuid: u))
    }
}
