// SleepJob (`sys.sleep {ms}`): sleeps inside Postgres with pg_sleep on the class's pool, so
// timeouts and cancels are real (the statement is cancelled with PQcancel).

import SluiceCatalog
import SluiceCore

public struct SleepJob: JobWorker {
    public struct Arguments: Codable, Sendable {
        public var ms: Int
    }

    public static let kind = JobKind.sleep
    public static let defaultClass = WorkloadClass.analytics

    public init() {}

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard (0...86_400_000).contains(arguments.ms) else {
            throw EnvelopeError(.invalidArguments, field: "args.ms", reason: "must be between 0 and 86400000")
        }
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        _ = try await context.pool.withConnection { c in
            try await c.execute("SELECT pg_sleep($1::float8 / 1000.0)", [.int(arguments.ms)])
        }
        return ["slept_ms": .int(Int64(arguments.ms))]
    }
}
