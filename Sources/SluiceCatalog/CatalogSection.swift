// CatalogSection: the catalog's top-level sections, one case each, in the order a file's sections
// are read. Every layer that handles sections switches over this type exhaustively, so a new
// section cannot be parsed, scoped, live-checked or documented by some and forgotten by others:
//
//   - the key a catalog file spells (`key`), and whether entries take `targets:` (`takesTargets`);
//   - how the catalog narrows to one target (`scope`, used by `Catalog.scoped(to:)`);
//   - how the loader reads it (SluiceCatalogLoader, `CatalogBuilder.read(_:_:_:)`);
//   - what `sluice catalog check` verifies against a live database (SluiceJobs,
//     `CatalogLiveCheck.check(_:_:_:)`);
//   - its row in jobs/README.md's section table (a test compares both ways).
//
// Adding a section: a case here (the compiler then asks for it in `scope`, the builder and the
// live check), its model type and `Catalog` field, and its row in jobs/README.md.

public enum CatalogSection: String, CaseIterable, Sendable {
    case version
    case targets
    case classes
    case partitionedTables = "partitioned_tables"
    case materializedViews = "materialized_views"
    case vacuum
    case analyze
    case reindex
    case cleanup
    case schedules
    case imports
    case statements
    case queries
    case segments
    case health
    case retention
    case producers

    /// The key a catalog file spells.
    public var key: String { rawValue }

    /// Whether the section's entries may name the targets they apply to (`targets: [main]`;
    /// `health:` names them as per-target overrides). A job for another target does not see them.
    public var takesTargets: Bool {
        switch self {
        case .version, .targets, .classes, .schedules, .segments, .retention, .producers: false
        case .partitionedTables, .materializedViews, .vacuum, .analyze, .reindex, .cleanup, .queries, .health,
            .imports, .statements: true
        }
    }

    /// Narrows `catalog`'s part of this section to what `target` sees.
    public func scope(_ catalog: inout Catalog, to target: String) {
        switch self {
        case .version, .targets, .classes, .segments, .retention, .producers:
            // one for the whole deployment (retention: the home database's ledger; producers:
            // its `targets:` are what a key may enqueue for, not where the entry applies)
            break
        case .schedules:
            break  // a schedule names the one target it enqueues for; the scheduler runs them all
        case .partitionedTables: catalog.partitionedTables.removeAll { !$0.applies(to: target) }
        case .materializedViews: catalog.materializedViews.removeAll { !$0.applies(to: target) }
        case .vacuum: catalog.vacuumPolicies.removeAll { !$0.applies(to: target) }
        case .analyze: catalog.analyzePolicies.removeAll { !$0.applies(to: target) }
        case .reindex: catalog.reindexPolicies.removeAll { !$0.applies(to: target) }
        case .cleanup: catalog.cleanupPolicies.removeAll { !$0.applies(to: target) }
        case .queries: catalog.queries.removeAll { !$0.applies(to: target) }
        case .imports: catalog.imports.removeAll { !$0.applies(to: target) }
        case .statements: catalog.statements.removeAll { !$0.applies(to: target) }
        case .health: catalog.health.thresholds = catalog.health.thresholds(for: target)
        }
    }
}
