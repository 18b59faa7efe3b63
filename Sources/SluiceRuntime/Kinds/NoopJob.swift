// NoopJob (`sys.noop`): returns its arguments. For tests and throughput benchmarks; touches
// no database.

import SluiceCore

public struct NoopJob: JobWorker {
    public typealias Arguments = [String: JSONValue]
    public static let kind = JobKind.noop
    public static let defaultClass = WorkloadClass.analytics

    public init() {}

    public func run(_ arguments: Arguments, context: JobContext) async throws -> JSONValue {
        .object(arguments)
    }
}
