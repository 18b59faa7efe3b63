// DemoRows: the demo tables' rows as lazy sequences for COPY. Each row is computed from the
// plan and its own index (sends and events walk the campaigns in order), so memory stays flat
// however many rows are streamed. Column lists here match the COPY statements in DemoLoader.

import Foundation
import Postgres

struct DemoRows {
    let plan: DemoPlan

    static func time(_ seconds: Int) -> PostgresValue { .timestamp(Date(timeIntervalSince1970: TimeInterval(seconds))) }
    static func time(_ seconds: Int?) -> PostgresValue { seconds.map { time($0) } ?? .null }

    // MARK: Workspaces, campaigns, AI usage (small)

    static let workspaceColumns = "id, name, slug, plan, created_at, updated_at"

    func workspaceRows() -> [[PostgresValue]] {
        plan.workspaces.map { w in
            [.uuid(w.id), .text(w.name), .text(w.slug), .text(w.plan), Self.time(w.createdAt),
             Self.time(min(plan.now, w.createdAt + 30 * DemoPlan.day))]
        }
    }

    static let campaignColumns = """
        id, workspace_id, name, status, subject, from_email, total_recipients, scheduled_at, started_at, \
        completed_at, created_at, updated_at
        """

    func campaignRows() -> [[PostgresValue]] {
        plan.campaigns.map { c in
            let updated = c.completedAt ?? c.startedAt ?? c.createdAt
            return [.uuid(c.id), .uuid(plan.workspaces[c.workspace].id), .text(c.name), .text(c.status), .text(c.subject),
                    .text(c.fromEmail), .int(c.recipients), Self.time(c.scheduledAt), Self.time(c.startedAt),
                    Self.time(c.completedAt), Self.time(c.createdAt), Self.time(min(plan.now, updated))]
        }
    }

    static let aiUsageColumns = "workspace_id, feature, tokens_used, created_at"

    func aiUsageRow(_ i: Int) -> [PostgresValue] {
        var r = DemoRandom(seed: plan.seed, .ai, i)
        let workspace = plan.workspace(ofLead: r.below(plan.leads))
        let created = plan.now - r.below(120 * DemoPlan.day)
        return [.uuid(plan.workspaces[workspace].id), .text(r.pick(DemoVocabulary.aiFeatures)),
                .int(50 + Int(r.exponential(mean: 700))), Self.time(created)]
    }

    // MARK: Leads

    static let leadColumns = """
        id, workspace_id, email, status, first_name, last_name, company, title, source, tags, custom_fields, \
        emails_sent_count, open_count, click_count, reply_count, last_contacted_at, last_opened_at, \
        last_clicked_at, last_replied_at, created_at, updated_at
        """

    func leadRow(_ j: Int) -> [PostgresValue] {
        var r = DemoRandom(seed: plan.seed, .lead, j)
        let created = plan.now - Int(540 * Double(DemoPlan.day) * (1 - r.unit().squareRoot()))  // as leadCreatedAt
        let workspace = plan.workspace(ofLead: j)
        let first = r.pick(DemoVocabulary.firstNames)
        let last = r.pick(DemoVocabulary.lastNames)
        let status = DemoVocabulary.leadStatuses[r.weighted(DemoVocabulary.leadStatusCumulative)]
        var tags: [String?] = []
        let tagCount = r.below(5)
        for _ in 0..<tagCount {
            let tag = r.pick(DemoVocabulary.tags)
            if !tags.contains(tag) { tags.append(tag) }
        }
        let customFields = #"{"industry": "\#(r.pick(DemoVocabulary.industries))", "company_size": "\#(r.pick(DemoVocabulary.companySizes))", "country": "\#(r.pick(DemoVocabulary.countries))", "lifecycle_stage": "\#(r.pick(DemoVocabulary.lifecycleStages))", "score": \#(r.below(101))}"#
        // Engagement counters, roughly in line with the event funnel's rates.
        let sent = status == "invalid" ? 0 : Int(r.exponential(mean: 6))
        let opens = sent == 0 ? 0 : Int(Double(sent) * r.unit() * 0.6)
        let clicks = opens == 0 ? 0 : Int(Double(opens) * r.unit() * 0.35)
        let replies = clicks == 0 ? 0 : (r.chance(0.2) ? 1 : 0)
        let lifetime = max(1, plan.now - created)
        let contacted = sent == 0 ? nil : created + r.below(lifetime)
        let opened = contacted.flatMap { c in opens == 0 ? nil : min(plan.now, c + r.below(3 * DemoPlan.day)) }
        let clicked = opened.flatMap { o in clicks == 0 ? nil : min(plan.now, o + r.below(3600)) }
        let replied = opened.flatMap { o in replies == 0 ? nil : min(plan.now, o + r.below(DemoPlan.day)) }
        let updated = max(created, contacted ?? created)
        return [
            .uuid(DemoRandom.uuid(seed: plan.seed, .leadID, j)), .uuid(plan.workspaces[workspace].id),
            .text("\(first).\(last).\(j)@\(r.pick(DemoVocabulary.mailDomains))"), .text(status),
            .text(first.capitalized), .text(last.capitalized),
            r.chance(0.8) ? .text(r.pick(DemoVocabulary.companies)) : .null,
            r.chance(0.6) ? .text(r.pick(DemoVocabulary.titles)) : .null,
            .text(r.pick(DemoVocabulary.sources)), .textArray(tags), .json(customFields),
            .int(sent), .int(opens), .int(clicks), .int(replies),
            Self.time(contacted), Self.time(opened), Self.time(clicked), Self.time(replied),
            Self.time(created), Self.time(updated),
        ]
    }

