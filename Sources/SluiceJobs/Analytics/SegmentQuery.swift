// SegmentQuery: a parsed segment rule compiled to SQL over the catalog's segment table, with
// every value a bound parameter and every identifier from the catalog, quoted.
//
// `WHERE t.tenant = $1 AND (…)`: the tenant comes first so the workspace's indexes apply. Text
// matching is case-insensitive (ILIKE with %, _ and \ escaped in the bound pattern; pg_trgm
// indexes make `contains` fast); tags use the array operators of the GIN index; custom-field
// equality is jsonb containment (the jsonb_path_ops index); a lookup field is an EXISTS on its
// view, confined to the tenant when the lookup names the view's tenant column. NOT treats an unknown (NULL) as false, so `not email contains x` keeps leads without email;
// a negated lookup is a plain NOT EXISTS (never NULL), which the planner turns into an anti-join.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore

public struct SegmentQuery: Sendable {
    /// `FROM … WHERE …`: the rule as one `WHERE`, what `membersSQL` is tested against.
    public let fromWhere: String
    /// `SELECT t.order AS sluice_order, t.key AS sluice_key …`: each member once, shared by the count,
    /// the page and the saved keys. For a top-level OR that mixes branches an index can serve with
    /// branches none can, a `UNION` of one `SELECT` per served branch and one for the rest (see
    /// `Compiler.arms`); otherwise `fromWhere`.
    public let membersSQL: String
    public let binds: [PostgresValue]
    public let source: SegmentSource
    public let rule: SegmentRule

    public init(rule: SegmentRule, workspaceID: UUID, source: SegmentSource) {
        var c = Compiler(source: source)
        c.binds.append(.uuid(workspaceID))
        let from = "FROM \(source.table.quoted) AS t WHERE t.\(source.tenant.quoted) = $1 AND "
        let select = "SELECT t.\(source.orderBy.quoted) AS sluice_order, t.\(source.key.quoted) AS sluice_key "
        let top = Compiler.unwrapped(rule)
        if case .any(let branches) = top, let arms = Compiler.arms(branches) {
            // Each branch compiled once: both forms use the same SQL and the same binds.
            let compiled = arms.map { arm in arm.map { c.sql($0, alias: "t") } }
            let or = { (parts: [String]) in parts.count == 1 ? parts[0] : "(" + parts.joined(separator: " OR ") + ")" }
            self.fromWhere = from + or(compiled.flatMap { $0 })
            self.membersSQL = compiled.map { select + from + or($0) }.joined(separator: "\nUNION\n")
        } else {
            self.fromWhere = from + c.sql(rule, alias: "t")
            self.membersSQL = select + fromWhere
        }
        self.binds = c.binds
        self.source = source
        self.rule = rule
    }

    /// Planner settings the statement runs with (`SET LOCAL` in its own transaction, `query(_:_:on:)`).
    ///
    /// A negated lookup at the top of the rule (alone or in the top-level AND) is an anti-join of
    /// the workspace's leads against the tenant's lookup rows. The planner costs the hash anti-join
    /// below the merge anti-join, but over the largest demo workspace (424,581 leads against
    /// 424,557 lookup rows, both index-only) the hash build and the cache-missing probes took
    /// 374 ms where the merge (the lookup side sorted) took 215 ms, the same moment (issue 18):
    /// hash joins are off for such a statement. Results never depend on it.
    public var plannerSettings: [(name: String, value: String)] {
        Compiler.negatedLookupAtTop(Compiler.unwrapped(rule)) ? [("enable_hashjoin", "off")] : []
    }

    /// Runs one of this query's statements with `plannerSettings` (in a transaction of its own
    /// when there are any).
    public func query(_ sql: String, _ binds: [PostgresValue], on c: PostgresConnection) async throws -> PostgresRows {
        let settings = plannerSettings
        guard !settings.isEmpty else { return try await c.query(sql, binds) }
        return try await c.withTransaction { t in
            for s in settings { try await t.execute("SELECT set_config($1, $2, true)", [.text(s.name), .text(s.value)]) }
            return try await t.query(sql, binds)
        }
    }

    public var countSQL: String { "SELECT count(*) FROM (\(membersSQL)) AS m" }

    /// A page of members, newest first (the catalog's order_by, then the key), `$n`/`$n+1` = limit/offset.
    ///
    /// The members' (order, key) pairs are materialized, sorted top-N, and only the page's rows
    /// read back by key: the page costs at most what the count does. Left to itself the planner
    /// walks the order_by index and stops after a page, which is quick when most leads match but
    /// visits the whole workspace when few do and it guessed many (a negated lookup matching 24
    /// of 424,000 leads: 12.9 s, one anti-join probe per lead in created_at order).
    public var pageSQL: String {
        """
        \(membersAndPage)
        SELECT \(pageColumns) FROM page p JOIN \(source.table.quoted) AS t ON t.\(source.key.quoted) = p.sluice_key
        ORDER BY p.sluice_order DESC, p.sluice_key
        """
    }

