// HealthChecks+Catalog: the reports on what the catalog declares rather than on the server's
// statistics: `partitions` (each partitioned table's children, how far ahead they reach, the
// DEFAULT partition's rows, the next retention) and `matviews` (each view's age against its
// schedules). Same contract as HealthChecks.swift: statistics and catalog views only, names
// quoted from the server's own catalog.

import Foundation
import Postgres
import SluiceCatalog
import SluiceCore

extension HealthChecks {
    static func partitions(_ c: PostgresConnection, _ catalog: Catalog, _ target: String, _ out: inout HealthReportOutput) async throws {
        for table in catalog.partitionedTables where table.applies(to: target) {
            let children = try await rows(c, """
                SELECT format('%I.%I', n.nspname, c.relname) AS partition, c.relname::text AS name, n.nspname::text AS schema,
                       pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default,
                       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz > now() AS ahead
                FROM pg_inherits i
                JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE i.inhparent = to_regclass($1)
                """, [.text(table.table.quoted)])
            let name = table.table.description
            guard !children.isEmpty else {
                out.rows.append(["table": .string(name), "exists": false])
                continue
            }
            let ahead = children.filter { $0["ahead"] == .bool(true) }.count
            var defaultRows: Int64 = 0
            var defaultName: JSONValue = .null
            if let d = children.first(where: { $0["is_default"] == .bool(true) }), let qualified = d["partition"]?.stringValue {
                defaultName = .string(qualified)
                // `qualified` was quoted by the server (format %I) from pg_class, not taken from a message.
                defaultRows = try await c.query("SELECT count(*) FROM (SELECT 1 FROM \(qualified) LIMIT 100001) s")[0].decode(0, as: Int64.self)
            }
            // The next retention action: the oldest attached partition in the catalog's naming
            // leaves retention once its whole range is older than `retention` (PartitionsJob's rule).
            let oldest = children.filter { $0["schema"]?.stringValue == table.table.schema.rawValue }
                .compactMap { child in child["name"]?.stringValue.flatMap { PartitionPeriod.parse(name: $0, table: table) } }
                .min { $0.start < $1.start }
            var row: [String: JSONValue] = [
                "table": .string(name), "partitions": .int(Int64(children.count)), "ahead": .int(Int64(ahead)),
                "premake": .int(Int64(table.premake)), "interval": .string(table.interval.rawValue), "default_partition": defaultName,
                "default_rows": .int(defaultRows), "oldest_partition": oldest.map { .string($0.name.rawValue) } ?? .null,
                "retention": table.retention.map { .string($0.description) } ?? .null,
                "retention_mode": .string(table.retentionMode.rawValue),
            ]
            if let retention = table.retention, let oldest {
                let due = PartitionsJob.retentionDue(end: oldest.end, retention: retention)
                row["next_retention_at"] = .string(Timestamp.format(due))
            }
            out.rows.append(.object(row))
            if ahead < table.premake {
                out.findings.append(HealthFinding(
                    key: "partitions_ahead:\(name)", report: .partitions, metric: "partitions_ahead", subject: name,
                    value: Double(ahead), threshold: Double(table.premake),
                    message: "\(name) has \(ahead) partition(s) ahead; the catalog asks for \(table.premake) (run maintenance.partitions)"))
            }
            if defaultRows > 0 {
                out.findings.append(HealthFinding(
                    key: "partition_default_rows:\(name)", report: .partitions, metric: "default_rows", subject: name,
                    value: Double(defaultRows), threshold: 0,
                    message: "\(defaultRows == 100_001 ? "more than 100000" : String(defaultRows)) row(s) of \(name) are in its DEFAULT partition; a month holding rows there can no longer be created",
                    evidence: ["default_partition": defaultName]))
            }
        }
        out.summary = ["tables": .int(Int64(out.rows.count))]
    }

    static func matviews(_ c: PostgresConnection, _ catalog: Catalog, _ target: String, _ t: HealthThresholds,
                         _ out: inout HealthReportOutput) async throws {
        let limit = seconds(t.matviewAge)
        for view in catalog.materializedViews where view.applies(to: target) {
            let found = try await rows(c, """
                SELECT m.ispopulated AS populated, greatest(s.last_analyze, s.last_autoanalyze) AS analyzed_at,
                       extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze))::float8 AS age_s,
                       pg_relation_size(to_regclass($3)) AS bytes
                FROM pg_matviews m
                LEFT JOIN pg_stat_user_tables s ON s.schemaname = m.schemaname AND s.relname = m.matviewname
                WHERE m.schemaname = $1 AND m.matviewname = $2
                """, [.text(view.view.schema.rawValue), .text(view.view.name.rawValue), .text(view.view.quoted)])
            let name = view.view.description
            guard let row = found.first, case .object(var o) = row else {
                out.rows.append(["view": .string(name), "exists": false])
                continue
            }
            o["view"] = .string(name)
            out.rows.append(.object(o))
            let age = number(o["age_s"])
            if o["populated"] == .bool(false) || age == nil || age! > limit {
                out.findings.append(HealthFinding(
                    key: "matview_stale:\(name)", report: .matviews, metric: "age_s", subject: name, value: age ?? -1,
                    threshold: limit,
                    message: o["populated"] == .bool(false) ? "\(name) is not populated"
                        : age == nil ? "\(name) has no refresh on record" : "\(name) was last refreshed \(Int(age!)) s ago",
                    evidence: ["populated": o["populated"] ?? .null]))
            }
        }
        out.summary = ["threshold_s": .double(limit),
                       "method": "age of the view's last ANALYZE, which refresh.matview runs after every refresh"]
    }
}
