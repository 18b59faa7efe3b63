// Catalog+Target: the catalog as one target sees it. Objects and policies may name the targets
// they apply to (`targets: [main]`; none means every target); a job is validated and run
// against its target's view, so a table declared only for `main` is refused for `tenant_b`.

extension Catalog {
    /// This catalog keeping only the objects and policies that apply to `target`.
    public func scoped(to target: String) -> Catalog {
        var c = self
        c.partitionedTables = partitionedTables.filter { $0.applies(to: target) }
        c.materializedViews = materializedViews.filter { $0.applies(to: target) }
        c.vacuumPolicies = vacuumPolicies.filter { $0.applies(to: target) }
        c.analyzePolicies = analyzePolicies.filter { $0.applies(to: target) }
        c.reindexPolicies = reindexPolicies.filter { $0.applies(to: target) }
        c.cleanupPolicies = cleanupPolicies.filter { $0.applies(to: target) }
        c.queries = queries.filter { $0.applies(to: target) }
        c.health.thresholds = health.thresholds(for: target)
        return c
    }
}
