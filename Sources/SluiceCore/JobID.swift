// JobID: a job's identity, a UUIDv7 made by the producer.
//
// UUIDv7 puts the creation time in milliseconds in its top 48 bits, so ids sort by enqueue
// time: ledger indexes stay append-mostly and operators can read an id's age.

import ClientSupport
import Foundation

public struct JobID: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let uuid: UUID

    public init(uuid: UUID) { self.uuid = uuid }

    /// Parses the canonical text form; nil when it is not a UUID.
    public init?(_ text: String) {
        guard let uuid = UUIDText.parse(text) else { return nil }
        self.uuid = uuid
    }

    /// A new UUIDv7 for `now`.
    public static func make(now: Date = Date()) -> JobID {
        var rng = SystemRandomNumberGenerator()
        return make(now: now, using: &rng)
    }

    public static func make<R: RandomNumberGenerator>(now: Date, using rng: inout R) -> JobID {
        let ms = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let r1 = rng.next() as UInt64
        let r2 = rng.next() as UInt64
        let b: uuid_t = (
            UInt8(truncatingIfNeeded: ms >> 40), UInt8(truncatingIfNeeded: ms >> 32),
            UInt8(truncatingIfNeeded: ms >> 24), UInt8(truncatingIfNeeded: ms >> 16),
            UInt8(truncatingIfNeeded: ms >> 8), UInt8(truncatingIfNeeded: ms),
            0x70 | UInt8(truncatingIfNeeded: r1 >> 56) & 0x0F, UInt8(truncatingIfNeeded: r1 >> 48),
            0x80 | UInt8(truncatingIfNeeded: r1 >> 40) & 0x3F, UInt8(truncatingIfNeeded: r1 >> 32),
            UInt8(truncatingIfNeeded: r1 >> 24), UInt8(truncatingIfNeeded: r1 >> 16),
            UInt8(truncatingIfNeeded: r2 >> 24), UInt8(truncatingIfNeeded: r2 >> 16),
            UInt8(truncatingIfNeeded: r2 >> 8), UInt8(truncatingIfNeeded: r2)
        )
        return JobID(uuid: UUID(uuid: b))
    }

    /// The creation time encoded in a UUIDv7 (millisecond precision).
    public var timestamp: Date {
        let u = uuid.uuid
        let ms = [u.0, u.1, u.2, u.3, u.4, u.5].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// Lower-case canonical text, as stored in the ledger and in Redis keys.
    public var description: String { UUIDText.format(uuid) }

    /// The order of the text forms (lower-case hex sorts as the bytes do).
    public static func < (a: JobID, b: JobID) -> Bool {
        withUnsafeBytes(of: a.uuid.uuid) { x in withUnsafeBytes(of: b.uuid.uuid) { y in x.lexicographicallyPrecedes(y) } }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let id = JobID(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not a UUID")
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