    /// The members' (order, key) pairs materialized once, and the page's top-N of them
    /// (`$n`/`$n+1` = limit/offset): the head of `pageSQL` and `countAndPageSQL`.
    private var membersAndPage: String {
        """
        WITH members AS MATERIALIZED (\(membersSQL)),
        page AS (SELECT sluice_order, sluice_key FROM members ORDER BY sluice_order DESC, sluice_key
                 LIMIT $\(binds.count + 1) OFFSET $\(binds.count + 2))
        """
    }

    private var pageColumns: String { source.columns.map { "t.\($0.quoted)" }.joined(separator: ", ") }

    /// The count and a page in one statement, one visit of the members (issue 18): the
    /// materialized (order, key) pairs feed both the count and the top-N sort. Columns: the
    /// catalog's `columns`, then `sluice_count` (the members) and `sluice_member` (false on the one
    /// row returned when the page is empty, whose other columns are NULL). `$n`/`$n+1` = limit/offset.
    ///
    /// The count and the page visited the workspace once each: for a rule set that has to read
    /// every lead of the largest workspace (an OR over a field no index serves, a negated lookup)
    /// that was two scans of 424,000 rows where one suffices.
    public var countAndPageSQL: String {
        """
        \(membersAndPage)
        SELECT \(pageColumns), (SELECT count(*) FROM members) AS sluice_count, p.sluice_key IS NOT NULL AS sluice_member
        FROM (SELECT 1) AS one LEFT JOIN (page p JOIN \(source.table.quoted) AS t ON t.\(source.key.quoted) = p.sluice_key) ON true
        ORDER BY p.sluice_order DESC, p.sluice_key
        """
    }

    /// Every member's key, for a saved segment.
    public var keysSQL: String { "SELECT m.sluice_key FROM (\(membersSQL)) AS m" }

    struct Compiler {
        let source: SegmentSource
        var binds: [PostgresValue] = []

        /// A one-rule AND or OR is its rule (the top level of `[rule]` is an AND of one).
        static func unwrapped(_ rule: SegmentRule) -> SegmentRule {
            switch rule {
            case .all(let rules) where rules.count == 1, .any(let rules) where rules.count == 1: unwrapped(rules[0])
            default: rule
            }
        }

        /// Whether an index can find a rule's rows without reading every row of the workspace,
        /// given the indexes `sluice catalog check` asks for (trigram for text matching, GIN for tags
        /// and custom-field equality, a key column for equality and time ranges, the lookup
        /// relation's tenant index): positive conditions are; a negation, `not_equals`,
        /// `not_contains` and a custom-field `contains` (`(column ->> 'key') ILIKE`, served only by
        /// an expression index per key, which the check cannot ask for) are not; an AND is when one of its rules is, an OR when all are.
        /// A negated lookup, or an AND holding one among its rules.
        static func negatedLookupAtTop(_ rule: SegmentRule) -> Bool {
            func negatedLookup(_ r: SegmentRule) -> Bool {
                if case .not(.condition(let c)) = unwrapped(r) { return c.field.lookup != nil }
                return false
            }
            if case .all(let rules) = rule { return rules.contains(where: negatedLookup) }
            return negatedLookup(rule)
        }

        static func served(_ rule: SegmentRule) -> Bool {
            switch rule {
            case .all(let rules): return rules.contains(where: served)
            case .any(let rules): return rules.allSatisfy(served)
            case .not: return false
            case .condition(let c):
                if c.field.lookup != nil { return true }
                switch (c.field.type, c.op) {
                case (_, .notEquals), (_, .notContains), (.object, .contains): return false
                default: return true
                }
            }
        }

        /// A top-level OR as the arms of a UNION: each branch an index serves alone (its own index
        /// scan, or a semi-join for a lookup), the others together in one arm (one pass over the
        /// workspace, as the whole OR was). Left to itself the planner reads every row of the
        /// workspace for an OR as soon as one branch has no index (or is a lookup, which cannot be a
        /// bitmap arm), evaluating every branch on every row. Nil when nothing would be gained: no
        /// branch is served, or one arm would hold them all; nil too past `maxArms` served branches:
        /// a served branch that matches most of the workspace costs its arm a pass over it, and the
        /// one WHERE bounds a long OR (up to 200 conditions) to one pass.
        static let maxArms = 8

