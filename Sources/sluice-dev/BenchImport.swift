// `sluice bench import [--rows N | --file F --update-file F2] [--json]`: import.file's speed
// against the plain way with psql alone, over the same contacts CSV files, in schema
// bench_import of the current database (SLUICE_POSTGRES_URL), recreated each run.
//
// Three passes each: `insert` (file 1 into the empty table), `update` (file 2: same keys,
// changed values, every row rewritten) and `unchanged` (file 2 again). Sluice validates every
// value (UUID, email, JSON, timestamp); the reference is `\copy` into a temp table and
// `INSERT … SELECT … ON CONFLICT DO UPDATE` in one transaction per file. Each timed pass starts
// after a CHECKPOINT. Prints figures; never fails on them.

import ArgumentParser
import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCLI
import SluiceJobs
import SluiceRuntime

struct BenchImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "import.file vs psql \\copy + INSERT … ON CONFLICT: insert, update and unchanged passes.")

    @Option(help: "Rows to generate (both files).") var rows = 1_000_000
    @Option(help: "A contacts CSV to import instead of generating one.") var file: String?
    @Option(help: "The second file (same keys, changed values) for the update passes.") var updateFile: String?
    @Flag(help: "Print one JSON document.") var json = false
    @Flag(help: "Skip the psql reference.") var noReference = false
    @Option(help: "Rows per committed chunk (the import's chunk_rows).") var chunkRows = 100_000

    static let schema = "bench_import"
    static let header = "workspace_id,email,first_name,last_name,company,tags,custom_fields,created_at"

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.bench.import")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-bench-import-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first: String, second: String
        switch (file, updateFile) {
        case (let f?, let u?):
            first = f
            second = u
        case (nil, nil):
            first = dir + "/contacts.csv"
            second = dir + "/contacts-update.csv"
            if !json { FileHandle.standardError.write(Data("generating \(rows) rows twice…\n".utf8)) }
            try Self.generate(rows: rows, to: first, variant: 0)
            try Self.generate(rows: rows, to: second, variant: 1)
        default:
            throw ValidationError("give both --file and --update-file, or neither (then --rows N generates them)")
        }

        let connection = try PostgresConfiguration(url: settings.postgresURL)
        let pool = PostgresPool(configuration: .init(connection: connection, maxConnections: 4), logger: logger)
        let quoted = PostgresIdentifier.quote(Self.schema)
        try await pool.withConnection { c in
            try await c.simpleQuery("DROP SCHEMA IF EXISTS \(quoted) CASCADE; CREATE SCHEMA \(quoted)")
            for m in Migrations.all(schema: Self.schema) { try await c.simpleQuery(m.sql) }
            try await c.simpleQuery("""
                CREATE TABLE \(quoted).contacts (workspace_id uuid NOT NULL, email text NOT NULL, first_name text, last_name text,
                    company text, tags text[], custom_fields jsonb, created_at timestamptz);
                CREATE UNIQUE INDEX contacts_key ON \(quoted).contacts (workspace_id, email);
                """)
        }
        var catalog = Catalog()
        let id = { (s: String) in SQLIdentifier(s)! }
        catalog.imports = [ImportSpec(
            name: id("bench_contacts"), table: try QualifiedName(parsing: "\(Self.schema).contacts"),
            columns: [
                ImportColumn(column: id("workspace_id"), type: .uuid, required: true),
                ImportColumn(column: id("email"), type: .email, required: true, lowercase: true),
                ImportColumn(column: id("first_name")), ImportColumn(column: id("last_name")), ImportColumn(column: id("company")),
                ImportColumn(column: id("tags"), type: .text_array), ImportColumn(column: id("custom_fields"), type: .json_object),
                ImportColumn(column: id("created_at"), type: .timestamp),
            ],
            key: [id("workspace_id"), id("email")], maxFileBytes: 1 << 40, maxRejects: 1_000_000,
            location: SourceLocation(file: "bench", line: 0))]

        var results: [[String: Any]] = []
        let passes = [("insert", first), ("update", second), ("unchanged", second)]
        // Every timed pass starts from a clean checkpoint, so none pays for the WAL of the pass
        // before it (a pass writes ~1 GB of it), whichever side it is on.
        let checkpoint = { try await pool.withConnection { c in _ = try await c.simpleQuery("CHECKPOINT") } }
        for (name, path) in passes {
            try await checkpoint()
            let importer = FileImporter(catalog: catalog, store: ImportStore(pool: pool, schema: Self.schema),
                                        importDirectory: (path as NSString).deletingLastPathComponent)
            let start = ContinuousClock.now
            let r = try await importer.run(
                .init(spec: "bench_contacts", source: .init(path: (path as NSString).lastPathComponent),
                      options: .init(chunkRows: chunkRows)), jobID: UUID(), pool: pool,
                progress: { _ in }, logger: logger)
            let s = seconds(ContinuousClock.now - start)
            results.append(["method": "sluice", "pass": name, "rows": r.rowsRead, "seconds": s, "rows_per_s": Double(r.rowsRead) / s,
                            "read_copy_s": r.readSeconds, "upsert_s": r.upsertSeconds, "inserted": r.inserted, "updated": r.updated,
                            "unchanged": r.unchanged, "rejected": r.rejected])
            if !json { print(Self.line(results.last!)) }
        }
        if !noReference {
            try await pool.withConnection { c in try await c.simpleQuery("TRUNCATE \(quoted).contacts") }
            for (name, path) in passes {
                try await checkpoint()
                let s = try Self.psqlReference(url: settings.postgresURL, file: path)
                let n = rows(in: path)
                results.append(["method": "psql", "pass": name, "rows": n, "seconds": s, "rows_per_s": Double(n) / s])
                if !json { print(Self.line(results.last!)) }
            }
            for (name, _) in passes {
                let a = results.first { $0["method"] as? String == "sluice" && $0["pass"] as? String == name }!
                let b = results.first { $0["method"] as? String == "psql" && $0["pass"] as? String == name }!
                let ratio = (b["seconds"] as! Double) / (a["seconds"] as! Double)
                if !json { print("\(name): sluice is \(String(format: "%.2f", ratio))× the psql reference") }
            }
        }
        await pool.close()
        if json { Output.json(["rows": rows, "results": results]) }
    }

    func rows(in path: String) -> Int {
        guard let h = FileHandle(forReadingAtPath: path) else { return 0 }
        var n = 0
        while let d = try? h.read(upToCount: 1 << 20), !d.isEmpty { n += d.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } }
        return max(0, n - 1)
    }

    static func line(_ r: [String: Any]) -> String {
        let method = (r["method"] as! String).padding(toLength: 7, withPad: " ", startingAt: 0)
        let pass = (r["pass"] as! String).padding(toLength: 10, withPad: " ", startingAt: 0)
        var s = "\(method) \(pass) \(r["rows"]!) rows in \(String(format: "%.2f", r["seconds"] as! Double)) s = "
            + "\(String(format: "%.0f", r["rows_per_s"] as! Double)) rows/s"
        if let c = r["read_copy_s"] as? Double, let u = r["upsert_s"] as? Double {
            s += " (read+check+COPY \(String(format: "%.2f", c)) s, upsert \(String(format: "%.2f", u)) s)"
        }
        return s
    }

    /// `\copy` into a temp table and INSERT … ON CONFLICT DO UPDATE, one transaction, with psql.
    static func psqlReference(url: String, file: String) throws -> Double {
        let script = """
            \\set ON_ERROR_STOP 1
            BEGIN;
            CREATE TEMP TABLE stage (LIKE \(schema).contacts) ON COMMIT DROP;
            \\copy stage FROM '\(file.replacingOccurrences(of: "'", with: "''"))' WITH (FORMAT csv, HEADER true)
            INSERT INTO \(schema).contacts SELECT * FROM stage
              ON CONFLICT (workspace_id, email) DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
                company = EXCLUDED.company, tags = EXCLUDED.tags, custom_fields = EXCLUDED.custom_fields, created_at = EXCLUDED.created_at;
            COMMIT;
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["psql", "-q", "-X", url]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        let start = ContinuousClock.now
        try p.run()
        input.fileHandleForWriting.write(Data(script.utf8))
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CommandFailure(description: "psql failed (exit \(p.terminationStatus))") }
        return seconds(ContinuousClock.now - start)
    }

    /// Contacts over 100 workspaces; `variant` changes every non-key value.
    static func generate(rows: Int, to path: String, variant: Int) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { throw CommandFailure(description: "cannot write \(path)") }
        var rng = SplitMix(seed: 42)
        let workspaces = (0..<100).map { _ in UUID(uuid: rng.uuid()).uuidString.lowercased() }
        var out = Array((header + "\n").utf8)
        out.reserveCapacity(1 << 21)
        for i in 0..<rows {
            let ws = workspaces[i % 100]
            let v = variant
            let line = "\(ws),contact\(i)@example\(i % 97).com,First\(i % 5000 + v),Last\(i % 7000),\"Company \(i % 3000), Inc.\","
                + "\"{vip,trial\(v)}\",\"{\"\"plan\"\": \"\"p\(i % 4)\"\", \"\"v\"\": \(v)}\",2026-0\(1 + i % 9)-1\(i % 10)T0\(i % 10):1\(v):00Z\n"
            out.append(contentsOf: line.utf8)
            if out.count >= 1 << 20 {
                h.write(Data(out))
                out.removeAll(keepingCapacity: true)
            }
        }
        h.write(Data(out))
        try h.close()
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// A small deterministic generator for the bench's workspace ids.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uuid() -> uuid_t {
        let a = next(), b = next()
        func byte(_ x: UInt64, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: x >> (8 * i)) }
        return (byte(a, 0), byte(a, 1), byte(a, 2), byte(a, 3), byte(a, 4), byte(a, 5), 0x40 | (byte(a, 6) & 0x0F), byte(a, 7),
                0x80 | (byte(b, 0) & 0x3F), byte(b, 1), byte(b, 2), byte(b, 3), byte(b, 4), byte(b, 5), byte(b, 6), byte(b, 7))
    }
}
