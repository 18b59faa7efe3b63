// Segment rules: parsing errors name the rule's path; compiled SQL against a scratch database
// selects exactly a hand-computed set of leads; hostile input is refused before any SQL.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceJobs
import SluiceRuntime
import Testing
import TestSupport

@Suite("Analytics segments")
struct AnalyticsSegmentTests {
    static func source() throws -> SegmentSource {
        let catalog = try TestCatalog.demo()
        return try #require(catalog.segments)
    }

    func error(_ rules: JSONValue) throws -> SegmentRuleError? {
        let source = try Self.source()
        do {
            _ = try SegmentRules.parse(rules, source: source)
            return nil
        } catch {
            return error
        }
    }

    @Test func errorsNameThePath() throws {
        let rules: JSONValue = [
            ["field": "email", "operator": "contains", "value": "a"],
            ["operator": "or", "rules": [["field": "emial", "operator": "equals", "value": "x"]]],
        ]
        #expect(try error(rules)?.path == "rules[1].rules[0].field")
        #expect(try error([["field": "email", "operator": "drop", "value": "x"]])?.path == "rules[0].operator")
        #expect(try error([["field": "created_at", "operator": "after", "value": 5]])?.path == "rules[0].value")
        #expect(try error([["field": "status", "operator": "equals", "value": "deleted"]])?.path == "rules[0].value")
        #expect(try error(["operator": "and", "rules": []])?.path == "rules.rules")
        #expect(try error([])?.path == "rules")
        #expect(try error([["not": ["field": "tags", "operator": "contains", "value": [1]]]])?.path == "rules[0].not.value[0]")
        #expect(try error([["field": "custom_fields", "operator": "equals", "value": "x"]])?.path == "rules[0].field")
        #expect(try error([["field": "email", "operator": "contains", "value": "x", "sql": "1"]])?.path == "rules[0].sql")
        // SQL in a field name: refused, and the message does not echo it.
        let hostile = try #require(try error([["field": "email; DROP TABLE demo.leads --", "operator": "equals", "value": "x"]]))
        #expect(hostile.path == "rules[0].field")
        #expect(!hostile.description.contains("DROP"))
    }

    @Test func limitsAreRefusedWithThePath() throws {
        // 10 000 levels of nesting never become a value: the envelope's JSON parser stops at 512.
        let text = String(repeating: "{\"not\":", count: 10_000) + "{}" + String(repeating: "}", count: 10_000)
        #expect(throws: (any Error).self) { try JSONValue.parse(text) }
        // Whatever nesting the parser lets through is refused by the rules' own limit, with the path.
        var deep: JSONValue = ["field": "email", "operator": "contains", "value": "a"]
        for _ in 0..<500 { deep = ["not": deep] }
        let e = try #require(try error(deep))
        #expect(e.reason.contains("deeper"))
        #expect(e.path.hasPrefix("rules.not.not"))
        // A 10 MB value.
        let big = String(repeating: "x", count: 10 * 1024 * 1024)
        #expect(try error([["field": "company", "operator": "contains", "value": .string(big)]])?.path == "rules[0].value")
        // Too many conditions.
        let many = JSONValue.array((0..<201).map { _ in ["field": "email", "operator": "contains", "value": "a"] })
        #expect(try error(many)?.path == "rules[200]")
    }

    @Test func normalisedRulesAreStable() throws {
        let a = try SegmentRules.parse([["field": "created_at", "operator": "after", "value": "2026-01-01"]], source: try Self.source())
        let b = try SegmentRules.parse([["value": "2026-01-01T00:00:00Z", "operator": "after", "field": "created_at"]], source: try Self.source())
        #expect(a.normalised.encoded() == b.normalised.encoded())
    }

