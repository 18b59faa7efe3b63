// AnalyticsSegmentJob (`analytics.segment {workspace_id, rules, limit, offset, store}`): the
// count and a page of the leads a segment's rules select, compiled from JSON over the catalog's
// segment fields only (SegmentRules, SegmentQuery).
//
// Rules are checked at enqueue and again on the worker; an error names the rule's path
// (`args.rules[1].rules[0].field`) and no SQL is sent. Counts are cached in Redis like query
// outputs, keyed by the normalised rules (`sluice:cache:segment:{hash}`), for `stale_after` 5 min.
// `store: true` saves the members in the home database (`{schema}.segments`, `segment_members`)
// under a new segment id, so sends can be scheduled for exactly those leads.

import Foundation
import Postgres
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct AnalyticsSegmentJob: JobWorker {
    public init() {}

    public static let kind: JobKind = "analytics.segment"
    public static var defaultClass: WorkloadClass { .analytics }
    public static let maxLimit = 1000
    public static let countStaleAfter: Duration = .seconds(300)
    /// A saved segment holds at most this many members.
    public static let maxStoredMembers = 5_000_000

    public struct Arguments: Codable, Sendable, Equatable {
        public var workspaceId: String
        public var rules: JSONValue
        public var limit: Int?
        public var offset: Int?
        public var store: Bool?

        public init(workspaceId: String, rules: JSONValue, limit: Int? = nil, offset: Int? = nil, store: Bool? = nil) {
            self.workspaceId = workspaceId
            self.rules = rules
            self.limit = limit
            self.offset = offset
            self.store = store
        }

        enum CodingKeys: String, CodingKey {
            case workspaceId = "workspace_id"
            case rules, limit, offset, store
        }
    }

    public struct Report: Codable, Sendable {
        public var workspaceId: String
        public var count: Int
        /// True when the count came from the cache.
        public var countCached: Bool
        public var limit: Int
        public var offset: Int
        public var leads: [JSONValue]
        public var segmentId: String?
        public var durationMs: Double
    }

    struct Checked {
        var workspace: UUID
        var rule: SegmentRule
        var source: SegmentSource
    }

    static func check(_ a: Arguments, _ catalog: Catalog) throws(EnvelopeError) -> Checked {
        guard let source = catalog.segments else {
            throw .argument("rules", "the catalog declares no segments (a segments: section)")
        }
        guard let workspace = UUID(uuidString: a.workspaceId) else { throw .argument("workspace_id", "must be a UUID") }
        if let limit = a.limit, !(0...maxLimit).contains(limit) { throw .argument("limit", "must be between 0 and \(maxLimit)") }
        if let offset = a.offset, !(0...10_000_000).contains(offset) { throw .argument("offset", "must be between 0 and 10000000") }
        do {
            let rule = try SegmentRules.parse(a.rules, source: source, path: "args.rules")
            return Checked(workspace: workspace, rule: rule, source: source)
        } catch {
            throw EnvelopeError(.invalidArguments, field: error.path, reason: error.reason)
        }
    }

    public func validate(_ arguments: Arguments, against catalog: Catalog) throws(EnvelopeError) {
        _ = try Self.check(arguments, catalog)
    }

    /// `sluice:cache:segment:{hash}`: SHA-1 over target NUL workspace NUL normalised rules (JSON).
    public static func countKey(prefix: String, target: String, workspace: UUID, rule: SegmentRule) -> String {
        var bytes = Array(target.utf8) + [0] + Array(workspace.uuidString.lowercased().utf8) + [0]
        bytes += rule.normalised.encoded()
        return RedisKeys(prefix: prefix).segmentCount(hash: SHA1.hex(bytes))
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws -> Report {
        let checked: Checked
        do {
            checked = try Self.check(arguments, context.catalog)
        } catch {
            throw JobError("\(error)", retryable: false)
        }
        let started = ContinuousClock.now
        let query = SegmentQuery(rule: checked.rule, workspaceID: checked.workspace, source: checked.source)
        let limit = arguments.limit ?? 100, offset = arguments.offset ?? 0
        let cache = context.redis.map { QueryCache(redis: $0, prefix: context.redisPrefix) }
        let key = Self.countKey(prefix: context.redisPrefix, target: context.envelope.target, workspace: checked.workspace,
                                rule: checked.rule)
        var count: Int?
        if let cache, arguments.store != true, let cached = try? await cache.read(key: key), !cached.isStale(),
            case .array(let rows)? = Optional(cached.rows), let n = rows.first?["count"]?.intValue {
            count = Int(n)
        }
        let countCached = count != nil
        let (total, leads): (Int, [JSONValue]) = try await context.pool.withConnection { c in
            if let count {
                guard limit > 0 else { return (count, []) }
                let page = try await query.query(query.pageSQL, query.binds + [.int(limit), .int(offset)], on: c)
                return (count, try page.map { try RowJSON.object($0, columns: page.columns) })
            }
            guard limit > 0 else { return (try await query.query(query.countSQL, query.binds, on: c)[0].decode(0, as: Int.self), []) }
            // Count and page in one visit of the members.
            let rows = try await query.query(query.countAndPageSQL, query.binds + [.int(limit), .int(offset)], on: c)
            let columns = checked.source.columns.map(\.rawValue)
            let n = try rows[0].decode(columns.count, as: Int.self)
            let members = try rows.filter { try $0.decode(columns.count + 1, as: Bool.self) }
            return (n, try members.map { try RowJSON.object($0, columns: columns) })
        }
        if !countCached, let cache {
            let now = Date()
            let output = CachedOutput(
                query: "segment", params: ["workspace_id": .string(checked.workspace.uuidString.lowercased()), "rules": checked.rule.normalised],
                version: Int64(now.timeIntervalSince1970 * 1_000_000), computedAt: now,
                staleAfter: now.addingTimeInterval(QueryCache.seconds(Self.countStaleAfter)),
                expiresAt: now.addingTimeInterval(3600), rows: [["count": .int(Int64(total))]], rowCount: 1, durationMS: 0,
                jobID: context.id.description)
            do { try await cache.write(output, key: key, ttl: .seconds(3600)) } catch {
                context.logger.warning("segment count not cached: \(error)")
            }
        }
        var segmentID: String?
        if arguments.store == true {
            segmentID = try await store(query, checked, context: context).uuidString.lowercased()
        }
        let d = ContinuousClock.now - started
        return Report(workspaceId: checked.workspace.uuidString.lowercased(), count: total, countCached: countCached, limit: limit,
                      offset: offset, leads: leads, segmentId: segmentID,
                      durationMs: (Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15).rounded())
    }

    /// Saves the members in the home database, in one transaction, 10 000 keys per statement.
    func store(_ query: SegmentQuery, _ checked: Checked, context: JobContext) async throws -> UUID {
        let keys: [String] = try await context.pool.withConnection { c in
            let rows = try await query.query(query.keysSQL + " LIMIT \(Self.maxStoredMembers + 1)", query.binds, on: c)
            return try rows.map { try $0.decode(0, as: String.self) }
        }
        guard keys.count <= Self.maxStoredMembers else {
            throw JobError("the segment has more than \(Self.maxStoredMembers) members; narrow its rules to store it", retryable: false)
        }
        let schema = try Catalog.quoted(context.schema)
        let id = UUID()
        try await context.home.withConnection { c in
            try await c.withTransaction { t in
                _ = try await t.execute(
                    "INSERT INTO \(schema).segments (id, target, workspace_id, rules, member_count, job_id) VALUES ($1, $2, $3, $4, $5, $6)",
                    [.uuid(id), .text(context.envelope.target), .uuid(checked.workspace), .json(checked.rule.normalised.jsonString),
                     .int(keys.count), .text(context.id.description)])
                var start = 0
                while start < keys.count {
                    let end = min(keys.count, start + 10_000)
                    _ = try await t.execute(
                        "INSERT INTO \(schema).segment_members (segment_id, member_id) SELECT $1, unnest($2::text[])::uuid",
                        [.uuid(id), .textArray(Array(keys[start..<end]).map { Optional($0) })])
                    start = end
                }
            }
        }
        return id
    }
}
