// CatalogLiveCheck+Segments: the `segments:` section against the live database: the segment
// table and every lookup relation exist, and each field has an index that serves its operators
// (a warning otherwise: rules on it read every row of a workspace). Served means: a trigram
// index (gin/gist, *_trgm_ops) for text matching (contains, starts_with, ends_with), a GIN index
// for tags and custom-field objects, an index with the column as a key column for equality and
// time ranges; a lookup needs an index of its relation led by its key, or by its tenant column
// and holding its column. Not warned: negations, `not_equals`, `not_contains` (no index can
// serve them whatever the schema), and `contains` on a custom-field key (`(column ->> 'key')
// ILIKE`: an expression trigram index per key serves it, but keys are free). The segment
// compiler puts such branches of an OR in one UNION arm of their own (SegmentQuery), so they
// cost at most one pass over the workspace and the other branches their index.

import Postgres
import SluiceCatalog

extension CatalogLiveCheck {
    func checkSegments(_ source: SegmentSource, _ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        guard let table = try await checkTable(source.table, kinds: Self.maintainableKinds, policy: "segments",
                                               at: source.location, db, &report)
        else { return }
        let indexes = try await db.indexes(oid: table.oid)
        for field in source.fields {
            let what = "segment field \(field.name)"
            if let lookup = field.lookup {
                guard let relation = try await checkTable(lookup.relation, kinds: Self.maintainableKinds, policy: what,
                                                          at: field.location, db, &report)
                else { continue }
                let served = try await db.indexes(oid: relation.oid).contains { i in
                    i.columns.first == lookup.key.rawValue
                        || (lookup.tenant.map { i.columns.first == $0.rawValue } == true && i.columns.contains(lookup.column.rawValue))
                }
                if !served {
                    report.warnings.append(CatalogProblem(.noIndex, at: field.location,
                        "\(what): no index of \(lookup.relation) starts with \(lookup.key)"
                        + (lookup.tenant.map { " or with \($0) and holds \(lookup.column)" } ?? "")
                        + "; every rule on it reads the whole relation"))
                }
                continue
            }
            let column = field.column.rawValue
            let needs = Self.indexNeed(field)
            if !indexes.contains(where: { needs.isServed(by: $0, column: column) }) {
                report.warnings.append(CatalogProblem(.noIndex, at: field.location,
                    "\(what): no \(needs.description) of \(source.table) holds \(field.column); rules on it read every row of a workspace"))
            }
        }
    }

    enum IndexNeed {
        case trigram, gin, any

        var description: String {
            switch self {
            case .trigram: "trigram index (gin_trgm_ops)"
            case .gin: "GIN index"
            case .any: "index"
            }
        }

        func isServed(by index: Database.Index, column: String) -> Bool {
            guard let position = index.columns.firstIndex(of: column) else { return false }
            switch self {
            case .trigram: return index.opclasses.indices.contains(position) && index.opclasses[position].hasSuffix("_trgm_ops")
            case .gin: return index.method == "gin"
            case .any: return true
            }
        }
    }

    static func indexNeed(_ field: SegmentField) -> IndexNeed {
        switch field.type {
        case .tags, .object: return .gin
        case .timestamp: return .any
        case .text:
            return field.operators.contains(where: { [.contains, .startsWith, .endsWith].contains($0) }) ? .trigram : .any
        }
    }
}

extension CatalogLiveCheck.Database {
    struct Index {
        var name: String
        /// btree, hash, gin, gist…
        var method: String
        /// Key columns in order ("" for an expression).
        var columns: [String]
        /// Operator classes of the key columns, in order.
        var opclasses: [String]
    }

    /// The valid indexes of a relation (partial ones included: they serve the rows they hold).
    func indexes(oid: String) async throws(PostgresError) -> [Index] {
        let rows = try await connection.query("""
            SELECT ic.relname::text, am.amname::text,
                   ARRAY(SELECT coalesce(a.attname::text, '')
                         FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                         LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
                   ARRAY(SELECT oc.opcname::text FROM unnest(i.indclass::oid[]) WITH ORDINALITY c(opc, ord)
                         JOIN pg_opclass oc ON oc.oid = c.opc ORDER BY c.ord)
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
            WHERE i.indrelid = $1::oid AND i.indisvalid
            ORDER BY ic.relname
            """, [.text(oid)])
        var result: [Index] = []
        for row in rows {
            result.append(Index(name: try row.decode(0), method: try row.decode(1), columns: try row.decode(2),
                                opclasses: try row.decode(3)))
        }
        return result
    }
}
