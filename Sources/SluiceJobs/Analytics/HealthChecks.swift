// HealthChecks: the SQL of each health report and how its rows become findings against the
// thresholds. Sessions (long queries, idle in transaction, locks) are the target database's;
// connections and wraparound are the server's. Reads statistics views only; every statement is fixed text, and the few names it
// puts in SQL (a DEFAULT partition to count) come quoted from the server's own catalog.
//
// Estimates say how they were made: table bloat compares relpages with the pages reltuples ×
// (sum of pg_stats.avg_width + 28 bytes of tuple header and line pointer) need at the table's
// fillfactor; btree index bloat is IndexBloatEstimate (the planner's estimate too).
// Confidence is `low` without statistics for every column, `medium` when more than 20 % of the
// rows changed since the last ANALYZE.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore

public enum HealthChecks {
    /// Runs one report (not `.all`) on `connection`.
    public static func run(
        _ report: HealthReport, on c: PostgresConnection, catalog: Catalog, target: String
    ) async throws -> HealthReportOutput {
        let t = catalog.health.thresholds(for: target)
        let started = ContinuousClock.now
        var out = HealthReportOutput(report: report, target: target, generatedAt: Date(), durationMS: 0, rows: [], summary: [:], findings: [])
        switch report {
        case .all: break
        case .slowQueries: try await slowQueries(c, t, &out)
        case .indexUsage: try await indexUsage(c, &out)
        case .bloat: try await bloat(c, t, &out)
        case .connections: try await connections(c, t, &out)
        case .cacheHitRatio: try await cacheHitRatio(c, t, &out)
        case .locks: try await locks(c, t, &out)
        case .longQueries: try await longQueries(c, t, &out)
        case .idleInTransaction: try await idleInTransaction(c, t, &out)
        case .wraparound: try await wraparound(c, t, &out)
        case .sequences: try await sequences(c, t, &out)
        case .partitions: try await partitions(c, catalog, target, &out)
        case .matviews: try await matviews(c, catalog, target, t, &out)
        }
        let d = ContinuousClock.now - started
        out.durationMS = (Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15).rounded()
        return out
    }

