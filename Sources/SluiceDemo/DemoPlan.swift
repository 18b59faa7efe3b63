// DemoPlan: the shape of one demo data set, decided before any row is written: the time
// window, the workspaces and how the leads split between them, and the campaigns with the
// range of send indexes each owns. Only these small tables live in memory (one entry per
// workspace and per campaign); leads, sends, events and activities are computed from their
// index when streamed. Everything derives from the configuration's seed and reference time.

import Foundation

struct DemoPlan {
    struct Workspace {
        var id: UUID
        var name: String
        var slug: String
        var plan: String
        var createdAt: Int
        /// Leads [leadStart, leadStart + leadCount) belong to this workspace.
        var leadStart: Int
        var leadCount: Int
    }

    struct Campaign {
        var index: Int
        var id: UUID
        var workspace: Int
        var name: String
        var status: String
        var subject: String
        var fromEmail: String
        var recipients: Int
        /// Sends [sendOffset, sendOffset + recipients) are this campaign's.
        var sendOffset: Int = 0
        /// When sending began (or, for a scheduled campaign, when its sends were queued).
        var start: Int
        /// Seconds from the first send to the last.
        var duration: Int
        var scheduledAt: Int?
        var startedAt: Int?
        var completedAt: Int?
        var createdAt: Int
        /// Recipient k is lead `leadStart + (stride * k + shift) % leadCount` of the workspace:
        /// `stride` is coprime with `leadCount`, so no lead gets the same campaign twice.
        var stride: Int
        var shift: Int
    }

    /// One send's fate, drawn from its own stream: which events it produces.
    struct Funnel {
        var failed = false
        var bounced = false
        var hardBounce = false
        var delivered = false
        var opens = 0
        var clicks = 0
        var replied = false
        var complained = false
        var unsubscribed = false

        var eventCount: Int {
            if failed { return 0 }
            return 1 + (bounced ? 1 : 0) + (delivered ? 1 : 0) + opens + clicks
                + (replied ? 1 : 0) + (complained ? 1 : 0) + (unsubscribed ? 1 : 0)
        }

        /// Plausible ratios: ~0.5 % fail, ~3 % bounce (60 % of them hard), ~99 % of the rest are
        /// delivered. An ordinary lead opens ~20 % of deliveries, clicks after ~15 % of opens and
        /// replies after ~3 %; an engaged lead (the top tenth of each workspace's list, which
        /// segment campaigns target) opens ~65 %, clicks after ~35 %, replies after ~8 %.
        /// ~0.3 % unsubscribe, ~0.08 % complain.
        init(seed: UInt64, send: Int, engaged: Bool) {
            var r = DemoRandom(seed: seed, .funnel, send)
            if r.chance(0.005) {
                failed = true
                return
            }
            if r.chance(0.03) {
                bounced = true
                hardBounce = r.chance(0.6)
                return
            }
            delivered = r.chance(0.99)
            guard delivered else { return }
            if r.chance(engaged ? 0.65 : 0.2) {
                opens = 1
                while opens < 4 && r.chance(engaged ? 0.45 : 0.25) { opens += 1 }
                if r.chance(engaged ? 0.35 : 0.15) { clicks = r.chance(0.25) ? 2 : 1 }
                replied = r.chance(engaged ? 0.08 : 0.03)
                unsubscribed = !engaged && r.chance(0.01)
            } else {
                unsubscribed = r.chance(0.001)
            }
            complained = !engaged && r.chance(0.0008)
        }
    }

    let seed: UInt64
    /// The reference time (Unix seconds): nothing is created after it.
    let now: Int
    /// Start of the UTC month 11 months before `now`'s month: sends, events and activities fall
    /// in [windowStart, now], so the monthly partitions of the last 12 months hold them all.
    let windowStart: Int
    let leads: Int
    let events: Int
    let activities: Int
    let aiUsage: Int
    var workspaces: [Workspace] = []
    /// Campaigns in order of `start`; those with recipients own consecutive send ranges.
    var campaigns: [Campaign] = []
    /// Sends [0, sendsWithEvents) produced the events; the rest are still queued.
    var sendsWithEvents = 0
    var sends = 0

    static let day = 86_400

    init(configuration c: DemoLoadConfiguration) {
        seed = c.seed
        now = Int(c.now.timeIntervalSince1970.rounded(.down))
        windowStart = Self.monthStart(now, monthsBack: 11)
        leads = c.leads
        events = c.events
        activities = Int((Double(c.leads) * c.activitiesPerLead).rounded())
        aiUsage = max(20 * c.workspaces, c.leads / 50)
        planWorkspaces(count: c.workspaces)
        planSendsAndCampaigns()
    }