        static func arms(_ branches: [SegmentRule]) -> [[SegmentRule]]? {
            let served = branches.filter(Self.served), rest = branches.filter { !Self.served($0) }
            guard !served.isEmpty, served.count <= maxArms, served.count + (rest.isEmpty ? 0 : 1) > 1 else { return nil }
            return served.map { [$0] } + (rest.isEmpty ? [] : [rest])
        }

        mutating func bind(_ v: PostgresValue) -> String {
            binds.append(v)
            return "$\(binds.count)"
        }

        mutating func sql(_ rule: SegmentRule, alias: String) -> String {
            switch rule {
            case .all(let rules): return "(" + rules.map { sql($0, alias: alias) }.joined(separator: " AND ") + ")"
            case .any(let rules): return "(" + rules.map { sql($0, alias: alias) }.joined(separator: " OR ") + ")"
            case .not(.condition(let c)) where c.field.lookup != nil:
                // An EXISTS is never NULL: NOT EXISTS needs no guard, and a plain NOT EXISTS at the
                // top level becomes a hashed anti-join instead of a subplan probed per lead.
                return "(NOT \(sql(.condition(c), alias: alias)))"
            case .not(let inner): return "(NOT coalesce(\(sql(inner, alias: alias)), false))"
            case .condition(let c):
                if let lookup = c.field.lookup {
                    let inner = condition(c, column: "l.\(lookup.column.quoted)")
                    // $1 is the tenant: a lookup with a tenant column reads only the tenant's rows.
                    let tenant = lookup.tenant.map { "l.\($0.quoted) = $1 AND " } ?? ""
                    return "EXISTS (SELECT 1 FROM \(lookup.relation.quoted) AS l WHERE \(tenant)l.\(lookup.key.quoted) = "
                        + "\(alias).\(source.key.quoted) AND \(inner))"
                }
                return condition(c, column: "\(alias).\(c.field.column.quoted)")
            }
        }

        static func escapeLike(_ s: String) -> String {
            var out = ""
            for ch in s {
                if ch == "\\" || ch == "%" || ch == "_" { out.append("\\") }
                out.append(ch)
            }
            return out
        }

        mutating func condition(_ c: SegmentCondition, column col: String) -> String {
            switch (c.field.type, c.op, c.value) {
            case (.text, .equals, .text(let s)): return "(\(col) = \(bind(.text(s))))"
            case (.text, .notEquals, .text(let s)): return "(\(col) IS DISTINCT FROM \(bind(.text(s))))"
            case (.text, .contains, .text(let s)): return "(\(col) ILIKE \(bind(.text("%" + Self.escapeLike(s) + "%"))))"
            case (.text, .notContains, .text(let s)):
                return "(\(col) IS NULL OR \(col) NOT ILIKE \(bind(.text("%" + Self.escapeLike(s) + "%"))))"
            case (.text, .startsWith, .text(let s)): return "(\(col) ILIKE \(bind(.text(Self.escapeLike(s) + "%"))))"
            case (.text, .endsWith, .text(let s)): return "(\(col) ILIKE \(bind(.text("%" + Self.escapeLike(s)))))"
            case (.text, .in, .texts(let list)): return "(\(col) = ANY(\(bind(.textArray(list)))::text[]))"
            case (.tags, .contains, .texts(let list)): return "(\(col) @> \(bind(.textArray(list)))::text[])"
            case (.tags, .notContains, .texts(let list)): return "(NOT (\(col) && \(bind(.textArray(list)))::text[]))"
            case (.timestamp, .after, .time(let d)): return "(\(col) > \(bind(.timestamp(d))))"
            case (.timestamp, .before, .time(let d)): return "(\(col) < \(bind(.timestamp(d))))"
            case (.timestamp, .between, .range(let a, let b)):
                return "(\(col) >= \(bind(.timestamp(a))) AND \(col) < \(bind(.timestamp(b))))"
            case (.object, .equals, .scalar(let v)):
                return "(\(col) @> \(bind(.json(JSONValue.object([c.key ?? "": v]).jsonString))))"
            case (.object, .contains, .text(let s)):
                // The key is written into the SQL (letters, digits and _ only, as the parser
                // allows), not bound: an expression index on `(column ->> 'key')` serves it only then.
                guard let key = c.key, SegmentRules.isKey(key) else { return "false" }
                return "((\(col) ->> '\(key)') ILIKE \(bind(.text("%" + Self.escapeLike(s) + "%"))))"
            default:
                // The parser only builds the combinations above; anything else matches nothing
                // rather than everything.
                return "false"
            }
        }
    }
}