    static func rows(_ c: PostgresConnection, _ sql: String, _ binds: [PostgresValue] = []) async throws -> [JSONValue] {
        let result = try await c.query(sql, binds)
        return try result.map { try RowJSON.object($0, columns: result.columns) }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func number(_ v: JSONValue?) -> Double? {
        switch v {
        case .int(let i)?: return Double(i)
        case .double(let d)?: return d
        case .string(let s)?: return Double(s)
        default: return nil
        }
    }

    static func text(_ v: JSONValue?) -> String { v?.stringValue ?? (v.map { $0.jsonString } ?? "") }

    // MARK: Statements

    static func slowQueries(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        let available = try await c.query("SELECT to_regclass('pg_stat_statements') IS NOT NULL")[0].decode(0, as: Bool.self)
        out.summary["available"] = .bool(available)
        guard available else {
            out.summary["reason"] = "pg_stat_statements is not installed in this database (shared_preload_libraries, then CREATE EXTENSION pg_stat_statements)"
            return
        }
        out.rows = try await rows(c, """
            SELECT s.queryid::text AS queryid, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 500) AS query, s.calls,
                   round(s.total_exec_time::numeric, 3) AS total_ms, round(s.mean_exec_time::numeric, 3) AS mean_ms,
                   round(s.max_exec_time::numeric, 3) AS max_ms, s.rows,
                   round(100.0 * s.shared_blks_hit / nullif(s.shared_blks_hit + s.shared_blks_read, 0), 2) AS hit_percent
            FROM pg_stat_statements s
            WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY s.mean_exec_time DESC
            LIMIT 25
            """)
        let limit = seconds(t.slowQuery) * 1000
        out.summary["threshold_ms"] = .double(limit)
        for row in out.rows {
            guard let mean = number(row["mean_ms"]), mean > limit else { continue }
            let id = text(row["queryid"])
            out.findings.append(HealthFinding(
                key: "slow_query:\(id)", report: .slowQueries, metric: "mean_exec_time_ms", subject: "queryid \(id)",
                value: mean, threshold: limit, message: "a statement takes \(mean) ms on average (threshold \(limit) ms)",
                evidence: ["query": row["query"] ?? .null, "calls": row["calls"] ?? .null]))
        }
    }

    static func indexUsage(_ c: PostgresConnection, _ out: inout HealthReportOutput) async throws {
        let all = try await rows(c, """
            SELECT format('%I.%I', n.nspname, x.relname) AS index, format('%I.%I', n.nspname, t.relname) AS "table",
                   pg_relation_size(x.oid) AS bytes, coalesce(s.idx_scan, 0) AS scans, i.indisunique AS "unique",
                   i.indisprimary AS "primary", i.indisvalid AS valid,
                   (SELECT to_jsonb(array_agg(d.relname::text ORDER BY d.relname)) FROM pg_index j JOIN pg_class d ON d.oid = j.indexrelid
                     WHERE j.indrelid = i.indrelid AND j.indexrelid <> i.indexrelid AND j.indkey::text = i.indkey::text
                       AND j.indclass::text = i.indclass::text
                       AND coalesce(pg_get_expr(j.indexprs, j.indrelid), '') = coalesce(pg_get_expr(i.indexprs, i.indrelid), '')
                       AND coalesce(pg_get_expr(j.indpred, j.indrelid), '') = coalesce(pg_get_expr(i.indpred, i.indrelid), '')) AS duplicates
            FROM pg_index i
            JOIN pg_class x ON x.oid = i.indexrelid
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
              AND x.relkind = 'i'
            ORDER BY pg_relation_size(x.oid) DESC
            """)
        var unused = 0, duplicate = 0, invalid = 0
        for row in all {
            var problems: [JSONValue] = []
            if row["valid"] == .bool(false) {
                problems.append("invalid")
                invalid += 1
                let name = text(row["index"])
                out.findings.append(HealthFinding(
                    key: "invalid_index:\(name)", report: .indexUsage, metric: "invalid", subject: name, value: 1, threshold: 0,
                    message: "index \(name) is invalid (a failed CREATE INDEX CONCURRENTLY or REINDEX); reindex or drop it",
                    evidence: ["table": row["table"] ?? .null]))
            }
            if number(row["scans"]) == 0, row["unique"] == .bool(false), row["primary"] == .bool(false) {
                problems.append("unused")
                unused += 1
            }
            if case .array(let d)? = row["duplicates"], !d.isEmpty {
                problems.append("duplicate")
                duplicate += 1
            }
            guard !problems.isEmpty, case .object(var o) = row else { continue }
            o["problems"] = .array(problems)
            out.rows.append(.object(o))
        }
        out.summary = ["indexes": .int(Int64(all.count)), "unused": .int(Int64(unused)), "duplicate": .int(Int64(duplicate)),
                       "invalid": .int(Int64(invalid)), "unused_means": "no index scan since statistics were last reset"]
    }

    static func bloat(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        let tables = try await rows(c, """
            WITH t AS (
                SELECT c.oid, n.nspname, c.relname, c.relpages, c.reltuples, current_setting('block_size')::int AS bs,
                       coalesce((regexp_match(array_to_string(c.reloptions, ','), 'fillfactor=(\\d+)'))[1]::int, 100) AS ff,
                       s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze,
                       greatest(s.last_analyze, s.last_autoanalyze) AS analyzed_at,
                       (SELECT sum(st.avg_width) FROM pg_stats st WHERE st.schemaname = n.nspname AND st.tablename = c.relname) AS width,
                       (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
                       (SELECT count(*) FROM pg_stats st WHERE st.schemaname = n.nspname AND st.tablename = c.relname) AS columns_with_stats
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_stat_user_tables s ON s.relid = c.oid
                WHERE c.relkind IN ('r', 'm')
            )
            SELECT format('%I.%I', nspname, relname) AS "table", relpages::bigint AS pages, pg_relation_size(oid) AS bytes,
                   n_live_tup AS live_tuples, n_dead_tup AS dead_tuples,
                   round(n_dead_tup::numeric / nullif(n_live_tup + n_dead_tup, 0), 4) AS dead_tuple_ratio,
                   CASE WHEN relpages > 0 AND reltuples > 0 AND width IS NOT NULL
                        THEN greatest(0, round((1 - ceil(reltuples * (width + 28) / (bs * ff / 100.0 - 24)) / relpages)::numeric, 4)) END
                        AS estimated_bloat_ratio,
                   analyzed_at, n_mod_since_analyze AS modified_since_analyze,
                   CASE WHEN analyzed_at IS NULL OR width IS NULL OR columns_with_stats < columns THEN 'low'
                        WHEN n_mod_since_analyze > 0.2 * greatest(n_live_tup, 1) THEN 'medium' ELSE 'high' END AS confidence
            FROM t
            ORDER BY n_dead_tup DESC, relpages DESC
            LIMIT 50
            """)
        let indexes = try await rows(c, """
            WITH x AS (
                SELECT i.indexrelid, n.nspname, ic.relname AS index, tc.relname AS tbl, ic.relpages, ic.reltuples,
                       current_setting('block_size')::int AS bs,
                       (SELECT sum(st.avg_width) FROM pg_attribute a
                          JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = tc.relname AND st.attname = a.attname
                         WHERE a.attrelid = ic.oid AND a.attnum > 0) AS width,
                       (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = ic.oid AND a.attnum > 0) AS columns,
                       (SELECT count(*) FROM pg_attribute a
                          JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = tc.relname AND st.attname = a.attname
                         WHERE a.attrelid = ic.oid AND a.attnum > 0) AS columns_with_stats
                FROM pg_index i
                JOIN pg_class ic ON ic.oid = i.indexrelid
                JOIN pg_class tc ON tc.oid = i.indrelid
                JOIN pg_namespace n ON n.oid = tc.relnamespace
                JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                  AND ic.relkind = 'i' AND ic.relpages > 1
            )
            SELECT format('%I.%I', nspname, index) AS index, format('%I.%I', nspname, tbl) AS "table", relpages::bigint AS pages,
                   round((\(IndexBloatEstimate.ratio(reltuples: "reltuples", width: "width", blockSize: "bs", oid: "indexrelid")))::numeric, 4)
                        AS estimated_bloat_ratio,
                   CASE WHEN width IS NULL OR columns_with_stats < columns THEN 'low' ELSE 'high' END AS confidence
            FROM x
            ORDER BY relpages DESC
            LIMIT 50
            """)
        out.rows = tables.map { row in
            guard case .object(var o) = row else { return row }
            o["kind"] = "table"
            return .object(o)
        } + indexes.map { row in
            guard case .object(var o) = row else { return row }
            o["kind"] = "index"
            return .object(o)
        }
        out.summary = [
            "table_method": "estimate: relpages against ceil(reltuples × (Σ pg_stats.avg_width + 28) ÷ (block_size × fillfactor − 24))",
            "index_method": .string(IndexBloatEstimate.method),
            "dead_tuple_method": "pg_stat_user_tables n_dead_tup ÷ (n_live_tup + n_dead_tup)",
            "dead_tuple_threshold": .double(t.deadTupleRatio), "min_dead_tuples": .int(Int64(t.minDeadTuples)),
        ]
        for row in tables {
            guard let ratio = number(row["dead_tuple_ratio"]), let dead = number(row["dead_tuples"]),
                ratio > t.deadTupleRatio, dead >= Double(t.minDeadTuples)
            else { continue }
            let name = text(row["table"])
            out.findings.append(HealthFinding(
                key: "dead_tuples:\(name)", report: .bloat, metric: "dead_tuple_ratio", subject: name, value: ratio,
                threshold: t.deadTupleRatio,
                message: "\(name) has \(Int(dead)) dead tuples, \(Int((ratio * 100).rounded())) % of its rows (threshold \(Int(t.deadTupleRatio * 100)) %)",
                evidence: ["dead_tuples": row["dead_tuples"] ?? .null, "live_tuples": row["live_tuples"] ?? .null,
                           "confidence": row["confidence"] ?? .null]))
        }
    }

    static func connections(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        out.rows = try await rows(c, """
            SELECT coalesce(state, 'unknown') AS state, count(*) AS connections,
                   max(extract(epoch FROM now() - state_change))::float8 AS longest_in_state_s
            FROM pg_stat_activity WHERE backend_type = 'client backend'
            GROUP BY 1 ORDER BY 2 DESC
            """)
        let r = try await c.query("""
            SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int,
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int
            """)[0]
        let max = try r.decode(0, as: Int.self), reserved = try r.decode(1, as: Int.self), used = try r.decode(2, as: Int.self)
        let usable = Swift.max(1, max - reserved)
        let utilisation = (Double(used) / Double(usable) * 10_000).rounded() / 10_000
        out.summary = ["max_connections": .int(Int64(max)), "superuser_reserved": .int(Int64(reserved)),
                       "connections": .int(Int64(used)), "utilisation": .double(utilisation),
                       "threshold": .double(t.connectionUtilisation)]
        if utilisation > t.connectionUtilisation {
            out.findings.append(HealthFinding(
                key: "connections", report: .connections, metric: "connection_utilisation", subject: "max_connections",
                value: utilisation, threshold: t.connectionUtilisation,
                message: "\(used) of \(usable) usable connections in use (\(Int(utilisation * 100)) %, threshold \(Int(t.connectionUtilisation * 100)) %)",
                evidence: ["by_state": .array(out.rows)]))
        }
    }

    static func cacheHitRatio(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        let db = try await c.query("""
            SELECT blks_hit, blks_read, round(blks_hit::numeric / nullif(blks_hit + blks_read, 0), 4)::float8
            FROM pg_stat_database WHERE datname = current_database()
            """)[0]
        let hits = try db.decode(0, as: Int.self), reads = try db.decode(1, as: Int.self)
        let ratio = try db.decode(2, as: Double?.self)
        out.rows = try await rows(c, """
            SELECT format('%I.%I', schemaname, relname) AS "table", heap_blks_hit, heap_blks_read,
                   round(heap_blks_hit::numeric / nullif(heap_blks_hit + heap_blks_read, 0), 4) AS hit_ratio
            FROM pg_statio_user_tables
            WHERE heap_blks_read > 0
            ORDER BY heap_blks_read DESC LIMIT 20
            """)
        out.summary = ["blocks_hit": .int(Int64(hits)), "blocks_read": .int(Int64(reads)),
                       "hit_ratio": ratio.map { .double($0) } ?? .null, "threshold": .double(t.cacheHitRatio),
                       "method": "pg_stat_database blks_hit ÷ (blks_hit + blks_read) since statistics were last reset; at least 10000 block accesses before it alerts"]
        if let ratio, hits + reads >= 10_000, ratio < t.cacheHitRatio {
            out.findings.append(HealthFinding(
                key: "cache_hit_ratio", report: .cacheHitRatio, metric: "cache_hit_ratio", subject: "database",
                value: ratio, threshold: t.cacheHitRatio,
                message: "buffer cache hit ratio \(ratio) is below \(t.cacheHitRatio)",
                evidence: ["blocks_read": .int(Int64(reads)), "blocks_hit": .int(Int64(hits))]))
        }
    }

    static func locks(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        out.rows = try await rows(c, """
            WITH blocked AS (
                SELECT a.pid, pg_blocking_pids(a.pid) AS blocked_by FROM pg_stat_activity a
                WHERE cardinality(pg_blocking_pids(a.pid)) > 0 AND a.datname = current_database()
            )
            SELECT a.pid, CASE WHEN b.pid IS NOT NULL THEN 'blocked' ELSE 'blocking' END AS role,
                   to_jsonb(b.blocked_by) AS blocked_by, a.state, a.wait_event_type, a.wait_event,
                   extract(epoch FROM now() - coalesce(a.query_start, a.xact_start))::float8 AS waiting_s,
                   left(a.query, 500) AS query, a.usename::text AS "user", a.application_name
            FROM pg_stat_activity a
            LEFT JOIN blocked b ON b.pid = a.pid
            WHERE b.pid IS NOT NULL OR a.pid IN (SELECT unnest(blocked_by) FROM blocked)
            ORDER BY role DESC, waiting_s DESC
            """)
        let limit = seconds(t.lockWait)
        out.summary = ["blocked": .int(Int64(out.rows.filter { $0["role"] == "blocked" }.count)), "threshold_s": .double(limit)]
        for row in out.rows where row["role"] == "blocked" {
            guard let waiting = number(row["waiting_s"]), waiting > limit else { continue }
            let pid = text(row["pid"])
            out.findings.append(HealthFinding(
                key: "lock_wait:\(pid)", report: .locks, metric: "lock_wait_s", subject: "pid \(pid)", value: waiting, threshold: limit,
                message: "session \(pid) has waited \(Int(waiting)) s for a lock held by \(text(row["blocked_by"]))",
                evidence: ["query": row["query"] ?? .null, "blocked_by": row["blocked_by"] ?? .null]))
        }
    }

    static func longQueries(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        let limit = seconds(t.longQuery)
        out.rows = try await rows(c, """
            SELECT pid, usename::text AS "user", application_name, datname::text AS database,
                   extract(epoch FROM now() - query_start)::float8 AS running_s, query_start,
                   left(query, 500) AS query, wait_event_type, wait_event
            FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid()
              AND datname = current_database()
              AND now() - query_start > make_interval(secs => $1::float8)
            ORDER BY running_s DESC LIMIT 50
            """, [.double(limit)])
        out.summary = ["threshold_s": .double(limit)]
        for row in out.rows {
            let pid = text(row["pid"]), running = number(row["running_s"]) ?? 0
            out.findings.append(HealthFinding(
                key: "long_query:\(pid):\(text(row["query_start"]))", report: .longQueries, metric: "running_s",
                subject: "pid \(pid)", value: running, threshold: limit,
                message: "a statement of session \(pid) has run \(Int(running)) s (threshold \(Int(limit)) s)",
                evidence: ["query": row["query"] ?? .null, "database": row["database"] ?? .null, "user": row["user"] ?? .null]))
        }
    }

    static func idleInTransaction(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        let limit = seconds(t.idleInTransaction)
        out.rows = try await rows(c, """
            SELECT pid, usename::text AS "user", application_name, datname::text AS database, state,
                   extract(epoch FROM now() - state_change)::float8 AS idle_s, xact_start,
                   left(query, 500) AS last_query
            FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND state IN ('idle in transaction', 'idle in transaction (aborted)')
              AND datname = current_database()
              AND now() - state_change > make_interval(secs => $1::float8)
            ORDER BY idle_s DESC LIMIT 50
            """, [.double(limit)])
        out.summary = ["threshold_s": .double(limit)]
        for row in out.rows {
            let pid = text(row["pid"]), idle = number(row["idle_s"]) ?? 0
            out.findings.append(HealthFinding(
                key: "idle_in_transaction:\(pid):\(text(row["xact_start"]))", report: .idleInTransaction, metric: "idle_s",
                subject: "pid \(pid)", value: idle, threshold: limit,
                message: "session \(pid) has been idle in a transaction for \(Int(idle)) s (threshold \(Int(limit)) s); it holds its locks and snapshot",
                evidence: ["last_query": row["last_query"] ?? .null, "user": row["user"] ?? .null]))
        }
    }

    static func wraparound(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        let databases = try await rows(c, """
            SELECT datname::text AS database, age(datfrozenxid) AS xid_age,
                   round(age(datfrozenxid)::numeric / 2147483647, 6) AS ratio, mxid_age(datminmxid) AS multixact_age
            FROM pg_database ORDER BY 2 DESC
            """)
        let tables = try await rows(c, """
            SELECT format('%I.%I', n.nspname, c.relname) AS "table", age(c.relfrozenxid) AS xid_age,
                   round(age(c.relfrozenxid)::numeric / 2147483647, 6) AS ratio
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid
            ORDER BY age(c.relfrozenxid) DESC LIMIT 10
            """)
        out.rows = databases + tables
        out.summary = ["threshold": .double(t.wraparoundRatio), "limit": 2_147_483_647]
        for row in databases {
            guard let ratio = number(row["ratio"]), ratio > t.wraparoundRatio else { continue }
            let name = text(row["database"])
            out.findings.append(HealthFinding(
                key: "wraparound:\(name)", report: .wraparound, metric: "xid_age_ratio", subject: name, value: ratio,
                threshold: t.wraparoundRatio, message: "database \(name) is \(Int(ratio * 100)) % of the way to transaction-ID wraparound",
                evidence: ["xid_age": row["xid_age"] ?? .null]))
        }
    }

    static func sequences(_ c: PostgresConnection, _ t: HealthThresholds, _ out: inout HealthReportOutput) async throws {
        out.rows = try await rows(c, """
            SELECT format('%I.%I', schemaname, sequencename) AS sequence, data_type::text AS type, last_value, max_value,
                   round(last_value::numeric / max_value, 6) AS used_ratio
            FROM pg_sequences
            WHERE last_value IS NOT NULL AND increment_by > 0
            ORDER BY last_value::numeric / max_value DESC LIMIT 50
            """)
        out.summary = ["threshold": .double(t.sequenceRatio)]
        for row in out.rows {
            guard let ratio = number(row["used_ratio"]), ratio > t.sequenceRatio else { continue }
            let name = text(row["sequence"])
            out.findings.append(HealthFinding(
                key: "sequence:\(name)", report: .sequences, metric: "used_ratio", subject: name, value: ratio,
                threshold: t.sequenceRatio, message: "sequence \(name) has used \(Int(ratio * 100)) % of its range",
                evidence: ["last_value": row["last_value"] ?? .null, "max_value": row["max_value"] ?? .null]))
        }
    }

    // The catalog's declared objects (partitions, materialized views): HealthChecks+Catalog.swift.
}
