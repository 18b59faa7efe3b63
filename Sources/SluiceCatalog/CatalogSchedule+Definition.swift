// CatalogSchedule+Definition: the catalog's schedule as the scheduler's validated
// `ScheduleDefinition` (SluiceCore), so both agree on what a YAML entry means.
//
// `cron` is read in `time_zone`; `every` is anchored at the Unix epoch (an hourly interval fires
// on the hour, UTC). A schedule without `unique_key` gets `schedule:{name}`.

import SluiceCore

extension CatalogSchedule {
    /// The unique-key template used when the catalog names none.
    public static let defaultUniqueKey = "schedule:{name}"

    /// The validated definition; the error names the field at fault.
    public func definition() throws(ScheduleError) -> ScheduleDefinition {
        let spec: ScheduleSpec
        switch trigger {
        case .cron(let text): spec = try ScheduleSpec.parse(cron: text, timeZone: timeZone)
        case .every(let interval): spec = .every(interval)
        }
        guard let arguments = args.objectValue else {
            throw ScheduleError(.invalidDefinition, field: "args", reason: "must be a mapping")
        }
        return try ScheduleDefinition(
            name: name, spec: spec, kind: kind, args: arguments, uniqueKey: uniqueKey ?? Self.defaultUniqueKey,
            missedRuns: missed, enabled: enabled)
    }
}
