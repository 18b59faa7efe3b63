// ImportSupport: an import test's world: a scratch database with the demo schema (the target)
// and the ledger migrations in schema `sluice_home` of the same database (uploads, rejects),
// separate pools for the target and the home side, and helpers to write leads files.

import Foundation
import Logging
import Postgres
import SluiceCatalog
@testable import SluiceJobs
import SluiceRuntime
import Testing
import TestSupport

struct ImportWorld {
    let db: ScratchDatabase
    let home: PostgresPool
    let store: ImportStore
    let catalog: Catalog
    let directory: String
    /// The seeded workspaces' ids (ws1, ws2, ws3).
    let workspaces: [String]

    static let homeSchema = "sluice_home"

    static func with<T>(_ prefix: String, catalog: Catalog? = nil, _ body: (ImportWorld) async throws -> T) async throws -> T {
        try await ScratchDatabase.with(prefix) { db in
            try await db.run("CREATE SCHEMA \(homeSchema)")
            for m in Migrations.all(schema: homeSchema) { try await db.run(m.sql) }
            let home = PostgresPool(configuration: .init(connection: db.configuration, maxConnections: 12), logger: db.logger)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("imports")).path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let c = try await db.connect()
            let ids = try await c.query("SELECT id::text FROM demo.workspaces ORDER BY slug").map { try $0.decode(0, as: String.self) }
            await c.close()
            let world = ImportWorld(db: db, home: home, store: ImportStore(pool: home, schema: homeSchema),
                                    catalog: try catalog ?? TestCatalog.demo(), directory: dir, workspaces: ids)
            do {
                let v = try await body(world)
                await home.close()
                try? FileManager.default.removeItem(atPath: dir)
                return v
            } catch {
                await home.close()
                try? FileManager.default.removeItem(atPath: dir)
                throw error
            }
        }
    }

    var importer: FileImporter { FileImporter(catalog: catalog, store: store, importDirectory: directory) }

    /// Stores `text` as an upload and imports it.
    func importText(_ text: String, fileName: String = "leads.csv", spec: String = "leads", options: FileImporter.Options? = nil,
                    jobID: UUID = UUID(), importer: FileImporter? = nil, pool: PostgresPool? = nil,
                    progress: @escaping ProgressReporter = { _ in }) async throws -> FileImporter.Report {
        try await importBytes(Array(text.utf8), fileName: fileName, spec: spec, options: options, jobID: jobID, importer: importer,
                              pool: pool, progress: progress)
    }

    func importBytes(_ bytes: [UInt8], fileName: String = "leads.csv", spec: String = "leads", options: FileImporter.Options? = nil,
                     jobID: UUID = UUID(), importer: FileImporter? = nil, pool: PostgresPool? = nil,
                     progress: @escaping ProgressReporter = { _ in }) async throws -> FileImporter.Report {
        let upload = try await store.store(MemoryByteSource(bytes, chunkSize: 100_000), spec: spec, fileName: fileName, maxBytes: 1 << 30)
        return try await (importer ?? self.importer).run(
            .init(spec: spec, source: .init(upload: upload.id.uuidString), options: options), jobID: jobID, pool: pool ?? db.pool,
            progress: progress, logger: db.logger)
    }

    func count(_ sql: String) async throws -> Int { try await db.value(sql, as: Int.self) }
}

enum LeadsFile {
    static let header = "workspace_id,email,first_name,last_name,company,tags,custom_fields,created_at"

    /// A good row for lead `i` of `workspace`; `variant` changes the non-key values.
    static func row(_ workspace: String, _ i: Int, variant: Int = 0) -> String {
        "\(workspace),new\(i)@import.test,First\(i + variant),Last\(i),\"Acme, Inc. \(variant)\",\"{vip,trial}\","
            + "\"{\"\"score\"\": \(i % 100 + variant)}\",2026-11-\(String(format: "%02d", 1 + i % 28))T10:00:00Z"
    }

    static func file(_ workspace: String, _ range: Range<Int>, variant: Int = 0) -> String {
        ([header] + range.map { row(workspace, $0, variant: variant) }).joined(separator: "\n") + "\n"
    }
}

/// Collects a job's rejects and expects one at `line`.
func expectReject(_ report: FileImporter.Report, line: Int, column: String?, reason: String,
                  sourceLocation: SourceLocation_ = #_sourceLocation) {
    let found = report.rejects.first { $0.line == line }
    #expect(found != nil, "no reject at line \(line): \(report.rejects)", sourceLocation: sourceLocation)
    if let found {
        #expect(found.column == column, "line \(line): column \(String(describing: found.column))", sourceLocation: sourceLocation)
        #expect(found.reason.contains(reason), "line \(line): \(found.reason)", sourceLocation: sourceLocation)
    }
}