    @Test func rulesSelectTheHandComputedLeads() async throws {
        try await ScratchDatabase.with("segments", seed: false) { db in
            // One workspace of 12 leads with known attributes, and a second one that must never leak in.
            try await db.run("""
                INSERT INTO demo.workspaces (id, name, slug) VALUES
                    ('00000000-0000-0000-0000-0000000000a1', 'A', 'a'), ('00000000-0000-0000-0000-0000000000b2', 'B', 'b');
                INSERT INTO demo.leads (id, workspace_id, email, company, tags, source, status, custom_fields, created_at)
                SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, '00000000-0000-0000-0000-0000000000a1',
                       'lead' || i || CASE WHEN i % 3 = 0 THEN '@acme.com' ELSE '@other.org' END,
                       CASE WHEN i % 4 = 0 THEN 'Acme 100% Corp' WHEN i % 4 = 1 THEN NULL ELSE 'Globex' END,
                       CASE WHEN i % 2 = 0 THEN ARRAY['vip','news'] ELSE ARRAY['news'] END,
                       CASE WHEN i <= 6 THEN 'import' ELSE 'form' END,
                       CASE WHEN i % 5 = 0 THEN 'bounced' ELSE 'active' END,
                       jsonb_build_object('plan', CASE WHEN i % 3 = 1 THEN 'pro' ELSE 'free' END, 'city', 'Lyon ' || i),
                       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 day'
                FROM generate_series(1, 12) i;
                INSERT INTO demo.leads (workspace_id, email, company, tags, source)
                SELECT '00000000-0000-0000-0000-0000000000b2', 'x' || i || '@acme.com', 'Acme 100% Corp', ARRAY['vip'], 'import'
                FROM generate_series(1, 5) i;
                INSERT INTO demo.email_events (workspace_id, campaign_id, lead_id, event_type, created_at)
                SELECT '00000000-0000-0000-0000-0000000000a1', gen_random_uuid(), ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
                       'replied', now() - interval '1 day'
                FROM generate_series(1, 12) i, generate_series(1, 5) r WHERE i IN (2, 7);
                REFRESH MATERIALIZED VIEW demo.lead_engagement_scores;
                """)
            let source = try Self.source()
            let ws = UUID(uuidString: "00000000-0000-0000-0000-0000000000a1")!
            func members(_ rules: JSONValue) async throws -> [Int] {
                let rule = try SegmentRules.parse(rules, source: source)
                let q = SegmentQuery(rule: rule, workspaceID: ws, source: source)
                let c = try await db.connect()
                defer { Task { await c.close() } }
                let rows = try await c.query("SELECT right(t.id::text, 12)::int \(q.fromWhere) ORDER BY 1", q.binds)
                let count = try await c.query(q.countSQL, q.binds)[0].decode(0, as: Int.self)
                let ids = try rows.map { try $0.decode(0, as: Int.self) }
                #expect(count == ids.count)
                // Count and page in one statement (issue 18): the same count, the page newest first
                // (created_at is i days, so by id descending), one row of NULLs when the page is empty.
                let keyColumn = try #require(source.columns.firstIndex(of: source.key))
                for (limit, offset) in [(3, 1), (50, 0), (2, 20)] {
                    let page = try await c.query(q.countAndPageSQL, q.binds + [.int(limit), .int(offset)])
                    #expect(try page.allSatisfy { try $0.decode(source.columns.count, as: Int.self) == ids.count })
                    let members = try page.filter { try $0.decode(source.columns.count + 1, as: Bool.self) }
                    #expect(page.count == max(1, members.count))
                    let keys = try members.map { Int(try $0.decode(keyColumn, as: String.self).suffix(12))! }
                    #expect(keys == Array(ids.reversed().dropFirst(offset).prefix(limit)), "limit \(limit) offset \(offset)")
                }
                return ids
            }
            // Hand-computed from the generator above.
            #expect(try await members([["field": "email", "operator": "ends_with", "value": "@acme.com"]]) == [3, 6, 9, 12])
            // `%` in a value is a literal, not a wildcard.
            #expect(try await members([["field": "company", "operator": "contains", "value": "100%"]]) == [4, 8, 12])
            #expect(try await members([["field": "company", "operator": "contains", "value": "1_0"]]) == [])
            #expect(try await members([["field": "tags", "operator": "contains", "value": "vip"]]) == [2, 4, 6, 8, 10, 12])
            #expect(try await members([["field": "tags", "operator": "not_contains", "value": ["vip"]]]) == [1, 3, 5, 7, 9, 11])
            #expect(try await members([["field": "source", "operator": "not_equals", "value": "import"]]) == [7, 8, 9, 10, 11, 12])
            #expect(try await members([["field": "created_at", "operator": "between", "value": ["2026-01-03", "2026-01-06"]]]) == [2, 3, 4])
            #expect(try await members([["field": "created_at", "operator": "after", "value": "2026-01-10T00:00:00Z"]]) == [10, 11, 12])
            #expect(try await members([["field": "custom_fields.plan", "operator": "equals", "value": "pro"]]) == [1, 4, 7, 10])
            #expect(try await members([["field": "custom_fields.city", "operator": "contains", "value": "lyon 1"]]) == [1, 10, 11, 12])
            #expect(try await members([["field": "status", "operator": "in", "value": ["bounced"]]]) == [5, 10])
            #expect(try await members([["field": "engagement_level", "operator": "equals", "value": "hot"]]) == [2, 7])
            // NOT keeps leads whose company is NULL (i % 4 == 1) out of "contains" but in its negation.
            #expect(try await members([["not": ["field": "company", "operator": "contains", "value": "glob"]]]) == [1, 4, 5, 8, 9, 12])
            // Nested AND/OR of four conditions:
            // (tags ∋ vip AND source = import) OR (email ends @acme.com AND NOT status = bounced)
            let nested: JSONValue = ["operator": "or", "rules": [
                ["operator": "and", "rules": [
                    ["field": "tags", "operator": "contains", "value": "vip"],
                    ["field": "source", "operator": "equals", "value": "import"]]],
                ["operator": "and", "rules": [
                    ["field": "email", "operator": "ends_with", "value": "@acme.com"],
                    ["not": ["field": "status", "operator": "equals", "value": "bounced"]]]],
            ]]
            #expect(try await members(nested) == [2, 3, 4, 6, 9, 12])
            // The lookup, negated and nested (issue 18): confined to the tenant, same members.
            #expect(try await members([["not": ["field": "engagement_level", "operator": "in", "value": ["hot"]]]])
                == [1, 3, 4, 5, 6, 8, 9, 10, 11, 12])
            #expect(try await members(["operator": "or", "rules": [
                ["field": "engagement_level", "operator": "equals", "value": "hot"],
                ["field": "status", "operator": "equals", "value": "bounced"]]]) == [2, 5, 7, 10])
            // A negated lookup at the top (alone or in the top-level AND) runs with hash joins off
            // (a merge anti-join, issue 18), set for its own transaction only; other rules as they are.
            let notHot = SegmentQuery(rule: try SegmentRules.parse([["not": ["field": "engagement_level", "operator": "in", "value": ["hot"]]],
                                                                    ["field": "source", "operator": "equals", "value": "form"]], source: source),
                                      workspaceID: ws, source: source)
            #expect(notHot.plannerSettings.map(\.name) == ["enable_hashjoin"])
            #expect(SegmentQuery(rule: try SegmentRules.parse(nested, source: source), workspaceID: ws, source: source).plannerSettings.isEmpty)
            let steered = try await db.connect()
            #expect(try await notHot.query("SELECT current_setting('enable_hashjoin')", [], on: steered)[0].decode(0, as: String.self) == "off")
            #expect(try await steered.query("SELECT current_setting('enable_hashjoin')")[0].decode(0, as: String.self) == "on")
            let steeredKeys = try await notHot.query(notHot.keysSQL, notHot.binds, on: steered).map { Int(try $0.decode(0, as: String.self).suffix(12))! }
            await steered.close()
            #expect(steeredKeys.sorted() == [8, 9, 10, 11, 12])
            #expect(try await members([["not": ["field": "engagement_level", "operator": "in", "value": ["hot"]]],
                                       ["field": "source", "operator": "equals", "value": "form"]]) == [8, 9, 10, 11, 12])
            // A top-level OR mixing branches an index serves with ones none can (a custom-field
            // contains, a negation) runs as a UNION of arms: the same members as the one WHERE.
            let mixed: JSONValue = ["operator": "or", "rules": [
                ["field": "custom_fields.city", "operator": "contains", "value": "lyon 1"],
                ["field": "tags", "operator": "contains", "value": "vip"],
                ["not": ["field": "source", "operator": "equals", "value": "import"]],
                ["field": "engagement_level", "operator": "equals", "value": "hot"],
                ["field": "company", "operator": "contains", "value": "glob"]]]
            #expect(try await members(mixed) == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12])
            let mixedQuery = SegmentQuery(rule: try SegmentRules.parse(mixed, source: source), workspaceID: ws, source: source)
            #expect(mixedQuery.membersSQL.components(separatedBy: "\nUNION\n").count == 4, "\(mixedQuery.membersSQL)")
            // Only unserved branches, or an OR inside an AND: one WHERE, no UNION.
            let unserved: JSONValue = ["operator": "or", "rules": [
                ["not": ["field": "source", "operator": "equals", "value": "import"]],
                ["field": "custom_fields.city", "operator": "contains", "value": "lyon 1"]]]
            #expect(try await members(unserved) == [1, 7, 8, 9, 10, 11, 12])
            #expect(!SegmentQuery(rule: try SegmentRules.parse(unserved, source: source), workspaceID: ws, source: source).membersSQL.contains("UNION"))
            // Past eight served branches the OR stays one WHERE (one pass, whatever their selectivity).
            let long = JSONValue.array((1...9).map { ["field": "email", "operator": "contains", "value": .string("lead\($0)")] })
            let longOr: JSONValue = ["operator": "or", "rules": long]
            #expect(try await members(longOr) == Array(1...12))
            #expect(!SegmentQuery(rule: try SegmentRules.parse(longOr, source: source), workspaceID: ws, source: source).membersSQL.contains("UNION"))
            // An OR of ANDs, NULLs in a branch (company is NULL when i % 4 == 1), the lookup negated inside.
            #expect(try await members(["operator": "or", "rules": [
                ["operator": "and", "rules": [
                    ["field": "company", "operator": "equals", "value": "Globex"],
                    ["not": ["field": "engagement_level", "operator": "equals", "value": "hot"]]]],
                ["field": "created_at", "operator": "before", "value": "2026-01-03"],
                ["not": ["field": "company", "operator": "contains", "value": "glob"]]]])
                == [1, 3, 4, 5, 6, 8, 9, 10, 11, 12])
            // A custom field's contains writes its key into the SQL (only the pattern is bound), so an
            // expression trigram index on that key serves it (issue 18): the plan of the condition uses
            // it once the planner is told not to scan the table, and the members are the same.
            let city = SegmentQuery(rule: try SegmentRules.parse([["field": "custom_fields.city", "operator": "contains", "value": "lyon 1"]],
                                                                 source: source), workspaceID: ws, source: source)
            #expect(city.fromWhere.contains("(t.\"custom_fields\" ->> 'city') ILIKE $2"), "\(city.fromWhere)")
            #expect(city.binds.count == 2)
            try await db.run("CREATE INDEX leads_city_trgm ON demo.leads USING gin (workspace_id, (custom_fields ->> 'city') gin_trgm_ops)")
            let explain = try await db.connect()
            try await explain.simpleQuery("SET enable_seqscan = off")
            // The condition alone (the tenant's own indexes set aside): only the expression index can serve it.
            let condition = city.fromWhere.replacingOccurrences(of: "t.\"workspace_id\" = $1 AND", with: "$1::uuid IS NOT NULL AND")
            let plan = try await explain.query("EXPLAIN SELECT count(*) " + condition, city.binds)
                .map { try $0.decode(0, as: String.self) }.joined(separator: "\n")
            await explain.close()
            #expect(plan.contains("leads_city_trgm"), "\(plan)")
            #expect(try await members([["field": "custom_fields.city", "operator": "contains", "value": "lyon 1"]]) == [1, 10, 11, 12])
            let lookupSQL = SegmentQuery(rule: try SegmentRules.parse([["field": "engagement_level", "operator": "equals", "value": "hot"]],
                                                                      source: source), workspaceID: ws, source: source).fromWhere
            #expect(lookupSQL.contains("l.\"workspace_id\" = $1 AND l.\"lead_id\" = t.\"id\""), "\(lookupSQL)")
            // The analytics class's session settings (catalog `settings:`, JIT off) reach its pool.
            let analytics = try TestCatalog.demo().settings(for: .analytics)
            #expect(analytics.sessionSettings["jit"] == "off")
            let pool = PostgresPool(configuration: TargetPools.poolConfiguration(db.configuration, settings: analytics, target: "main"),
                                    logger: db.logger)
            let jit = try await pool.withConnection { c in try await c.query("SHOW jit")[0].decode(0, as: String.self) }
            await pool.close()
            #expect(jit == "off")
        }
    }
}
