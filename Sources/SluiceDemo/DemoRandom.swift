// DemoRandom: the demo generator's seeded PRNG (SplitMix64), so a seed always yields the same
// data. Every generated entity (lead j, send i, …) gets its own stream derived from
// (seed, stream, index), so any row can be recomputed from its index alone, in any order, without
// keeping earlier rows: that is what lets the loader stream millions of rows. Not cryptographic.

import Foundation

struct DemoRandom {
    /// Independent streams: one per kind of entity.
    enum Stream: UInt64 {
        case workspace = 1, lead, leadID, campaign, campaignID, send, sendID, funnel, event, eventID, activity, activityID, ai
    }

    private var state: UInt64

    init(state: UInt64) { self.state = state }

    /// The stream for entity `index` of `stream` under `seed`.
    init(seed: UInt64, _ stream: Stream, _ index: Int) {
        state = Self.mix(seed &+ stream.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in 0..<bound (bound > 0).
    mutating func below(_ bound: Int) -> Int { Int((next() >> 1) % UInt64(bound)) }

    /// Uniform in range.
    mutating func int(in range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }

    mutating func chance(_ p: Double) -> Bool { unit() < p }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Exponentially distributed with the given mean.
    mutating func exponential(mean: Double) -> Double { -mean * log(1 - unit()) }

    /// Index into `cumulative` (ascending cumulative weights ending at 1).
    mutating func weighted(_ cumulative: [Double]) -> Int {
        let u = unit()
        for (i, c) in cumulative.enumerated() where u < c { return i }
        return cumulative.count - 1
    }

    /// A version-4 UUID derived from (seed, stream, index): the same entity always gets the same id.
    static func uuid(seed: UInt64, _ stream: Stream, _ index: Int) -> UUID {
        var r = DemoRandom(seed: seed, stream, index)
        let a = r.next()
        let b = r.next()
        let hi = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000
        let lo = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        func byte(_ v: UInt64, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: v >> (56 - 8 * i)) }
        return UUID(uuid: (byte(hi, 0), byte(hi, 1), byte(hi, 2), byte(hi, 3), byte(hi, 4), byte(hi, 5), byte(hi, 6), byte(hi, 7),
                           byte(lo, 0), byte(lo, 1), byte(lo, 2), byte(lo, 3), byte(lo, 4), byte(lo, 5), byte(lo, 6), byte(lo, 7)))
    }
}
