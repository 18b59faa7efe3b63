// Pure unit tests: the delay ladder and the batcher.

import Foundation
import SluiceRuntime
import Synchronization
import Testing

@Suite("Units")
struct UnitTests {
    @Test func ladderPicksLargestTierNotAboveTheDelay() {
        #expect(DelayLadder.tier(forRemaining: .milliseconds(999)) == nil)
        #expect(DelayLadder.tier(forRemaining: .seconds(1)) == 1)
        #expect(DelayLadder.tier(forRemaining: .milliseconds(3999)) == 1)
        #expect(DelayLadder.tier(forRemaining: .seconds(30)) == 16)
        #expect(DelayLadder.tier(forRemaining: .seconds(64)) == 64)
        #expect(DelayLadder.tier(forRemaining: .seconds(10 * 86_400)) == 65536)
    }

    @Test func ladderDecisions() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(DelayLadder.decide(notBefore: nil, now: now) == .run)
        #expect(DelayLadder.decide(notBefore: now.addingTimeInterval(0.004), now: now) == .run)
        #expect(DelayLadder.decide(notBefore: now.addingTimeInterval(-5), now: now) == .run)
        #expect(DelayLadder.decide(notBefore: now.addingTimeInterval(0.5), now: now) == .wait(.milliseconds(500)))
        #expect(DelayLadder.decide(notBefore: now.addingTimeInterval(20), now: now) == .delay(tier: 16))
    }

    @Test func batcherCoalescesConcurrentSubmits() async throws {
        let sizes = Mutex<[Int]>([])
        let batcher = Batcher<Int, Int>(maxBatch: 100) { items in
            sizes.withLock { $0.append(items.count) }
            try? await Task.sleep(for: .milliseconds(20))
            return items.map { .success($0 * 2) }
        }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for i in 0..<300 { group.addTask { (i, try await batcher.submit(i)) } }
            var out: [Int: Int] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        #expect(results.count == 300)
        #expect(results.allSatisfy { $0.value == $0.key * 2 })
        let batches = sizes.withLock { $0 }
        #expect(batches.reduce(0, +) == 300)
        #expect(batches.count < 300 / 2, "batches: \(batches)")
        #expect(batches.allSatisfy { $0 <= 100 })
    }

    @Test func batcherPropagatesFailuresPerItem() async throws {
        struct Odd: Error {}
        let batcher = Batcher<Int, Int> { items in items.map { $0 % 2 == 1 ? .failure(Odd()) : .success($0) } }
        #expect(try await batcher.submit(2) == 2)
        await #expect(throws: Odd.self) { try await batcher.submit(3) }
    }
}
