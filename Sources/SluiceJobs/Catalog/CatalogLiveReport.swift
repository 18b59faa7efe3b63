// CatalogLiveReport: what the live check found for one target: problems (the catalog cannot be
// trusted to run there) and warnings (it can, but an operator should look). Both are ordinary
// `CatalogProblem`s located at the declaration they concern, so they print like static ones.

import SluiceCatalog

public struct CatalogLiveReport: Sendable {
    /// The target checked (`main`, …).
    public var target: String
    /// Fatal for the target: a missing object, a wrong partition key, a forbidden index…
    public var problems: [CatalogProblem]
    /// Worth a look but not fatal: no DEFAULT partition, an unpopulated concurrent view…
    public var warnings: [CatalogProblem]

    public init(target: String, problems: [CatalogProblem] = [], warnings: [CatalogProblem] = []) {
        self.target = target
        self.problems = problems
        self.warnings = warnings
    }

    public var isValid: Bool { problems.isEmpty }
}