    /// Unix seconds of the first instant of the UTC month `monthsBack` months before `time`'s.
    static func monthStart(_ time: Int, monthsBack: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: TimeInterval(time))
        let parts = calendar.dateComponents([.year, .month], from: date)
        let first = calendar.date(from: parts)!
        return Int(calendar.date(byAdding: .month, value: -monthsBack, to: first)!.timeIntervalSince1970)
    }

    /// Months (UTC year, month) from `windowStart` through the month after `now`.
    var months: [(year: Int, month: Int)] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var result: [(Int, Int)] = []
        var date = Date(timeIntervalSince1970: TimeInterval(windowStart))
        let end = Date(timeIntervalSince1970: TimeInterval(Self.monthStart(now, monthsBack: -2)))
        while date < end {
            let parts = calendar.dateComponents([.year, .month], from: date)
            result.append((parts.year!, parts.month!))
            date = calendar.date(byAdding: .month, value: 1, to: date)!
        }
        return result
    }

    // MARK: Workspaces

    /// Workspaces with a skewed share of the leads (a few big tenants, many small ones), each at least one.
    mutating func planWorkspaces(count: Int) {
        let weights = (0..<count).map { 1 / pow(Double($0) + 1, 0.8) }
        let counts = Self.apportion(leads, weights: weights, minimum: 1)
        var start = 0
        for w in 0..<count {
            var r = DemoRandom(seed: seed, .workspace, w)
            let adjective = r.pick(DemoVocabulary.workspaceAdjectives)
            let noun = r.pick(DemoVocabulary.workspaceNouns)
            let plan = DemoVocabulary.plans[r.weighted(DemoVocabulary.planCumulative)]
            let createdAt = now - 540 * Self.day - r.below(540 * Self.day)
            workspaces.append(Workspace(
                id: DemoRandom.uuid(seed: seed, .workspace, w), name: "\(adjective.capitalized) \(noun.capitalized) \(w + 1)",
                slug: "\(adjective)-\(noun)-\(w + 1)", plan: plan, createdAt: createdAt, leadStart: start, leadCount: counts[w]))
            start += counts[w]
        }
    }

    /// Splits `total` into parts proportional to `weights` (largest remainder), each >= minimum
    /// when total allows.
    static func apportion(_ total: Int, weights: [Double], minimum: Int = 0) -> [Int] {
        guard !weights.isEmpty else { return [] }
        let floor = min(minimum, total / weights.count)
        let rest = total - floor * weights.count
        let sum = weights.reduce(0, +)
        let exact = weights.map { Double(rest) * $0 / sum }
        var parts = exact.map { Int($0.rounded(.down)) }
        var left = rest - parts.reduce(0, +)
        let order = exact.indices.sorted { (exact[$0] - Double(parts[$0]), -$0) > (exact[$1] - Double(parts[$1]), -$1) }
        var i = 0
        while left > 0 {
            parts[order[i % order.count]] += 1
            left -= 1
            i += 1
        }
        return parts.map { $0 + floor }
    }

    /// The workspace lead `j` belongs to.
    func workspace(ofLead j: Int) -> Int {
        var lo = 0
        var hi = workspaces.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if workspaces[mid].leadStart <= j { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    // MARK: Sends and campaigns

    /// Lays the campaigns out for an estimated number of sends, then counts, send by send, until
    /// their funnels produce exactly `events` events (the last send's are cut short): the sends
    /// after that point stay queued. The first layout measures the events per send; the second
    /// aims at ~2.5 % queued sends; any further one (rare, tiny loads) grows by 5 %.
    mutating func planSendsAndCampaigns() {
        var estimate = events == 0 ? 0 : max(1, events * 10 / 23)
        var attempt = 0
        while true {
            sends = estimate
            campaigns = []
            planCampaigns()
            let (counted, total) = countSendsWithEvents()
            if let counted, attempt > 0 || events == 0 {
                sendsWithEvents = counted
                break
            }
            if attempt == 0 {
                let perSend = max(0.5, Double(total) / Double(max(1, counted ?? sends)))
                estimate = Int((Double(events) / perSend * 1.025).rounded(.up)) + 1
            } else {
                estimate += estimate / 20 + 16
            }
            attempt += 1
        }
        for c in campaigns.indices where campaigns[c].recipients > 0 { settleStatus(&campaigns[c]) }
    }

    /// The number of sends whose events reach `events`, or nil when all `sends` fall short;
    /// and the events counted.
    func countSendsWithEvents() -> (Int?, Int) {
        var total = 0
        var cursor = DemoRows.SendCursor(plan: self)
        var i = 0
        while total < events {
            guard i < sends else { return (nil, total) }
            let c = cursor.campaign(of: i)
            total += Funnel(seed: seed, send: i, engaged: isEngaged(send: i, in: c)).eventCount
            i += 1
        }
        return (i, total)
    }

    /// Recipient k of campaign c: its lead's index within the workspace.
    func localLead(send i: Int, in c: Campaign) -> Int {
        (c.stride &* (i - c.sendOffset) &+ c.shift) % workspaces[c.workspace].leadCount
    }

    /// Whether send i goes to an engaged lead (the first tenth of the workspace's list).
    func isEngaged(send i: Int, in c: Campaign) -> Bool {
        localLead(send: i, in: c) < max(1, workspaces[c.workspace].leadCount / 10)
    }

    mutating func planCampaigns() {
        let perWorkspace = Self.apportion(sends, weights: workspaces.map { Double($0.leadCount) })
        let target = max(2 * workspaces.count, sends / 1500)
        var index = 0
        for (w, workspace) in workspaces.enumerated() {
            let share = Double(workspace.leadCount) / Double(max(1, leads))
            let wanted = max(2, Int((Double(target) * share).rounded()))
            let needed = perWorkspace[w] == 0 ? 0 : (perWorkspace[w] + workspace.leadCount - 1) / workspace.leadCount
            let sending = perWorkspace[w] == 0 ? 0 : max(wanted, needed)
            let sizes = sending == 0 ? [] : Self.apportion(perWorkspace[w], weights: Array(repeating: 1, count: sending))
            let idle = max(1, sending / 10)
            for size in sizes + Array(repeating: 0, count: idle) {
                campaigns.append(makeCampaign(index, workspace: w, recipients: size))
                index += 1
            }
        }
        campaigns.sort { ($0.start, $0.index) < ($1.start, $1.index) }
        var offset = 0
        for c in campaigns.indices where campaigns[c].recipients > 0 {
            campaigns[c].sendOffset = offset
            offset += campaigns[c].recipients
        }
    }

    func makeCampaign(_ index: Int, workspace w: Int, recipients: Int) -> Campaign {
        var r = DemoRandom(seed: seed, .campaign, index)
        let slug = workspaces[w].slug
        let theme = r.pick(DemoVocabulary.campaignThemes)
        // More campaigns lately (a growing business): density rises linearly towards now.
        let span = Double(max(1, now - 2 * 3600 - windowStart - 3600))
        let start = windowStart + 3600 + Int(span * r.unit().squareRoot())
        let duration = min(6 * 3600, 300 + recipients / 2 + r.below(1800))
        // Segment campaigns (60 %) go to the top of the list, the engaged leads; broad ones to a
        // spread of the whole list.
        let segment = r.chance(0.6)
        var stride = 1
        if !segment && workspaces[w].leadCount > 1 {
            repeat {
                stride = 1 + r.below(workspaces[w].leadCount - 1)
            } while Self.gcd(stride, workspaces[w].leadCount) != 1
        }
        var campaign = Campaign(
            index: index, id: DemoRandom.uuid(seed: seed, .campaignID, index), workspace: w,
            name: "\(theme) #\(index + 1)", status: "draft", subject: r.pick(DemoVocabulary.subjects),
            fromEmail: (r.chance(0.5) ? "news@mail." : "team@") + slug + ".example",
            recipients: recipients, start: start, duration: duration,
            createdAt: start - Self.day - r.below(14 * Self.day),
            stride: stride, shift: segment ? 0 : r.below(max(1, workspaces[w].leadCount)))
        if recipients == 0 {
            // Never sent: drafts, a few paused or cancelled.
            campaign.status = ["draft", "draft", "paused", "cancelled"][r.below(4)]
            campaign.createdAt = start
        }
        return campaign
    }

    /// Status and dates from where the campaign's sends fall relative to the queued tail.
    func settleStatus(_ c: inout Campaign) {
        let end = c.sendOffset + c.recipients
        if end <= sendsWithEvents {
            c.status = c.index % 3 == 0 ? "sent" : "completed"
            c.scheduledAt = c.start - 600
            c.startedAt = c.start
            c.completedAt = min(now, c.start + c.duration)
        } else if c.sendOffset >= sendsWithEvents {
            c.status = "scheduled"
            c.scheduledAt = now + 3600 + (c.index * 7919) % (72 * 3600)
            c.createdAt = min(c.createdAt, c.start)
        } else {
            c.status = "sending"
            c.scheduledAt = c.start - 600
            c.startedAt = c.start
        }
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// Lead `j`'s creation time: up to 18 months back, recent months busier (a growing list).
    func leadCreatedAt(_ j: Int) -> Int {
        var r = DemoRandom(seed: seed, .lead, j)
        return now - Int(540 * Double(Self.day) * (1 - r.unit().squareRoot()))
    }
}