    // MARK: Lead activities

    static let activityColumns = "id, workspace_id, lead_id, activity_type, details, created_at"

    func activityRow(_ a: Int) -> [PostgresValue] {
        var r = DemoRandom(seed: plan.seed, .activity, a)
        let lead = r.below(plan.leads)
        let workspace = plan.workspace(ofLead: lead)
        let type = r.weighted(DemoVocabulary.activityCumulative)
        let from = max(plan.windowStart, plan.leadCreatedAt(lead))
        let created = from + r.below(max(1, plan.now - from))
        return [.uuid(DemoRandom.uuid(seed: plan.seed, .activityID, a)), .uuid(plan.workspaces[workspace].id),
                .uuid(DemoRandom.uuid(seed: plan.seed, .leadID, lead)), .text(DemoVocabulary.activityTypes[type]),
                .json(r.pick(DemoVocabulary.activityDetails[type])), Self.time(created)]
    }

    // MARK: Sends and events

    /// Walks the campaigns with recipients in send order: send index → (campaign, recipient).
    struct SendCursor {
        let plan: DemoPlan
        private var campaign = -1
        private var end = 0

        init(plan: DemoPlan) { self.plan = plan }

        /// The campaign of send `i`; sends must be visited in increasing order.
        mutating func campaign(of i: Int) -> DemoPlan.Campaign {
            while i >= end || campaign < 0 {
                campaign += 1
                while plan.campaigns[campaign].recipients == 0 { campaign += 1 }
                end = plan.campaigns[campaign].sendOffset + plan.campaigns[campaign].recipients
            }
            return plan.campaigns[campaign]
        }
    }

    struct Send {
        var id: UUID
        var workspaceID: UUID
        var campaignID: UUID
        var leadID: UUID
        var createdAt: Int
        /// Planned or actual send time.
        var sendAt: Int
        var queued: Bool
        var engaged: Bool
    }

    func send(_ i: Int, in c: DemoPlan.Campaign) -> Send {
        let k = i - c.sendOffset
        let workspace = plan.workspaces[c.workspace]
        let local = plan.localLead(send: i, in: c)
        let lead = workspace.leadStart + local
        let queued = i >= plan.sendsWithEvents
        let sendAt = c.start + Int(Double(c.duration) * Double(k) / Double(max(1, c.recipients)))
        return Send(
            id: DemoRandom.uuid(seed: plan.seed, .sendID, i), workspaceID: workspace.id, campaignID: c.id,
            leadID: DemoRandom.uuid(seed: plan.seed, .leadID, lead), createdAt: min(plan.now, c.start + k / 1000),
            sendAt: queued ? (c.scheduledAt ?? sendAt) : min(plan.now, sendAt), queued: queued,
            engaged: local < max(1, workspace.leadCount / 10))
    }

    static let sendColumns = "id, workspace_id, campaign_id, lead_id, batch_id, status, message_id, error, scheduled_at, sent_at, created_at"

    struct SendRows: Sequence, IteratorProtocol {
        let rows: DemoRows
        var cursor: SendCursor
        var i = 0

        init(rows: DemoRows) {
            self.rows = rows
            cursor = SendCursor(plan: rows.plan)
        }

        mutating func next() -> [PostgresValue]? {
            guard i < rows.plan.sends else { return nil }
            defer { i += 1 }
            let c = cursor.campaign(of: i)
            let s = rows.send(i, in: c)
            let batch = DemoRandom.uuid(seed: rows.plan.seed, .campaignID, c.index &* 1024 &+ (i - c.sendOffset) / 1000)
            if s.queued {
                return [.uuid(s.id), .uuid(s.workspaceID), .uuid(s.campaignID), .uuid(s.leadID), .uuid(batch), .text("queued"),
                        .null, .null, DemoRows.time(s.sendAt), .null, DemoRows.time(s.createdAt)]
            }
            let funnel = DemoPlan.Funnel(seed: rows.plan.seed, send: i, engaged: s.engaged)
            let status = funnel.failed ? "failed" : funnel.bounced ? "bounced" : funnel.delivered ? "delivered" : "sent"
            let error: PostgresValue = funnel.failed ? .text(DemoVocabulary.sendErrors[i % DemoVocabulary.sendErrors.count])
                : funnel.bounced ? .text(funnel.hardBounce ? "550 5.1.1 user unknown" : "452 4.2.2 mailbox full") : .null
            let messageID: PostgresValue = funnel.failed ? .null : .text("<\(s.id.uuidString.lowercased())@mail.sluice.example>")
            return [.uuid(s.id), .uuid(s.workspaceID), .uuid(s.campaignID), .uuid(s.leadID), .uuid(batch), .text(status),
                    messageID, error, DemoRows.time(s.sendAt - 60), funnel.failed ? .null : DemoRows.time(s.sendAt),
                    DemoRows.time(s.createdAt)]
        }
    }

