// Kinds: the registry of every job kind Sluice runs. Adding a kind is one file (the type,
// conforming to `JobWorker`) and one line here; nothing else names it — not the CLI, not the
// worker, not the scheduler.

import SluiceCatalog
import SluiceRuntime

extension JobRegistry {
    /// Every kind: the built-in `sys.*` kinds and the database kinds, validating against `catalog`.
    public static func standard(catalog: Catalog) -> JobRegistry {
        var r = JobRegistry(catalog: catalog).withBuiltIns()
        r.register(PartitionsJob())
        r.register(VacuumJob())
        r.register(AnalyzeJob())
        r.register(ReindexJob())
        r.register(CleanupJob())
        r.register(PlanJob())
        r.register(MatviewRefreshJob())
        r.register(AnalyticsQueryJob())
        r.register(AnalyticsSegmentJob())
        r.register(AnalyticsHealthJob())
        return r
    }
}
