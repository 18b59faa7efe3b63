// QueryCache: cached query outputs in Redis, the dashboard contract of `analytics.query`.
//
// One key per (query, params): `{prefix}cache:{name}:{params-hash}`, a string holding the whole
// output as JSON (CachedOutput). Any language reads it with one GET. Writers go through a Lua
// script that compares versions (the computation's start time in microseconds, kept beside it
// in `…:version`) and replaces the value with one SET, so the key always points at one complete
// version: a reader never sees half an output, never a miss while a refresh runs (the old value
// stays until the new one replaces it), and a slow old computation never overwrites a newer one.
// A failed refresh only adds `last_error` to the version already there.

import Foundation
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct QueryCache: Sendable {
    public let redis: any RedisClient
    /// `sluice:` by default.
    public let prefix: String

    public init(redis: any RedisClient, prefix: String = "sluice:") {
        self.redis = redis
        self.prefix = prefix
    }

    /// Lower-case hex SHA-1 over `QueryParameters.canonicalBytes`: for each parameter with a
    /// value, sorted by name, `name` NUL `canonical value` NUL.
    public static func paramsHash(_ params: QueryParameters) -> String { SHA1.hex(params.canonicalBytes) }

    public func key(query: String, hash: String) -> String { RedisKeys(prefix: prefix).cache(query: query, hash: hash) }

    /// The key of one output. Outputs of a target other than `main` are kept apart under
    /// `{name}@{target}`: `sluice:cache:workspace_usage@eu:{hash}`.
    public func key(query: String, target: String = "main", params: QueryParameters) -> String {
        key(query: RedisKeys.cacheName(query: query, target: target), hash: Self.paramsHash(params))
    }

    /// The cached output, or nil when there is none (never computed, or expired).
    public func read(key: String) async throws(RedisError) -> CachedOutput? {
        let reply = try await redis.send(["GET", RedisArgument(key)])
        guard let bytes = reply.bytes else { return nil }
        guard let value = try? JSONValue.parse(bytes), let output = CachedOutput(json: value) else {
            throw RedisError(.protocol, "the cached output at \(key) is not a Sluice cache entry")
        }
        return output
    }

    /// Writes `output` under `key` unless a newer version is there. Returns false when it lost
    /// to a newer version (the newer one stays).
    @discardableResult
    public func write(_ output: CachedOutput, key: String, ttl: Duration) async throws(RedisError) -> Bool {
        let ms = max(1, Int(ttl.components.seconds) * 1000 + Int(ttl.components.attoseconds / 1_000_000_000_000_000))
        let reply = try await redis.evalScript(
            Self.writeScript, keys: [RedisArgument(key), RedisArgument(key + ":version")],
            args: [RedisArgument(String(output.version)), RedisArgument(output.json.encoded()), RedisArgument(ms), "replace"])
        return reply.int == 1
    }

    /// Records a failed refresh: the version there gains `last_error` (its rows stay); with no
    /// version there, an entry without rows says why, for `stale_after`.
    public func recordFailure(key: String, error: String, at date: Date, jobID: String, staleAfter: Duration) async throws(RedisError) {
        for _ in 0..<3 {
            let current = try await read(key: key)
            var entry: CachedOutput
            let mode: String
            if let current {
                entry = current
                mode = "annotate"
            } else {
                entry = CachedOutput(query: "", params: .object([:]), version: 0, computedAt: nil, staleAfter: date,
                                     expiresAt: date.addingTimeInterval(Self.seconds(staleAfter)), rows: .null, rowCount: 0,
                                     durationMS: 0, jobID: jobID)
                mode = "create"
            }
            entry.lastError = error
            entry.lastErrorAt = date
            let ttl = max(1, Int((entry.expiresAt.timeIntervalSince(date)) * 1000))
            let reply = try await redis.evalScript(
                Self.writeScript, keys: [RedisArgument(key), RedisArgument(key + ":version")],
                args: [RedisArgument(String(entry.version)), RedisArgument(entry.json.encoded()), RedisArgument(ttl), RedisArgument(mode)])
            if reply.int == 1 { return }
            // Another writer got in between: read again and annotate what is there now.
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// KEYS: value, version. ARGV: version, JSON, ttl ms, mode. `replace` writes when the version
    /// is newer than (or equal to) the stored one; `annotate` only over that same version;
    /// `create` only when nothing is there. 1 when written.
    static let writeScript = RedisScript(source: """
        local stored = tonumber(redis.call('GET', KEYS[2]) or '-1')
        local v = tonumber(ARGV[1])
        local exists = redis.call('EXISTS', KEYS[1]) == 1
        if ARGV[4] == 'replace' then
          if exists and stored > v then return 0 end
        elseif ARGV[4] == 'annotate' then
          if not exists or stored ~= v then return 0 end
        else
          if exists then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
        return 1
        """)
}

/// One cached output, as stored (JSON, snake_case) at `sluice:cache:{name}:{hash}`.
public struct CachedOutput: Sendable, Equatable {
    public var query: String
    /// The normalised params (canonical text per parameter).
    public var params: JSONValue
    /// When the computation started, in microseconds since 1970: newer versions win.
    public var version: Int64
    /// When the rows were computed (nil for an entry that only records a failure).
    public var computedAt: Date?
    /// After this, readers treat the output as stale and enqueue a refresh.
    public var staleAfter: Date
    /// When Redis drops the key.
    public var expiresAt: Date
    /// An array of objects, one per row, keyed by column name (null when never computed).
    public var rows: JSONValue
    public var rowCount: Int
    public var durationMS: Double
    public var jobID: String
    /// Why the last refresh failed (its rows, if any, are the last good ones).
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(query: String, params: JSONValue, version: Int64, computedAt: Date?, staleAfter: Date, expiresAt: Date,
                rows: JSONValue, rowCount: Int, durationMS: Double, jobID: String, lastError: String? = nil, lastErrorAt: Date? = nil) {
        self.query = query
        self.params = params
        self.version = version
        self.computedAt = computedAt
        self.staleAfter = staleAfter
        self.expiresAt = expiresAt
        self.rows = rows
        self.rowCount = rowCount
        self.durationMS = durationMS
        self.jobID = jobID
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }

    public func isStale(at now: Date = Date()) -> Bool { computedAt == nil || now >= staleAfter }

    static func time(_ d: Date) -> JSONValue { .string(d.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))) }
    static func parseTime(_ v: JSONValue?) -> Date? { v?.stringValue.flatMap(QueryParameters.parseTimestamp) }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "query": .string(query), "params": params, "version": .int(version),
            "computed_at": computedAt.map(Self.time) ?? .null, "stale_after": Self.time(staleAfter),
            "expires_at": Self.time(expiresAt), "rows": rows, "row_count": .int(Int64(rowCount)),
            "duration_ms": .double(durationMS), "job_id": .string(jobID),
        ]
        o["last_error"] = lastError.map { .string($0) } ?? .null
        o["last_error_at"] = lastErrorAt.map(Self.time) ?? .null
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard case .object(let o) = json, let version = o["version"]?.intValue,
            let staleAfter = Self.parseTime(o["stale_after"]), let expiresAt = Self.parseTime(o["expires_at"])
        else { return nil }
        self.query = o["query"]?.stringValue ?? ""
        self.params = o["params"] ?? .object([:])
        self.version = version
        self.computedAt = Self.parseTime(o["computed_at"])
        self.staleAfter = staleAfter
        self.expiresAt = expiresAt
        self.rows = o["rows"] ?? .null
        self.rowCount = Int(o["row_count"]?.intValue ?? 0)
        switch o["duration_ms"] {
        case .double(let d)?: self.durationMS = d
        case .int(let i)?: self.durationMS = Double(i)
        default: self.durationMS = 0
        }
        self.jobID = o["job_id"]?.stringValue ?? ""
        self.lastError = o["last_error"]?.stringValue
        self.lastErrorAt = Self.parseTime(o["last_error_at"])
    }
}
