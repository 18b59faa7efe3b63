// CatalogError: the catalog did not validate; carries every problem found, in file/line order.

public struct CatalogError: Error, Sendable, CustomStringConvertible {
    public var problems: [CatalogProblem]

    public init(problems: [CatalogProblem]) { self.problems = problems }

    public var description: String {
        let n = problems.count
        return "catalog has \(n) problem\(n == 1 ? "" : "s"):\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}
