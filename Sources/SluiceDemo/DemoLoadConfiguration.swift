// DemoLoadConfiguration: how much demo data to generate and from which seed. The same seed,
// sizes and reference time always produce the same rows (ids included).

import Foundation

public struct DemoLoadConfiguration: Sendable {
    /// Leads (contacts); at least `workspaces`.
    public var leads: Int
    /// email_events rows, exactly; email_sends follow from the funnel (~2.4 events per send).
    public var events: Int
    /// Tenants; leads split between them with a skew (a few large, many small).
    public var workspaces: Int
    public var seed: UInt64
    /// Nothing is created after this instant; sends, events and activities fall in the 12 UTC
    /// months up to it, leads in the 18 months. Whole seconds (fractions are dropped).
    public var now: Date
    /// lead_activities rows per lead (on average).
    public var activitiesPerLead: Double
    /// Truncate the demo tables first when they already hold rows (otherwise loading refuses).
    public var replace: Bool
    /// VACUUM (ANALYZE) the loaded tables and refresh (and vacuum) the four materialized views at the end.
    public var finish: Bool
    /// How often progress is reported.
    public var progressInterval: Duration

    public static let maxLeads = 50_000_000
    public static let maxEvents = 500_000_000
    public static let maxWorkspaces = 100_000

    public init(
        leads: Int, events: Int, workspaces: Int? = nil, seed: UInt64 = 1, now: Date = Date(),
        activitiesPerLead: Double = 1, replace: Bool = false, finish: Bool = true, progressInterval: Duration = .seconds(3)
    ) {
        self.leads = leads
        self.events = events
        self.workspaces = workspaces ?? Self.defaultWorkspaces(leads: leads)
        self.seed = seed
        self.now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        self.activitiesPerLead = activitiesPerLead
        self.replace = replace
        self.finish = finish
        self.progressInterval = progressInterval
    }

    /// One workspace per 20,000 leads, between 2 and 200 (never more than the leads).
    public static func defaultWorkspaces(leads: Int) -> Int { max(1, min(leads, min(200, max(2, leads / 20_000)))) }

    /// Throws for sizes out of range.
    public func validate() throws(DemoLoadError) {
        guard (1...Self.maxLeads).contains(leads) else {
            throw DemoLoadError(.invalidArgument, "leads must be between 1 and \(Self.maxLeads) (got \(leads))")
        }
        guard (0...Self.maxEvents).contains(events) else {
            throw DemoLoadError(.invalidArgument, "events must be between 0 and \(Self.maxEvents) (got \(events))")
        }
        guard (1...min(Self.maxWorkspaces, leads)).contains(workspaces) else {
            throw DemoLoadError(.invalidArgument,
                "workspaces must be between 1 and the number of leads, at most \(Self.maxWorkspaces) (got \(workspaces))")
        }
        guard activitiesPerLead >= 0, activitiesPerLead <= 100 else {
            throw DemoLoadError(.invalidArgument, "activities per lead must be between 0 and 100")
        }
    }
}
