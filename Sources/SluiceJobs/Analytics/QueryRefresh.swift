// QueryRefresh: the work of `analytics.query`: run a catalog query with its normalised params on
// the analytics pool and write the output to the cache, or record why it failed.
//
// Stampede-free together with the job's unique key (`analytics.query:{name}:{hash}`, at most one
// queued or running): a reader that found the output missing or stale enqueues with the version
// it saw (`if_version`, 0 for missing); when the cache already holds a newer version, a refresh
// for that reader's burst has run and the job returns without running the query. A failure (the
// statement timeout, a broken connection) leaves the last good rows readable with `last_error`.

import Foundation
import Logging
import Postgres
import Redis
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public enum QueryRefresh {
    public struct Report: Codable, Sendable, Equatable {
        public var query: String
        public var key: String
        /// `computed`, or `fresh` when an output newer than the request was already cached.
        public var outcome: String
        public var rows: Int
        public var durationMs: Double
        /// False when a newer version was already there (this output was not written).
        public var written: Bool
    }

    /// The cache key and unique key of one (query, params).
    public static func uniqueKey(query: String, params: QueryParameters) -> String {
        "analytics.query:\(query):\(QueryCache.paramsHash(params))"
    }

    public static func run(
        query: CatalogQuery, params: QueryParameters, target: String = "main", pool: PostgresPool, cache: QueryCache,
        jobID: String, ifVersion: Int64?, logger: Logger
    ) async throws -> Report {
        let key = cache.key(query: query.name.rawValue, target: target, params: params)
        if let ifVersion, let current = try await cache.read(key: key), current.computedAt != nil, current.version > ifVersion {
            return Report(query: query.name.rawValue, key: key, outcome: "fresh", rows: current.rowCount,
                          durationMs: current.durationMS, written: false)
        }
        let started = Date()
        let version = Int64(started.timeIntervalSince1970 * 1_000_000)
        let clock = ContinuousClock.now
        let rows: JSONValue
        let count: Int
        do {
            (rows, count) = try await execute(query, params: params, pool: pool)
        } catch {
            let failure = JobError.wrap(error, object: query.name.rawValue)
            let reason = failure.code == .statementTimeout
                ? "statement timeout: the query ran longer than the analytics class's statement_timeout (\(failure.message))"
                : failure.description
            do {
                try await cache.recordFailure(key: key, error: reason, at: Date(), jobID: jobID, staleAfter: query.staleAfter)
            } catch {
                logger.warning("cannot record the failure of \(query.name) in Redis: \(error)")
            }
            throw JobError(failure.code, reason, object: query.name.rawValue, sqlState: failure.sqlState,
                           transient: failure.transient)
        }
        let elapsed = ContinuousClock.now - clock
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let computed = Date()
        let output = CachedOutput(
            query: query.name.rawValue, params: params.json, version: version, computedAt: computed,
            staleAfter: computed.addingTimeInterval(QueryCache.seconds(query.staleAfter)),
            expiresAt: computed.addingTimeInterval(QueryCache.seconds(query.ttl)), rows: rows, rowCount: count,
            durationMS: (ms * 1000).rounded() / 1000, jobID: jobID)
        // Redis errors propagate: the job is retried and writes the output when Redis is back.
        let written = try await cache.write(output, key: key, ttl: query.ttl)
        return Report(query: query.name.rawValue, key: key, outcome: "computed", rows: count, durationMs: output.durationMS,
                      written: written)
    }

    /// Runs the query and returns its rows as JSON objects.
    public static func execute(_ query: CatalogQuery, params: QueryParameters, pool: PostgresPool) async throws -> (JSONValue, Int) {
        try await pool.withConnection { c in try await execute(query, params: params, on: c) }
    }

    /// Runs the query on `c` and returns its rows as JSON objects.
    public static func execute(_ query: CatalogQuery, params: QueryParameters, on c: PostgresConnection) async throws -> (JSONValue, Int) {
        let binds = zip(query.params, params.values).map { declared, given -> PostgresValue in
            guard let text = given.value else { return .null }
            switch declared.type {
            case .integer: return Int(text).map { .int($0) } ?? .text(text)
            case .boolean: return .bool(text == "true")
            case .uuid: return UUID(uuidString: text).map { .uuid($0) } ?? .text(text)
            case .timestamp: return QueryParameters.parseTimestamp(text).map { .timestamp($0) } ?? .text(text)
            case .text, .date: return .text(text)
            }
        }
        let result = try await c.query(query.sql, binds)
        guard result.count <= query.maxRows else {
            throw JobError(.unsupported, "query \(query.name) returned \(result.count) rows, more than its max_rows \(query.maxRows)",
                           object: query.name.rawValue)
        }
        return (.array(try result.map { try RowJSON.object($0, columns: result.columns) }), result.count)
    }
}

