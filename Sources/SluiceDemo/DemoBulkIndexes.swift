// DemoBulkIndexes: the indexes and constraints of the big demo tables, set aside during a bulk
// load and rebuilt after it. Building a btree or GIN index over loaded rows is several times
// faster than maintaining it row by row (random UUID keys, GIN entries, a foreign-key lookup
// per row). The loader does this inside its transaction, so a failed or killed load rolls
// back to the original indexes. Definitions are read back from Postgres (pg_get_indexdef,
// pg_get_constraintdef), so the rebuilt objects are exactly the schema's.

import Foundation
import Postgres

struct DemoBulkIndexes {
    struct Constraint {
        /// regclass text of the table (quoted as needed by Postgres).
        var table: String
        var name: String
        var definition: String
        /// p, u or f.
        var kind: String
    }

    struct Index {
        var schema: String
        var name: String
        var definition: String
    }

    var constraints: [Constraint] = []
    var indexes: [Index] = []

    /// The statements that rebuild everything, in a working order: keys, foreign keys, indexes.
    var rebuildStatements: [(label: String, sql: String)] {
        let keys = constraints.filter { $0.kind != "f" } + constraints.filter { $0.kind == "f" }
        return keys.map { ("\($0.table) \($0.name)", "ALTER TABLE \($0.table) ADD CONSTRAINT \(PostgresIdentifier.quote($0.name)) \($0.definition)") }
            + indexes.map { ("\($0.schema).\($0.name)", $0.definition) }
    }

    /// Reads the primary keys, unique constraints and foreign keys declared on `tables` (not
    /// referenced by another table's foreign key) and their other indexes.
    static func capture(tables: [String], on connection: PostgresConnection) async throws(PostgresError) -> DemoBulkIndexes {
        var result = DemoBulkIndexes()
        let names = PostgresValue.textArray(tables)
        let constraintRows = try await connection.query("""
            SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid), c.contype::text
            FROM pg_constraint c
            WHERE c.conrelid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t) AND c.conparentid = 0
              AND (c.contype = 'f' OR (c.contype IN ('p', 'u') AND NOT EXISTS (
                  SELECT 1 FROM pg_constraint r WHERE r.contype = 'f' AND r.confrelid = c.conrelid)))
            ORDER BY 1, 2
            """, [names])
        for row in constraintRows {
            result.constraints.append(Constraint(table: try row.decode(0), name: try row.decode(1),
                                                 definition: try row.decode(2), kind: try row.decode(3)))
        }
        let indexRows = try await connection.query("""
            SELECT n.nspname::text, ic.relname::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
            WHERE i.indrelid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            ORDER BY 1, 2
            """, [names])
        for row in indexRows {
            // A partitioned table's index reads back as `CREATE INDEX … ON ONLY parent`, which
            // would build no partition's index: rebuild it on the whole tree.
            let definition: String = try row.decode(2)
            result.indexes.append(Index(schema: try row.decode(0), name: try row.decode(1),
                                        definition: definition.replacingOccurrences(of: " ON ONLY ", with: " ON ")))
        }
        return result
    }

    /// Drops everything captured (foreign keys first). Run inside the load's transaction.
    func drop(on connection: PostgresConnection) async throws(PostgresError) {
        var statements: [String] = []
        for c in constraints where c.kind == "f" {
            statements.append("ALTER TABLE \(c.table) DROP CONSTRAINT \(PostgresIdentifier.quote(c.name))")
        }
        for c in constraints where c.kind != "f" {
            statements.append("ALTER TABLE \(c.table) DROP CONSTRAINT \(PostgresIdentifier.quote(c.name))")
        }
        for i in indexes {
            statements.append("DROP INDEX \(PostgresIdentifier.quote(schema: i.schema, i.name))")
        }
        guard !statements.isEmpty else { return }
        _ = try await connection.simpleQuery(statements.joined(separator: ";\n"))
    }
}
