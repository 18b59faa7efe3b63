// CatalogLiveCheck+Database: the system-catalog queries the live check asks, one small typed
// answer each. Names travel as bound text parameters and oids as text cast to `oid`, so nothing
// from the catalog is ever spliced into SQL here.

import Foundation
import Postgres
import SluiceCatalog

extension CatalogLiveCheck {
    struct Database {
        struct Relation {
            /// pg_class.oid as text, bound back as `$1::oid`.
            var oid: String
            /// pg_class.relkind.
            var kind: String
            var populated: Bool
            /// In pg_catalog, pg_toast, another pg_* schema or information_schema, or a built-in oid.
            var isSystem: Bool
        }

        struct PartitionKey {
            /// pg_partitioned_table.partstrat: r, l or h.
            var strategy: String
            var columns: Int
            /// The key's first column, empty for an expression.
            var column: String
            var typeName: String
            var baseTypeOID: Int
            /// `RANGE (created_at)`.
            var definition: String
        }

        struct Partition {
            var schema: String
            var name: String
            var isDefault: Bool
            /// `FOR VALUES FROM (…) TO (…)`.
            var bound: String
            /// The range when it is a single-column FROM/TO range of dates or timestamps.
            var lower: Date?
            var upper: Date?
        }

        struct UniqueIndex {
            var name: String
            var valid: Bool
            var partial: Bool
            var hasExpressions: Bool
            var columns: [String]

            var reason: String {
                var why: [String] = []
                if !valid { why.append("invalid") }
                if partial { why.append("has a WHERE clause") }
                if hasExpressions { why.append("indexes an expression") }
                return "\(name) " + (why.isEmpty ? "is usable" : why.joined(separator: ", "))
            }
        }

        struct Column {
            var typeName: String
            var baseTypeOID: Int
        }

        let connection: PostgresConnection

        func relation(_ name: QualifiedName) async throws(PostgresError) -> Relation? {
            let rows = try await connection.query("""
                SELECT c.oid::text, c.relkind::text, c.relispopulated,
                       (n.nspname LIKE 'pg\\_%' OR n.nspname = 'information_schema' OR c.oid < 16384)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = $1 AND c.relname = $2
                """, [.text(name.schema.rawValue), .text(name.name.rawValue)])
            guard let row = rows.first else { return nil }
            return Relation(oid: try row.decode(0), kind: try row.decode(1), populated: try row.decode(2), isSystem: try row.decode(3))
        }

        func schemaExists(_ schema: SQLIdentifier) async throws(PostgresError) -> Bool {
            try await connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [.text(schema.rawValue)]).count > 0
        }

        func hasExtension(_ name: String) async throws(PostgresError) -> Bool {
            try await connection.query("SELECT 1 FROM pg_extension WHERE extname = $1", [.text(name)]).count > 0
        }

        func partitionKey(oid: String) async throws(PostgresError) -> PartitionKey? {
            let rows = try await connection.query("""
                SELECT pt.partstrat::text, pt.partnatts::int, coalesce(a.attname::text, ''),
                       coalesce(format_type(a.atttypid, a.atttypmod), ''),
                       coalesce(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END, 0)::int8,
                       pg_get_partkeydef(pt.partrelid)
                FROM pg_partitioned_table pt
                LEFT JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0] AND pt.partattrs[0] > 0
                LEFT JOIN pg_type t ON t.oid = a.atttypid
                WHERE pt.partrelid = $1::oid
                """, [.text(oid)])
            guard let row = rows.first else { return nil }
            return PartitionKey(strategy: try row.decode(0), columns: try row.decode(1), column: try row.decode(2),
                                typeName: try row.decode(3), baseTypeOID: try row.decode(4), definition: try row.decode(5))
        }

        /// The partitions of a RANGE-partitioned table on a date or timestamp column. Bounds are
        /// read back through Postgres's own input functions (the session's TimeZone is UTC).
        func partitions(oid: String) async throws(PostgresError) -> [Partition] {
            let rows = try await connection.query("""
                WITH parts AS (
                    SELECT n.nspname::text AS schema, c.relname::text AS name, c.oid = pt.partdefid AS is_default,
                           pg_get_expr(c.relpartbound, c.oid) AS bound
                    FROM pg_inherits i
                    JOIN pg_class c ON c.oid = i.inhrelid
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
                    WHERE i.inhparent = $1::oid
                ), matched AS (
                    SELECT *, regexp_match(bound, '^FOR VALUES FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)$') AS m FROM parts
                )
                SELECT schema, name, is_default, bound,
                       CASE WHEN m IS NULL THEN NULL ELSE extract(epoch FROM m[1]::timestamptz)::float8 END,
                       CASE WHEN m IS NULL THEN NULL ELSE extract(epoch FROM m[2]::timestamptz)::float8 END
                FROM matched ORDER BY schema, name
                """, [.text(oid)])
            var result: [Partition] = []
            for row in rows {
                let lower: Double? = try row.decode(4)
                let upper: Double? = try row.decode(5)
                result.append(Partition(
                    schema: try row.decode(0), name: try row.decode(1), isDefault: try row.decode(2), bound: try row.decode(3),
                    lower: lower.map { Date(timeIntervalSince1970: $0) }, upper: upper.map { Date(timeIntervalSince1970: $0) }))
            }
            return result
        }

        func uniqueIndexes(oid: String) async throws(PostgresError) -> [UniqueIndex] {
            let rows = try await connection.query("""
                SELECT ic.relname::text, i.indisvalid, i.indpred IS NOT NULL, i.indexprs IS NOT NULL,
                       ARRAY(SELECT a.attname::text FROM pg_attribute a
                             WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]) AND a.attnum > 0
                             ORDER BY a.attnum)
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indrelid = $1::oid AND i.indisunique
                ORDER BY ic.relname
                """, [.text(oid)])
            var result: [UniqueIndex] = []
            for row in rows {
                result.append(UniqueIndex(name: try row.decode(0), valid: try row.decode(1), partial: try row.decode(2),
                                          hasExpressions: try row.decode(3), columns: try row.decode(4)))
            }
            return result
        }

        /// Names of the indexes of a table that back exclusion constraints.
        func exclusionIndexes(tableOID: String) async throws(PostgresError) -> [String] {
            let rows = try await connection.query("""
                SELECT ic.relname::text FROM pg_constraint con JOIN pg_class ic ON ic.oid = con.conindid
                WHERE con.conrelid = $1::oid AND con.contype = 'x' ORDER BY 1
                """, [.text(tableOID)])
            var names: [String] = []
            for row in rows { names.append(try row.decode(0)) }
            return names
        }

        func isExclusionIndex(oid: String) async throws(PostgresError) -> Bool {
            try await connection.query(
                "SELECT 1 FROM pg_constraint WHERE conindid = $1::oid AND contype = 'x'", [.text(oid)]).count > 0
        }

        /// Live columns by name.
        func columns(oid: String) async throws(PostgresError) -> [String: Column] {
            let rows = try await connection.query("""
                SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                       (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END)::int8
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
                """, [.text(oid)])
            var result: [String: Column] = [:]
            for row in rows {
                result[try row.decode(0)] = Column(typeName: try row.decode(1), baseTypeOID: try row.decode(2))
            }
            return result
        }

        /// nil when the role does not exist; otherwise whether the session user may SET ROLE to it.
        func role(_ name: String) async throws(PostgresError) -> Bool? {
            let rows = try await connection.query(
                "SELECT pg_has_role(session_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1", [.text(name)])
            guard let row = rows.first else { return nil }
            return try row.decode(0)
        }
    }
}
