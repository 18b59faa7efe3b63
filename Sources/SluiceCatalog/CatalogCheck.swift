// CatalogCheck: the outcome of loading a catalog: the catalog built from every declaration
// that validated, and every problem found, sorted by file and line. Only a check without
// problems may be used to run jobs (`CatalogLoader.load` enforces that).

public struct CatalogCheck: Sendable {
    public var catalog: Catalog
    public var problems: [CatalogProblem]

    public init(catalog: Catalog, problems: [CatalogProblem]) {
        self.catalog = catalog
        self.problems = problems
    }

    public var isValid: Bool { problems.isEmpty }
}
