// ImportStore: the import tables of the home database (ledger schema, migration 3): uploaded
// files in ~1 MiB chunks, and every row an import rejected.
//
// An upload is written in one transaction, chunk by chunk as the producer reads its file, so a
// half-written upload is never visible; it is read back chunk by chunk by whichever worker runs
// the job. Rejects are written with COPY after the import's transaction, whatever its outcome,
// so a user can download why rows were refused even when the import aborted.

import Foundation
import Postgres
import SluiceRuntime

public struct ImportStore: Sendable {
    public let pool: PostgresPool
    /// The ledger schema (unquoted).
    public let schema: String

    public init(pool: PostgresPool, schema: String) {
        self.pool = pool
        self.schema = schema
    }

    var uploads: String { "\(PostgresIdentifier.quote(schema)).uploads" }
    var chunks: String { "\(PostgresIdentifier.quote(schema)).upload_chunks" }
    var rejects: String { "\(PostgresIdentifier.quote(schema)).import_rejects" }

    public static let chunkSize = 1 << 20

    public struct Upload: Sendable, Equatable {
        public var id: UUID
        public var spec: String
        public var fileName: String
        public var bytes: Int
        public var chunks: Int
    }

    /// Stores `source` as a new upload for `spec`, refusing it (nothing kept) past `maxBytes`
    /// or when empty.
    public func store<Source: ImportByteSource>(
        _ source: Source, spec: String, fileName: String, maxBytes: Int
    ) async throws -> Upload {
        var source = source
        let id = UUID()
        return try await pool.withConnection { c in
            try await c.withTransaction { c in
                try await c.execute("INSERT INTO \(uploads) (id, spec, file_name) VALUES ($1, $2, $3)",
                                    [.uuid(id), .text(spec), .text(fileName)])
                var pending: [UInt8] = []
                var seq = 0
                var total = 0
                func flush(_ bytes: [UInt8]) async throws {
                    try await c.execute("INSERT INTO \(chunks) (upload_id, seq, data) VALUES ($1, $2, $3)",
                                        [.uuid(id), .int(seq), .bytes(bytes)])
                    seq += 1
                }
                while let chunk = try await source.next() {
                    total += chunk.count
                    if total > maxBytes {
                        throw JobError(.tooLarge, "the file is larger than the import's limit of \(maxBytes) bytes")
                    }
                    pending.append(contentsOf: chunk)
                    while pending.count >= Self.chunkSize {
                        try await flush(Array(pending.prefix(Self.chunkSize)))
                        pending.removeFirst(Self.chunkSize)
                    }
                }
                if !pending.isEmpty { try await flush(pending) }
                if total == 0 { throw JobError(.invalidArguments, "the file is empty") }
                try await c.execute("UPDATE \(uploads) SET bytes = $2, chunks = $3, complete = true WHERE id = $1",
                                    [.uuid(id), .int(total), .int(seq)])
                return Upload(id: id, spec: spec, fileName: fileName, bytes: total, chunks: seq)
            }
        }
    }

    /// The complete upload `id`, nil when there is none (never stored, or deleted).
    public func upload(_ id: UUID) async throws -> Upload? {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT spec, file_name, bytes, chunks FROM \(uploads) WHERE id = $1 AND complete", [.uuid(id)])
        }
        guard let row = rows.first else { return nil }
        return Upload(id: id, spec: try row.decode(0), fileName: try row.decode(1), bytes: try row.decode(2), chunks: try row.decode(3))
    }

    /// The upload's bytes, one stored chunk at a time.
    public func source(_ upload: Upload) -> UploadByteSource { UploadByteSource(store: self, upload: upload) }

    func chunk(_ id: UUID, _ seq: Int) async throws -> [UInt8] {
        let rows = try await pool.withConnection { c in
            try await c.query("SELECT data FROM \(chunks) WHERE upload_id = $1 AND seq = $2", [.uuid(id), .int(seq)])
        }
        guard let row = rows.first else { throw JobError(.missingObject, "chunk \(seq) of upload \(id) is missing") }
        return try row.decode(0, as: [UInt8].self)
    }

    /// Deletes the upload (after its job succeeded).
    public func delete(_ id: UUID) async throws {
        _ = try await pool.withConnection { c in try await c.execute("DELETE FROM \(uploads) WHERE id = $1", [.uuid(id)]) }
    }

    /// Marks the upload as kept until `keep` from now (its job failed), and deletes uploads whose
    /// time is up.
    public func expire(_ id: UUID, keep: Duration) async throws {
        let seconds = Int(keep.components.seconds)
        _ = try await pool.withConnection { c in
            try await c.execute("UPDATE \(uploads) SET expires_at = now() + make_interval(secs => $2) WHERE id = $1",
                                [.uuid(id), .int(seconds)])
            try await c.execute("DELETE FROM \(uploads) WHERE expires_at < now()")
        }
    }

    /// Deletes uploads kept past their time, and incomplete ones older than a day.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        try await pool.withConnection { c in
            try await c.execute(
                "DELETE FROM \(uploads) WHERE expires_at < now() OR (NOT complete AND created_at < now() - interval '1 day')")
        }
    }

    // MARK: Rejects

    /// Replaces the rejects recorded for `jobID` (a retried job records its last attempt's).
    public func saveRejects(_ list: [ImportReject], jobID: UUID) async throws {
        try await pool.withConnection { c in
            try await c.withTransaction { c in
                try await c.execute("DELETE FROM \(rejects) WHERE job_id = $1", [.uuid(jobID)])
                if list.isEmpty { return }
                _ = try await c.copyIn(into: "COPY \(rejects) (job_id, line, column_name, reason) FROM STDIN",
                                       rows: list.lazy.map { [.uuid(jobID), .int($0.line), PostgresValue($0.column), .text($0.reason)] })
            }
        }
    }

    /// The rejects of `jobID` as CSV with a header (`line,column,reason`), in line order.
    public func rejectsCSV(jobID: UUID, _ write: @escaping @Sendable ([UInt8]) throws -> Void) async throws -> Int {
        try write(Array("line,column,reason\n".utf8))
        return try await pool.withConnection { c in
            try await c.copyOut(
                "COPY (SELECT line, column_name, reason FROM \(rejects) WHERE job_id = '\(jobID.uuidString.lowercased())' "
                    + "ORDER BY line) TO STDOUT (FORMAT csv)", write)
        }
    }

    /// How many rejects `jobID` recorded.
    public func rejectCount(jobID: UUID) async throws -> Int {
        try await pool.withConnection { c in
            try await c.query("SELECT count(*)::bigint FROM \(rejects) WHERE job_id = $1", [.uuid(jobID)])[0].decode(0, as: Int.self)
        }
    }
}

/// Reads an upload back chunk by chunk.
public struct UploadByteSource: ImportByteSource {
    let store: ImportStore
    let upload: ImportStore.Upload
    private var seq = 0

    init(store: ImportStore, upload: ImportStore.Upload) {
        self.store = store
        self.upload = upload
    }

    public mutating func next() async throws -> [UInt8]? {
        guard seq < upload.chunks else { return nil }
        defer { seq += 1 }
        return try await store.chunk(upload.id, seq)
    }
}
