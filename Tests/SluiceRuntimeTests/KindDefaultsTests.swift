// A kind's own defaults (time limit, attempts, backoff) apply wherever a request does not set
// them, and a request's own values win; one kind registered twice stops the process at start.

import Foundation
import SluiceCore
@testable import SluiceRuntime
import TestSupport
import Testing

/// Always fails (retryable), and declares two attempts, a minute and a backoff of its own.
struct BriefJob: JobWorker {
    struct Arguments: Decodable, Sendable {}
    static let kind: JobKind = "test.brief"
    static let defaultClass = WorkloadClass.analytics
    static let defaults = JobDefaults(
        timeoutSeconds: 60, maxAttempts: 2, retry: RetryPolicy(backoff: .init(base: .milliseconds(50), cap: .milliseconds(50), jitter: 0)))
    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        throw JobError("brief failure")
    }
}

@Suite("Kind defaults", .timeLimit(.minutes(2)))
struct KindDefaultsTests {
    @Test func theRegistryKeepsEachKindsDefaults() {
        let registry = JobRegistry.forTests
        #expect(registry.defaults(of: BriefJob.kind) == BriefJob.defaults)
        #expect(registry.defaults(of: .noop) == .standard)
        #expect(JobDefaults.standard.maxAttempts == 5 && JobDefaults.standard.timeoutSeconds == 900)
        #expect(registry.defaults(of: "no.such_kind") == nil)
    }

    @Test func codedErrorsSayWhetherToRetry() {
        #expect(JobError("x").isRetryable)
        #expect(!JobError("x", retryable: false).isRetryable)
        #expect(JobError("x").description == "x")
        #expect(JobError(.lockTimeout, "held").isRetryable)
        #expect(!JobError(.undeclared, "nope").isRetryable)
        #expect(JobError(.database, "gone", sqlState: "08006", transient: true).description == "database: gone (SQLSTATE 08006)")
    }

    @Test("a request without limits gets the kind's; its own limits win; the kind's backoff is used")
    func requestsFallBackToTheKind() async throws {
        try await withHarness { h in
            let worker = try h.makeWorker(h.workerConfiguration())
            #expect(worker.retryPolicy(for: BriefJob.kind) == BriefJob.defaults.retry)
            #expect(worker.retryPolicy(for: .noop) == h.workerConfiguration().retryPolicy)
            let (own, overridden, standard) = try await h.withWorker(worker) {
                let own = try await h.producer.enqueue(JobRequest(kind: BriefJob.kind))
                let overridden = try await h.producer.enqueue(JobRequest(kind: BriefJob.kind, maxAttempts: 3, timeoutSeconds: 30))
                let standard = try await h.producer.enqueue(JobRequest(kind: .noop))
                _ = try await h.waitFinal([own.id, overridden.id, standard.id])
                return (own.id, overridden.id, standard.id)
            }
            let jobs = try await h.waitFinal([own, overridden, standard], seconds: 1)
            #expect(jobs[own]?.maxAttempts == 2)
            #expect(jobs[own]?.timeoutSeconds == 60)
            #expect(jobs[own]?.state == .discarded)
            #expect(jobs[own]?.attempt == 2)
            #expect(jobs[overridden]?.maxAttempts == 3)
            #expect(jobs[overridden]?.timeoutSeconds == 30)
            #expect(jobs[overridden]?.attempt == 3)
            #expect(jobs[standard]?.maxAttempts == 5)
            #expect(jobs[standard]?.timeoutSeconds == 900)
        }
    }

    @Test func registeringAKindTwiceStopsTheProcess() async {
        await #expect(processExitsWith: .failure) {
            var registry = JobRegistry.builtIn
            registry.register(NoopJob())
        }
    }
}