/// Postgres rows as JSON: integers and floats as numbers, numeric as a number, booleans, json and
/// jsonb as JSON, everything else (dates, uuids, text, arrays) as its text.
public enum RowJSON {
    public static func object(_ row: PostgresRow, columns: [String]) throws -> JSONValue {
        var o: [String: JSONValue] = [:]
        for (i, name) in columns.enumerated() { o[name] = try value(row.cell(i)) }
        return .object(o)
    }

    public static func value(_ cell: PostgresCell) -> JSONValue {
        if cell.isNull { return .null }
        let text = cell.string
        switch cell.typeOID {
        case PostgresTypeOID.int2, PostgresTypeOID.int4, PostgresTypeOID.int8, PostgresTypeOID.oid:
            return Int64(text).map { .int($0) } ?? .string(text)
        case PostgresTypeOID.float4, PostgresTypeOID.float8, PostgresTypeOID.numeric:
            if let i = Int64(text) { return .int(i) }
            return Double(text).flatMap { $0.isFinite ? .double($0) : nil } ?? .string(text)
        case PostgresTypeOID.bool: return .bool(text == "t")
        case PostgresTypeOID.json, PostgresTypeOID.jsonb: return (try? JSONValue.parse(text)) ?? .string(text)
        case PostgresTypeOID.textArray, PostgresTypeOID.varcharArray:
            return textArray(text).map { .array($0.map { $0.map(JSONValue.string) ?? .null }) } ?? .string(text)
        case PostgresTypeOID.timestamptz:
            // Postgres text `2026-01-31 10:00:00.123+00` → ISO 8601.
            return .string(isoTimestamp(text))
        default: return .string(text)
        }
    }

    /// A one-dimensional text array literal (`{a,"b c",NULL}`) as strings; nil when it is not one.
    static func textArray(_ text: String) -> [String?]? {
        let b = Array(text.utf8)
        guard b.first == UInt8(ascii: "{"), b.last == UInt8(ascii: "}") else { return nil }
        var out: [String?] = []
        var i = 1
        if b.count == 2 { return [] }
        while i < b.count - 1 {
            var item: [UInt8] = []
            var quoted = false
            if b[i] == UInt8(ascii: "\"") {
                quoted = true
                i += 1
                while i < b.count - 1 && b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") { i += 1 }
                    item.append(b[i])
                    i += 1
                }
                i += 1
            } else {
                while i < b.count - 1 && b[i] != UInt8(ascii: ",") {
                    if b[i] == UInt8(ascii: "{") { return nil }  // nested: not one-dimensional
                    item.append(b[i])
                    i += 1
                }
            }
            let s = String(decoding: item, as: UTF8.self)
            out.append(!quoted && s == "NULL" ? nil : s)
            guard i >= b.count - 1 || b[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return out
    }

    static func isoTimestamp(_ text: String) -> String {
        var s = text.replacingOccurrences(of: " ", with: "T")
        if s.hasSuffix("+00") { s = String(s.dropLast(3)) + "Z" }
        return s
    }
}
