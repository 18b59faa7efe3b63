import ClientSupport
import Foundation
import Testing

/// UUIDText replaces Foundation's uuidString / UUID(uuidString:) on the hot path: same text,
/// same accepted inputs.
@Suite struct UUIDTextTests {
    @Test func formatsLikeFoundationLowercased() {
        for _ in 0..<1000 {
            let u = UUID()
            #expect(UUIDText.format(u) == u.uuidString.lowercased())
        }
        #expect(UUIDText.format(UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))) == "00000000-0000-0000-0000-000000000000")
    }

    @Test func parsesWhatFoundationParses() {
        for _ in 0..<1000 {
            let u = UUID()
            #expect(UUIDText.parse(u.uuidString) == u)
            #expect(UUIDText.parse(u.uuidString.lowercased()) == u)
        }
        let bad = ["", "not a uuid", "0193a5b2-7c00-7abc-8def-0123456789a", "0193a5b2-7c00-7abc-8def-0123456789abc",
                   "0193a5b27c00-7abc-8def-0123456789ab0", "0193a5b2-7c00-7abc-8def-0123456789ag",
                   "{0193a5b2-7c00-7abc-8def-0123456789ab}", "0193a5b2_7c00_7abc_8def_0123456789ab"]
        for text in bad {
            #expect(UUIDText.parse(text) == nil, "\(text)")
            #expect(UUID(uuidString: text) == nil, "Foundation accepts \(text)")
        }
    }
}
