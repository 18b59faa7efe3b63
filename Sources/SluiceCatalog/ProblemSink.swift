// ProblemSink: where the loader's readers record problems while one load runs. Internal and
// single-threaded: each CatalogLoader call owns its own.

/// Collects problems while one load runs. Single-threaded: owned by one loader call.
package final class ProblemSink {
    package init() {}
    package var problems: [CatalogProblem] = []
    package func add(_ code: CatalogProblem.Code, _ location: SourceLocation, _ message: String) {
        problems.append(CatalogProblem(code, at: location, message))
    }
}