    static let eventColumns = "id, workspace_id, campaign_id, lead_id, send_id, event_type, bounce_type, url, user_agent, metadata, created_at"

    /// Exactly `plan.events` events: every send's funnel in send order, the last one cut short.
    struct EventRows: Sequence, IteratorProtocol {
        let rows: DemoRows
        var cursor: SendCursor
        var send = 0
        var emitted = 0
        var pending: [[PostgresValue]] = []
        var pendingIndex = 0

        init(rows: DemoRows) {
            self.rows = rows
            cursor = SendCursor(plan: rows.plan)
        }

        mutating func next() -> [PostgresValue]? {
            guard emitted < rows.plan.events else { return nil }
            while pendingIndex >= pending.count {
                guard send < rows.plan.sendsWithEvents else { return nil }
                pending.removeAll(keepingCapacity: true)
                pendingIndex = 0
                fill(send)
                send += 1
            }
            defer {
                pendingIndex += 1
                emitted += 1
            }
            var row = pending[pendingIndex]
            row[0] = .uuid(DemoRandom.uuid(seed: rows.plan.seed, .eventID, emitted))
            return row
        }

        /// The events of send `i`, in time order.
        mutating func fill(_ i: Int) {
            let plan = rows.plan
            let c = cursor.campaign(of: i)
            let s = rows.send(i, in: c)
            let f = DemoPlan.Funnel(seed: plan.seed, send: i, engaged: s.engaged)
            guard !f.failed else { return }
            var r = DemoRandom(seed: plan.seed, .event, i)
            let base: [PostgresValue] = [.null, .uuid(s.workspaceID), .uuid(s.campaignID), .uuid(s.leadID), .uuid(s.id)]
            func add(_ type: String, _ at: Int, bounce: String? = nil, url: String? = nil, agent: String? = nil, metadata: String) {
                pending.append(base + [.text(type), bounce.map { .text($0) } ?? .null, url.map { .text($0) } ?? .null,
                                       agent.map { .text($0) } ?? .null, .json(metadata), DemoRows.time(Swift.min(plan.now, at))])
            }
            let t0 = s.sendAt
            add("sent", t0, metadata: DemoVocabulary.emptyJSON)
            if f.bounced {
                add("bounced", t0 + 1 + r.below(600), bounce: f.hardBounce ? "hard" : "soft",
                    metadata: f.hardBounce ? DemoVocabulary.hardBounceMetadata : r.pick(DemoVocabulary.softBounceMetadata))
                return
            }
            guard f.delivered else { return }
            let delivered = t0 + 1 + r.below(120)
            add("delivered", delivered, metadata: DemoVocabulary.emptyJSON)
            var open = delivered
            var firstOpen = delivered
            for n in 0..<f.opens {
                open += 30 + Int(r.exponential(mean: n == 0 ? 10 * 3600 : 30 * 3600))
                if n == 0 { firstOpen = open }
                let agent = r.below(DemoVocabulary.userAgents.count)
                add("opened", open, agent: DemoVocabulary.userAgents[agent],
                    metadata: DemoVocabulary.openMetadata[agent % DemoVocabulary.openMetadata.count])
            }
            var click = firstOpen
            for _ in 0..<f.clicks {
                click += 5 + Int(r.exponential(mean: 1200))
                let slug = plan.workspaces[c.workspace].slug
                add("clicked", click, url: "https://\(slug).example\(r.pick(DemoVocabulary.clickPaths))?utm_campaign=c\(c.index + 1)",
                    agent: r.pick(DemoVocabulary.userAgents), metadata: DemoVocabulary.emptyJSON)
            }
            if f.replied { add("replied", firstOpen + 60 + Int(r.exponential(mean: 3 * 3600)), metadata: DemoVocabulary.emptyJSON) }
            if f.unsubscribed {
                add("unsubscribed", firstOpen + 10 + Int(r.exponential(mean: 3600)), metadata: r.pick(DemoVocabulary.unsubscribeMetadata))
            }
            if f.complained {
                add("complained", delivered + 60 + Int(r.exponential(mean: Double(DemoPlan.day))), metadata: DemoVocabulary.complaintMetadata)
            }
            // Events of one send in time order (the clamp to `now` keeps them inside the window).
            pending.sort { a, b in
                if case .timestamp(let x) = a[10], case .timestamp(let y) = b[10] { return x < y }
                return false
            }
        }
    }
}
