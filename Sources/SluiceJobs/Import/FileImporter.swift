// FileImporter: the work of `import.file`: read a file (an upload in Postgres or a file under
// the import directory), check every row while streaming, COPY the good rows into a temporary
// staging table, and upsert them into the spec's table: chunk by chunk, each committed, for
// `on_conflict: update` (ImportChunkedLoad), else in one transaction.
//
// The file is deduplicated on the conflict key in SQL (the last line wins), so nothing but a few
// chunks (and, for a chunked load, a 16-byte fingerprint per key) is held in memory. The upsert inserts in key order (concurrent imports touching
// the same keys take their row locks in the same order, so they wait rather than deadlock) and
// rewrites a row only when one of its values changed, so a re-run reports every row unchanged.
// A chunked load leaves the chunks committed before a crash, a cancel or the reject limit, and a
// re-run finishes the file; the one-transaction load leaves the table as it was. A dry run is one
// transaction that does all of it and rolls back, so its counts are the real ones.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct FileImporter: Sendable {
    public struct Arguments: Codable, Sendable, Equatable {
        public var spec: String
        public var source: Source
        public var options: Options?

        public init(spec: String, source: Source, options: Options? = nil) {
            self.spec = spec
            self.source = source
            self.options = options
        }
    }

    /// Where the file is: exactly one of an upload id and a path under the import directory.
    public struct Source: Codable, Sendable, Equatable {
        public var upload: String?
        public var path: String?
        public init(upload: String? = nil, path: String? = nil) {
            self.upload = upload
            self.path = path
        }
    }

    public struct Options: Codable, Sendable, Equatable {
        /// `csv` or `ndjson`; by default from the file name (`.ndjson`, `.jsonl`), else CSV.
        public var format: ImportFormat?
        /// One ASCII character; `,` by default.
        public var delimiter: String?
        /// Validate and count, then roll back.
        public var dryRun: Bool?
        /// Rows per committed chunk of an `on_conflict: update` import (100,000 by default).
        public var chunkRows: Int?

        enum CodingKeys: String, CodingKey {
            case format, delimiter
            case dryRun = "dry_run"
            case chunkRows = "chunk_rows"
        }

        public init(format: ImportFormat? = nil, delimiter: String? = nil, dryRun: Bool? = nil, chunkRows: Int? = nil) {
            self.format = format
            self.delimiter = delimiter
            self.dryRun = dryRun
            self.chunkRows = chunkRows
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var spec: String
        public var table: String
        public var format: String
        public var dryRun: Bool
        public var bytesRead: Int
        public var rowsRead: Int
        public var inserted: Int
        public var updated: Int
        public var unchanged: Int
        public var skipped: Int
        public var rejected: Int
        public var duplicates: Int
        /// The first 100 rejects; all of them are in the reject file (`sluice import rejects ID`).
        public var rejects: [ImportReject]
        public var readSeconds: Double
        public var upsertSeconds: Double
        public var seconds: Double
    }

    /// Rejects listed in the report; the reject file has all.
    public static let rejectsInReport = 100

    public let catalog: Catalog
    /// The home database's import tables (uploads, rejects).
    public let store: ImportStore
    /// The folder `source.path` is relative to; nil refuses paths.
    public let importDirectory: String?
    public var progressInterval: Duration = .seconds(1)
    /// Rows per committed chunk of an `on_conflict: update` import, unless the job's options say.
    public var chunkRows = ImportLoader.defaultChunkRows

    public init(catalog: Catalog, store: ImportStore, importDirectory: String?) {
        self.catalog = catalog
        self.store = store
        self.importDirectory = importDirectory
    }

    // MARK: Validation (no I/O)

    /// Checks the arguments against the catalog before anything is read or written.
    public static func validate(_ a: Arguments, against catalog: Catalog) throws(JobError) {
        guard catalog.importSpec(named: a.spec) != nil else { throw JobError.undeclared("import spec", a.spec) }
        switch (a.source.upload, a.source.path) {
        case (let u?, nil):
            guard UUID(uuidString: u) != nil else { throw JobError(.invalidArguments, "source.upload must be an upload id (a UUID)") }
        case (nil, let p?):
            if p.isEmpty || p.utf8.contains(0) { throw JobError(.invalidArguments, "source.path is empty or holds a NUL byte") }
        default:
            throw JobError(.invalidArguments, "source needs exactly one of 'upload' (an upload id) and 'path' (a file under the import directory)")
        }
        if let d = a.options?.delimiter {
            guard d.utf8.count == 1, let b = d.utf8.first, b < 0x80, b != 0x22, b != 0x0A, b != 0x0D else {
                throw JobError(.invalidArguments, "options.delimiter must be one ASCII character other than a quote or a line end")
            }
        }
        if let n = a.options?.chunkRows, n < 1 || n > 10_000_000 {
            throw JobError(.invalidArguments, "options.chunk_rows must be between 1 and 10000000 (got \(n))")
        }
    }

    /// The file under `directory` that `path` names, refusing anything outside it (`..`, an
    /// absolute path elsewhere, a symbolic link leading out).
    public static func resolve(path: String, in directory: String?) throws(JobError) -> String {
        guard let directory else {
            throw JobError(.invalidArguments, "no import directory is configured (SLUICE_IMPORT_DIR), so source.path cannot be used")
        }
        guard let root = realpath(directory, nil).map({ p in defer { free(p) }; return String(cString: p) }) else {
            throw JobError(.invalidArguments, "the import directory does not exist")
        }
        let joined = path.hasPrefix("/") ? path : root + "/" + path
        guard let real = realpath(joined, nil).map({ p in defer { free(p) }; return String(cString: p) }) else {
            throw JobError(.invalidArguments, "no file \(ImportRowReader<MemoryByteSource>.shown(path)) in the import directory")
        }
        guard real.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw JobError(.invalidArguments, "the path \(ImportRowReader<MemoryByteSource>.shown(path)) is outside the import directory")
        }
        var st = stat()
        guard stat(real, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw JobError(.invalidArguments, "the path \(ImportRowReader<MemoryByteSource>.shown(path)) is not a regular file")
        }
        return real
    }

    // MARK: Run

    /// Runs the import on `pool` (the target database). `jobID` keys the reject file.
    public func run(_ a: Arguments, jobID: UUID, pool: PostgresPool, progress: @escaping ProgressReporter, logger: Logger) async throws -> Report {
        try Self.validate(a, against: catalog)
        let spec = catalog.importSpec(named: a.spec)!
        let started = ContinuousClock.now
        // The source, with its size checked against the spec's limit.
        let total: Int
        let fileName: String
        var upload: ImportStore.Upload?
        if let u = a.source.upload {
            guard let found = try await store.upload(UUID(uuidString: u)!) else {
                throw JobError(.invalidArguments, "upload \(u) does not exist (never stored, or already deleted)")
            }
            guard found.spec == spec.name.rawValue else {
                throw JobError(.invalidArguments, "upload \(u) was stored for import \(found.spec), not \(spec.name)")
            }
            upload = found
            total = found.bytes
            fileName = found.fileName
        } else {
            let path = try Self.resolve(path: a.source.path!, in: importDirectory)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            total = size
            fileName = path
        }
        if total == 0 { throw JobError(.invalidArguments, "the file is empty") }
        if total > spec.maxFileBytes {
            throw JobError(.tooLarge, "the file (\(total) bytes) is larger than import \(spec.name)'s limit of \(spec.maxFileBytes) bytes")
        }
        let format = a.options?.format ?? (fileName.hasSuffix(".ndjson") || fileName.hasSuffix(".jsonl")
            || fileName.hasSuffix(".ndjson.gz") || fileName.hasSuffix(".jsonl.gz") ? .ndjson : .csv)
        let delimiter = a.options?.delimiter?.utf8.first ?? UInt8(ascii: ",")
        let dryRun = a.options?.dryRun ?? false

        let source: AnyImportByteSource
        if let upload {
            source = AnyImportByteSource(store.source(upload))
        } else {
            source = AnyImportByteSource(try FileByteSource(path: fileName))
        }
        var reader = ImportRowReader(spec: spec, format: format, delimiter: delimiter, source: try await GzipDetectingSource.wrap(source))
        try await reader.start()

        let loader = ImportLoader(spec: spec, columns: reader.columns, catalog: catalog)
        let state = ImportProgressState(total: total, interval: progressInterval)
        var outcome: ImportLoader.Outcome
        do {
            outcome = try await loader.load(reader: &reader, pool: pool, dryRun: dryRun, chunkRows: a.options?.chunkRows ?? chunkRows,
                                            state: state, progress: progress, logger: logger)
        } catch let e as ImportLoader.RejectLimit {
            try await store.saveRejects(e.rejects, jobID: jobID)
            let written = e.committedRows == 0 ? "nothing was written"
                : "the \(e.committedRows) rows of the chunks before it were written (fix the file and import it again: the re-run finishes it)"
            throw JobError(.invalidArguments,
                "more than \(spec.maxRejects) rows were rejected (import \(spec.name)'s max_rejects); \(written). "
                    + "First: line \(e.rejects.first?.line ?? 0)\(e.rejects.first?.column.map { ", column \($0)" } ?? ""): \(e.rejects.first?.reason ?? "")")
        }
        try await store.saveRejects(outcome.rejects, jobID: jobID)
        if let upload {
            // A dry run's upload stays a day, so the real import can run on it (same `source.upload`).
            if dryRun { try? await store.expire(upload.id, keep: Self.dryRunUploadKeep) } else { try? await store.delete(upload.id) }
        }
        let elapsed = ContinuousClock.now - started
        outcome.counts.seconds = Self.seconds(elapsed)
        var report = outcome.counts
        report.spec = spec.name.rawValue
        report.table = spec.table.description
        report.format = format.rawValue
        report.dryRun = dryRun
        report.rejects = Array(outcome.rejects.prefix(Self.rejectsInReport))
        return report
    }

    /// How long an upload stays after a dry run of it.
    public static let dryRunUploadKeep: Duration = .seconds(86_400)

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}

/// Progress bookkeeping shared with the row sequence: rows and bytes read, reported at most
/// once per interval.
final class ImportProgressState: @unchecked Sendable {
    // @unchecked Sendable: used by one task at a time (the import's), never concurrently.
    let total: Int
    let interval: Duration
    var last = ContinuousClock.now

    init(total: Int, interval: Duration) {
        self.total = total
        self.interval = interval
    }

    func due() -> Bool {
        let now = ContinuousClock.now
        if now - last < interval { return false }
        last = now
        return true
    }

    func fields(phase: String, rows: Int, bytes: Int, rejected: Int) -> [String: String] {
        let pct = total > 0 ? min(100, Double(bytes) * 100 / Double(total)) : 0
        return ["phase": phase, "rows": String(rows), "bytes": String(bytes), "total_bytes": String(total),
                "rejected": String(rejected), "percent": String(format: "%.1f", pct)]
    }
}
