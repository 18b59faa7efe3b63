// Catalog+Target: the catalog as one target sees it. Objects and policies may name the targets
// they apply to (`targets: [main]`; none means every target); a job is validated and run
// against its target's view, so a table declared only for `main` is refused for `tenant_b`.
// Every section says how it narrows (`CatalogSection.scope`), so none can be left out here.

extension Catalog {
    /// This catalog keeping only the objects and policies that apply to `target`.
    public func scoped(to target: String) -> Catalog {
        var c = self
        for section in CatalogSection.allCases { section.scope(&c, to: target) }
        return c
    }
}
