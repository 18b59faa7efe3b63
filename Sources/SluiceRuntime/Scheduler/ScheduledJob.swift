// ScheduledJob: one schedule as the scheduler runs it: the validated definition (when, what,
// missed-run policy, unique key) plus where the job goes (target) and its limits.
//
// Built from the catalog (`init(catalog:)`) or directly in tests. The definition's unique-key
// template is rendered per fire; nil means the job has no unique key.

import SluiceCatalog
import SluiceCore

public struct ScheduledJob: Sendable {
    public var definition: ScheduleDefinition
    /// The database target the job runs against.
    public var target: String
    /// nil: the kind's (`JobWorker.defaults`).
    public var maxAttempts: Int?
    public var timeoutSeconds: Int?

    public var name: String { definition.name }

    public init(definition: ScheduleDefinition, target: String = CatalogTarget.defaultName, maxAttempts: Int? = nil,
                timeoutSeconds: Int? = nil) {
        self.definition = definition
        self.target = target
        self.maxAttempts = maxAttempts
        self.timeoutSeconds = timeoutSeconds
    }

    /// The catalog's schedule; the error names the field at fault.
    public init(catalog schedule: CatalogSchedule) throws(ScheduleError) {
        self.init(definition: try schedule.definition(), target: schedule.target ?? CatalogTarget.defaultName)
    }

    /// Every schedule of a catalog.
    public static func all(in catalog: Catalog) throws(ScheduleError) -> [ScheduledJob] {
        var out: [ScheduledJob] = []
        for s in catalog.schedules {
            do {
                out.append(try ScheduledJob(catalog: s))
            } catch {
                throw ScheduleError(error.code, field: error.field, reason: "schedule \(s.name): \(error.reason)")
            }
        }
        return out
    }
}
