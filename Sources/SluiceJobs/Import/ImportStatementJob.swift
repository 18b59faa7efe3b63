// ImportStatementJob (`import.statement {name, params}`): a catalog statement run in committed
// batches within its time budget; see StatementRunner.

import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct ImportStatementJob: Sendable {
    public static let kind: JobKind = "import.statement"
    public typealias Arguments = StatementRunner.Arguments
    public typealias Report = StatementRunner.Report

    public init() {}
}

extension ImportStatementJob: JobWorker {
    public static var defaultClass: WorkloadClass { .import }

    public func validate(_ a: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        guard catalog.statement(named: a.name) != nil else { throw .undeclared("name", what: "statement", a.name) }
        do {
            try StatementRunner.validate(a, against: catalog)
        } catch {
            throw .argument("params", error.message)
        }
    }

    public func run(_ a: Arguments, context: JobContext) async throws -> Report {
        try await StatementRunner(catalog: context.catalog).run(a, pool: context.pool, progress: context.progressReporter,
                                                                logger: context.logger)
    }
}
