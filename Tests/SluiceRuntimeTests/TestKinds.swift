// Test-only job kinds: one that fails until a given attempt, one that always fails, one that
// fails for good.

import SluiceCore
import SluiceRuntime

/// Fails attempts before `succeed_at`, then returns the attempt.
struct FlakyJob: JobWorker {
    struct Arguments: Decodable, Sendable { var succeed_at: Int }
    static let kind: JobKind = "test.flaky"
    static let defaultClass = WorkloadClass.analytics
    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        if context.attempt < arguments.succeed_at { throw JobError("flaky failure at attempt \(context.attempt)") }
        return ["attempt": .int(Int64(context.attempt))]
    }
}

/// Always fails; retryable or not.
struct FailingJob: JobWorker {
    struct Arguments: Decodable, Sendable { var retryable: Bool }
    static let kind: JobKind = "test.fail"
    static let defaultClass = WorkloadClass.analytics
    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        throw JobError("planned failure", retryable: arguments.retryable)
    }
}

/// Publishes a dashboard output and enqueues a follow-up job of `follow_up` kind (as
/// `refresh.matview` and `maintenance.plan` do); returns the follow-up's id.
struct FollowUpJob: JobWorker {
    struct Arguments: Decodable, Sendable { var output: String; var follow_up: String }
    static let kind: JobKind = "test.follow_up"
    static let defaultClass = WorkloadClass.analytics
    func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        await context.publishOutput(arguments.output, fields: ["by": context.id.description, "value": "42"])
        let r = try await context.enqueue(JobRequest(kind: JobKind(arguments.follow_up), args: ["from": .string(context.id.description)]))
        return ["follow_up": .string(r.id.description)]
    }
}

extension JobRegistry {
    static var forTests: JobRegistry {
        var r = JobRegistry.builtIn
        r.register(FlakyJob())
        r.register(FailingJob())
        r.register(FollowUpJob())
        r.register(BriefJob())
        return r
    }
}
