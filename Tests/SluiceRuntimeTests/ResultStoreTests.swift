// ResultStore against the real Redis: a `running` update waits up to `runningLinger` for the
// next flush, so a short job's start and end go in one pipeline; one alone is still written.

import Foundation
@testable import SluiceRuntime
import SluiceCore
import Testing

@Suite("Result store", .serialized) struct ResultStoreTests {
    @Test("a running update alone reaches Redis once its linger passes; a start and an end recorded together arrive in order, the end on the hash")
    func runningLinger() async throws {
        try await withHarness { h in
            let store = ResultStore(
                redis: h.redis,
                configuration: .init(prefix: h.redisPrefix, ttl: .seconds(600), runningLinger: .milliseconds(50)),
                logger: testLogger)
            let runner = Task { await store.run() }
            let alone = JobID.make(), short = JobID.make()
            store.record(JobStatusUpdate(id: alone, state: .running, fields: [JobStatusField.worker: "w1"]))
            try await waitUntil(seconds: 10) { try await store.read(alone)?[JobStatusField.state] == "running" }
            #expect(try await stateEvents(h, alone) == ["running"])

            store.record(JobStatusUpdate(id: short, state: .running, fields: [JobStatusField.worker: "w1"]))
            store.record(JobStatusUpdate(id: short, state: .completed, fields: [JobStatusField.result: "{}"]))
            try await waitUntil(seconds: 10) { try await store.read(short)?[JobStatusField.state] == "completed" }
            let hash = try #require(try await store.read(short))
            #expect(hash[JobStatusField.worker] == "w1" && hash[JobStatusField.result] == "{}", "\(hash)")
            #expect(try await stateEvents(h, short) == ["running", "completed"])
            store.finish()
            await runner.value
            #expect(store.bufferedJobs == 0)
        }
    }

    @Test("a linger of zero or less writes a running update at once, as any other", arguments: [0, -5])
    func noLinger(milliseconds: Int) async throws {
        try await withHarness { h in
            let store = ResultStore(
                redis: h.redis,
                configuration: .init(prefix: h.redisPrefix, ttl: .seconds(600), runningLinger: .milliseconds(milliseconds)),
                logger: testLogger)
            let runner = Task { await store.run() }
            let id = JobID.make()
            store.record(JobStatusUpdate(id: id, state: .running, fields: [JobStatusField.worker: "w1"]))
            try await waitUntil(seconds: 10) { try await store.read(id)?[JobStatusField.state] == "running" }
            store.finish()
            await runner.value
        }
    }
}
