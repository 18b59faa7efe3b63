// CatalogObjects: shared lookups of catalog-declared objects in the live database.
//
// Names are bound as parameters (`nspname = $1 AND relname = $2`), never spliced, and come
// from the catalog; a declared name that the database lacks becomes `.missingObject`.

import Postgres
import SluiceCatalog
import SluiceRuntime

enum CatalogObjects {
    /// The object's `relkind` (`r` table, `p` partitioned table, `m` materialized view, `i` / `I` index).
    struct Relation: Sendable {
        var oid: Int
        var kind: String
        var populated: Bool
    }

    /// Looks `name` up; nil when it does not exist.
    static func relation(_ name: QualifiedName, on connection: PostgresConnection) async throws -> Relation? {
        let rows = try await connection.query(
            """
            SELECT c.oid::bigint, c.relkind::text, c.relispopulated FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
            """, [.text(name.schema.rawValue), .text(name.name.rawValue)])
        guard let row = rows.first else { return nil }
        return Relation(oid: try row.decode(0), kind: try row.decode(1), populated: try row.decode(2))
    }

    /// Like `relation`, but throws `.missingObject` (or `.unsupported` for the wrong kind).
    static func require(
        _ name: QualifiedName, kinds: Set<String>, what: String, on connection: PostgresConnection
    ) async throws -> Relation {
        guard let relation = try await relation(name, on: connection) else {
            throw JobError(.missingObject, "the catalog declares \(what) \(name) but the database has none", object: "\(name)")
        }
        guard kinds.contains(relation.kind) else {
            throw JobError(.unsupported, "\(name) is not \(what) (relkind '\(relation.kind)')", object: "\(name)")
        }
        return relation
    }

    /// Parses a job argument as a catalog name; a malformed one is `.undeclared` (never sent anywhere).
    static func argument(_ text: String?, field: String) throws(JobError) -> String {
        guard let text, !text.isEmpty else {
            throw JobError(.invalidArguments, "the '\(field)' argument is required")
        }
        return text
    }
}

extension CatalogObjects {
    /// A FROM item `t(relid, isleaf)`: the relation bound as `$1` (a quoted name) and, when it is
    /// partitioned, all its partitions. (`pg_partition_tree` alone returns nothing for a plain table.)
    static let relationTree = """
        (SELECT relid, isleaf FROM pg_partition_tree($1::regclass)
         UNION ALL SELECT $1::regclass, true WHERE NOT EXISTS (SELECT FROM pg_partition_tree($1::regclass))) t
        """
}
