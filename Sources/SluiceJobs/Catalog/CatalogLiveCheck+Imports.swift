// CatalogLiveCheck+Imports: an import spec against the live database: its table exists, every
// column it names exists, and a unique index (not partial, no expressions) has exactly the
// conflict key's columns, which `INSERT … ON CONFLICT (key)` needs.

import Postgres
import SluiceCatalog

extension CatalogLiveCheck {
    func checkImport(_ spec: ImportSpec, _ db: Database, _ report: inout CatalogLiveReport) async throws(PostgresError) {
        let label = "import \(spec.name)"
        let at = spec.location
        guard let relation = try await checkTable(spec.table, kinds: Self.tableKinds, policy: label, at: at, db, &report)
        else { return }
        let columns = try await db.columns(oid: relation.oid)
        for column in spec.columns where columns[column.column.rawValue] == nil {
            report.problems.append(CatalogProblem(.missingObject, at: at,
                "\(label): column \(column.column) does not exist in \(spec.table)"))
        }
        let key = Set(spec.key.map(\.rawValue))
        let unique = try await db.uniqueIndexes(oid: relation.oid).filter { $0.valid && !$0.partial && !$0.hasExpressions }
        if !unique.contains(where: { Set($0.columns) == key }) {
            report.problems.append(CatalogProblem(.keyNotUnique, at: at,
                "\(label): no unique index of \(spec.table) is on exactly (\(spec.key.map(\.rawValue).joined(separator: ", "))), "
                + "the conflict key the upsert needs"))
        }
    }
}
