// ImportChunkedLoad: the import's load for `on_conflict: update` (not a dry run): the file in
// chunks of `chunkRows` rows, each its own transaction, on two connections taking turns, so the
// work overlaps: the Swift side reads, checks and encodes the next chunk (one ahead of the
// connections) while both connections COPY and upsert theirs.
//
// A chunk whose keys are all new to the import upserts at once, beside the other connection's
// chunk: they share no key, so neither blocks the other and the order does not matter. While
// every chunk so far held only keys the table lacked, such a chunk is first COPYed straight into
// the table (`runStraight`, ImportStraightCopy.swift): the key's unique index refuses it if a key is already stored, and
// then it and the chunks after it take the upsert. A chunk
// that repeats a key of an earlier chunk upserts only after every earlier chunk committed, so
// the key ends with its last line's values: last line wins across chunks as within one. The
// report's counts are the ones a single transaction would give. Each key's 128-bit
// fingerprint (two seeded SipHashes of the key's COPY text: a false match among a million keys
// has a probability of about 10^-27) tells, while reading, which rows repeat a key of an earlier
// chunk; before its upsert such a chunk counts, among those keys only, how many will change a
// row an earlier chunk of this import wrote (its `xmin` is one of the import's transactions):
// those were already counted inserted or updated. A repeated key that changes a row the import
// had left unchanged moves from unchanged to updated. A repeated key is counted once; its other
// lines are duplicates.
//
// A crash, a cancel or the reject limit leaves the chunks committed before it (not always a
// prefix of the file, since chunks commit out of order); a re-run upserts
// the whole file again and, since the upsert is idempotent, finishes it (the committed rows come
// back unchanged). The second connection is opened beside the pool (one per running import),
// so two imports never wait on each other for it; if it cannot be opened, the chunks run one
// after the other on the pooled one.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime
import Synchronization

extension ImportLoader {
    /// Rows per committed chunk unless the job says otherwise (`options.chunk_rows`).
    static let defaultChunkRows = 100_000

    /// One chunk read, checked and encoded for COPY.
    struct Chunk: Sendable {
        var index: Int
        var data: [UInt8]
        var rows: Int
        /// Two rows of this chunk share a key (then the upsert deduplicates it).
        var hasDuplicates: Bool
        /// Lines of this chunk whose key appeared in an earlier chunk.
        var repeatLines: [Int]
        /// A row of this chunk leaves empty a column whose empty cell takes more than NULL on
        /// insert (a default, or the stored value): such a chunk never copies straight in.
        var emptyDefaulted = false
    }

    /// What one chunk's upsert did.
    struct ChunkCounts: Sendable {
        var rows = 0
        var distinct = 0
        /// Distinct keys of the chunk that appeared in an earlier chunk.
        var repeated = 0
        var inserted = 0
        var updated = 0
        /// Repeated keys whose row this chunk changed and an earlier chunk had written.
        var changedOurs = 0

        mutating func add(_ c: ChunkCounts) {
            rows += c.rows
            distinct += c.distinct
            repeated += c.repeated
            inserted += c.inserted
            updated += c.updated
            changedOurs += c.changedOurs
        }

        /// (inserted, updated, unchanged, duplicates) over the whole file.
        var report: (Int, Int, Int, Int) {
            let keys = distinct - repeated
            return (inserted, updated - changedOurs, keys - inserted - updated + changedOurs, rows - keys)
        }
    }

    func loadChunked<S: ImportByteSource>(
        reader: inout ImportRowReader<S>, pool: PostgresPool, chunkRows: Int, state: ImportProgressState,
        progress: @escaping ProgressReporter, logger: Logger
    ) async throws -> Outcome {
        let keyIndexes = spec.key.compactMap { k in columns.firstIndex { $0.column == k }.map { $0 + 1 } }
        let chunks = ChunkReader(reader: reader, maxRejects: spec.maxRejects, keyIndexes: keyIndexes, state: state, progress: progress)
        defer { reader = chunks.reader }
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .import)
        let gate = ChunkGate()
        do {
            return try await guardrails.withSession(pool, logger: logger) { first in
                var second: PostgresConnection?
                do {
                    let c = try await PostgresConnection.connect(pool.configuration.connection, logger: logger)
                    second = c
                    try await guardrails.apply(lockTimeout: guardrails.lockTimeout, on: c)
                } catch {
                    logger.warning("import: no second connection for the overlapped load (\(error)); chunks run one after the other")
                    if let c = second { await c.close() }
                    second = nil
                }
                do {
                    let outcome = try await pipeline(chunks: chunks, connections: [first] + (second.map { [$0] } ?? []),
                                                     chunkRows: chunkRows, gate: gate, progress: progress)
                    if let second { await second.close() }
                    return outcome
                } catch {
                    if let second { await second.close() }
                    throw error
                }
            }
        } catch var e as RejectLimit {
            e.committedRows = gate.committedRows
            throw e
        } catch let e as JobError {
            throw e
        } catch {
            throw JobError.wrap(error, object: spec.table.description)
        }
    }

    private func pipeline<S: ImportByteSource>(
        chunks: ChunkReader<S>, connections: [PostgresConnection], chunkRows: Int, gate: ChunkGate,
        progress: @escaping ProgressReporter
    ) async throws -> Outcome {
        let target = try await targetColumns(on: connections[0])
        let straight = try await straightCopy(on: connections[0], target: target)
        chunks.nullChecked = straight?.nullChecked ?? []
        let keyFields = chunks.keyIndexes
        let readStart = ContinuousClock.now
        var readEnd = readStart
        var totals = ChunkCounts()
        try await withThrowingTaskGroup(of: ChunkCounts.self) { group in
            var inFlight = 0
            var index = 0
            // One chunk more than connections: it is read and encoded while every connection
            // is busy, and its COPY starts as soon as its connection's previous chunk commits.
            while let chunk = try await chunks.next(index: index, limit: chunkRows) {
                while inFlight > connections.count {
                    totals.add(try await group.next()!)
                    inFlight -= 1
                }
                let c = connections[index % connections.count]
                let previousOnConnection = index - connections.count
                group.addTask {
                    if previousOnConnection >= 0 { _ = try await gate.wait(for: .chunk(previousOnConnection)) }
                    if let straight, let counts = try await self.runStraight(chunk, on: c, straight: straight, gate: gate,
                                                                                                  keyFields: keyFields) {
                        return counts
                    }
                    return try await self.run(chunk, on: c, target: target, gate: gate, keyFields: keyFields)
                }
                inFlight += 1
                index += 1
            }
            readEnd = ContinuousClock.now
            await progress(chunks.state.fields(phase: "upserting", rows: chunks.reader.rowsRead, bytes: chunks.reader.bytesRead,
                                               rejected: chunks.rejects.count))
            while let c = try await group.next() { totals.add(c) }
        }
        let (inserted, updated, unchanged, duplicates) = totals.report
        let counts = FileImporter.Report(
            spec: "", table: "", format: "", dryRun: false, bytesRead: chunks.reader.bytesRead, rowsRead: chunks.reader.rowsRead,
            inserted: inserted, updated: updated, unchanged: unchanged, skipped: 0, rejected: chunks.rejects.count,
            duplicates: duplicates, rejects: [], readSeconds: FileImporter.seconds(readEnd - readStart),
            upsertSeconds: FileImporter.seconds(ContinuousClock.now - readEnd), seconds: 0)
        return Outcome(counts: counts, rejects: chunks.rejects)
    }

    /// One chunk's transaction: stage, COPY, wait for every earlier chunk's commit when the
    /// chunk repeats a key of theirs (and count those keys), upsert, commit.
    private func run(_ chunk: Chunk, on c: PostgresConnection, target: [String: TargetColumn], gate: ChunkGate,
                     keyFields: [Int]) async throws -> ChunkCounts {
        do {
            let table = spec.table.quoted
            let staged = (["NULL::bigint AS sluice_line"] + columns.map(\.column.quoted)).joined(separator: ", ")
            let (counts, xid) = try await c.withTransaction { c in
                try await c.simpleQuery("SET LOCAL work_mem = '\(Self.workMem)'")
                try await c.simpleQuery("CREATE TEMP TABLE \(Self.stage) ON COMMIT DROP AS SELECT \(staged) FROM \(table) WITH NO DATA")
                // In key order, so the upsert needs no sort of its own (when no key repeats in
                // the chunk: DISTINCT ON sorts anyway).
                let data = chunk.hasDuplicates ? chunk.data : Self.sortedRows(chunk.data, keyFields: keyFields, keepLineNumbers: true)
                let copied = try await c.copyIn(into: "COPY \(Self.stage) FROM STDIN", data: data)
                // A chunk whose keys are all new to the import changes no row an earlier chunk
                // wrote: it upserts at once, beside the others.
                let ours = chunk.repeatLines.isEmpty ? [] : try await gate.wait(for: .before(chunk.index))
                var counts = ChunkCounts(rows: copied)
                if !chunk.repeatLines.isEmpty {
                    (counts.repeated, counts.changedOurs) = try await repeatedKeys(on: c, target: target, lines: chunk.repeatLines, ours: ours)
                }
                (counts.distinct, counts.inserted, counts.updated) = try await upsert(
                    on: c, target: target, mayHaveDuplicates: chunk.hasDuplicates, staged: copied, presorted: !chunk.hasDuplicates)
                let xid = try await c.query("SELECT txid_current()")[0].decode(0, as: Int.self)
                return (counts, UInt32(truncatingIfNeeded: xid))
            }
            gate.committed(chunk.index, xid: xid, rows: chunk.rows)
            return counts
        } catch {
            gate.fail(error)
            throw error
        }
    }

    /// Among the staged rows on `lines` (keys an earlier chunk had): how many distinct keys, and
    /// how many of them the upsert will change in a row one of the import's transactions (`ours`,
    /// 32-bit xids) wrote. Runs before the upsert, so it sees the rows as the earlier chunks left them.
    private func repeatedKeys(on c: PostgresConnection, target: [String: TargetColumn], lines: [Int], ours: [UInt32]) async throws -> (Int, Int) {
        let table = spec.table.quoted
        let keySet = Set(spec.key)
        let key = spec.key.map(\.quoted).joined(separator: ", ")
        let plan = columns.map { Self.emptyCellPlan($0, target: target[$0.column.rawValue]!, table: table, key: spec.key, excluded: "src") }
        let selected = zip(columns, plan).map { "\($1.inserted) AS \($0.column.quoted)" }.joined(separator: ", ")
        let nonKey = zip(columns, plan).filter { !keySet.contains($0.0.column) }
        let changed = nonKey.isEmpty ? "false" : "(\(nonKey.map { "t.\($0.0.column.quoted)" }.joined(separator: ", "))) IS DISTINCT FROM ("
            + nonKey.map(\.1.updated).joined(separator: ", ") + ")"
        let join = spec.key.map { "t.\($0.quoted) = src.\($0.quoted)" }.joined(separator: " AND ")
        let sql = """
            WITH src AS MATERIALIZED (
                SELECT DISTINCT ON (\(key)) \(selected)
                FROM \(Self.stage) s WHERE s.sluice_line = ANY($1::bigint[]) ORDER BY \(key), s.sluice_line DESC
            )
            SELECT count(*)::bigint, count(*) FILTER (WHERE t.xmin = ANY($2::xid[]) AND \(changed))::bigint
            FROM src LEFT JOIN \(table) t ON \(join)
            """
        let row = try await c.query(sql, [.text("{" + lines.map(String.init).joined(separator: ",") + "}"),
                                          .text("{" + ours.map(String.init).joined(separator: ",") + "}")])[0]
        return (try row.decode(0), try row.decode(1))
    }
}

/// A key's 128-bit fingerprint: two seeded SipHashes of the key's COPY text (the fields
/// `keyIndexes` of the row just written), each field preceded by its length.
struct KeyPrint: Equatable {
    var a: UInt64
    var b: UInt64

    init(row: UnsafeBufferPointer<UInt8>, keyIndexes: [Int]) {
        var h1 = Hasher()
        var h2 = Hasher()
        h1.combine(0x5155_1CE0 as UInt32)
        h2.combine(0x2D0F_A9B7 as UInt32)
        for k in keyIndexes {
            // Fields are separated by tabs; COPY text escapes a tab inside a value.
            var field = 0
            var start = 0
            var i = 0
            while field < k, i < row.count {
                if row[i] == 0x09 {
                    field += 1
                    start = i + 1
                }
                i += 1
            }
            var end = start
            while end < row.count, row[end] != 0x09, row[end] != 0x0A { end += 1 }
            let bytes = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: row[start..<end]))
            h1.combine(bytes.count)
            h2.combine(bytes.count)
            h1.combine(bytes: bytes)
            h2.combine(bytes: bytes)
        }
        a = UInt64(bitPattern: Int64(h1.finalize()))
        b = UInt64(bitPattern: Int64(h2.finalize()))
    }
}

/// Every key seen by an import: the first and the last chunk it appeared in. Open addressing
/// over one flat array of slots (a lookup touches one cache line), indexed by the fingerprint's
/// own bits (already uniform), so a lookup hashes nothing more and a million keys are one array,
/// not a million dictionary entries.
struct KeyPrintTable {
    private struct Slot {
        var a: UInt64 = 0
        var b: UInt64 = 0
        /// -1: empty.
        var first: Int32 = -1
        var last: Int32 = -1
    }
    private var slots: [Slot]
    private(set) var count = 0

    init(capacity: Int = 1 << 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        slots = Array(repeating: Slot(), count: n)
    }

    /// Records `print` in `chunk`; the chunks it was first and last seen in before, if it was.
    mutating func record(_ print: KeyPrint, chunk: Int32) -> (first: Int32, last: Int32)? {
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: print.a) & mask
        return slots.withUnsafeMutableBufferPointer { slots in
            while slots[i].first >= 0 {
                if slots[i].a == print.a, slots[i].b == print.b {
                    let seen = (slots[i].first, slots[i].last)
                    slots[i].last = chunk
                    return seen
                }
                i = (i + 1) & mask
            }
            slots[i] = Slot(a: print.a, b: print.b, first: chunk, last: chunk)
            count += 1
            return nil
        }
    }

    private mutating func grow() {
        var bigger = KeyPrintTable(capacity: slots.count)
        for slot in slots where slot.first >= 0 {
            _ = bigger.record(KeyPrint(a: slot.a, b: slot.b), chunk: slot.first)
            _ = bigger.record(KeyPrint(a: slot.a, b: slot.b), chunk: slot.last)
        }
        self = bigger
    }
}

extension KeyPrint {
    init(a: UInt64, b: UInt64) {
        self.a = a
        self.b = b
    }
}

/// The file's checked rows, a chunk at a time, encoded for COPY; rejects kept aside (up to the
/// limit), progress reported as the rows go by.
final class ChunkReader<S: ImportByteSource>: @unchecked Sendable {
    // @unchecked Sendable: used by the one task reading the file; read after it ends.
    var reader: ImportRowReader<S>
    var rejects: [ImportReject] = []
    let maxRejects: Int
    let keyIndexes: [Int]
    /// Fields whose `\N` marks the chunk `emptyDefaulted`.
    var nullChecked: [Int] = []
    let state: ImportProgressState
    let progress: ProgressReporter
    private var seen = KeyPrintTable()
    private var scratch: [UInt8] = []
    private var sinceCheck = 0
    private var done = false

    init(reader: ImportRowReader<S>, maxRejects: Int, keyIndexes: [Int], state: ImportProgressState, progress: @escaping ProgressReporter) {
        self.reader = reader
        self.maxRejects = maxRejects
        self.keyIndexes = keyIndexes
        self.state = state
        self.progress = progress
    }

    /// The next chunk of up to `limit` rows; nil when the file has no more rows.
    func next(index: Int, limit: Int) async throws -> ImportLoader.Chunk? {
        if done { return nil }
        var writer = PostgresCopyTextWriter(capacity: 1 << 20)
        var rows = 0
        var duplicates = false
        var repeats: [Int] = []
        var emptyDefaulted = false
        let chunk = Int32(index)
        while rows < limit {
            sinceCheck += 1
            if sinceCheck >= 2048 {
                sinceCheck = 0
                try Task.checkCancellation()
                if state.due() {
                    await progress(state.fields(phase: "reading", rows: reader.rowsRead, bytes: reader.bytesRead, rejected: rejects.count))
                }
            }
            let mark = writer.buffer.count
            guard let item = try await reader.nextEncoded(into: &writer, scratch: &scratch) else {
                done = true
                break
            }
            switch item {
            case .row(let line):
                let print = writer.buffer.withUnsafeBufferPointer { b in
                    let row = UnsafeBufferPointer(rebasing: b[mark...])
                    if !emptyDefaulted, !nullChecked.isEmpty, Self.hasNull(row: row, fields: nullChecked) { emptyDefaulted = true }
                    return KeyPrint(row: row, keyIndexes: keyIndexes)
                }
                if let found = seen.record(print, chunk: chunk) {
                    if found.last == chunk { duplicates = true }
                    if found.first < chunk { repeats.append(line) }
                }
                rows += 1
            case .reject(let reject):
                rejects.append(reject)
                if rejects.count > maxRejects { throw ImportLoader.RejectLimit(rejects: rejects) }
            }
        }
        if rows == 0 { return nil }
        return ImportLoader.Chunk(index: index, data: writer.buffer, rows: rows, hasDuplicates: duplicates, repeatLines: repeats,
                                  emptyDefaulted: emptyDefaulted)
    }

    /// Whether one of `fields` (ascending) of the COPY text `row` is `\N`.
    static func hasNull(row: UnsafeBufferPointer<UInt8>, fields: [Int]) -> Bool {
        var field = 0
        var start = 0
        var next = 0
        for i in 0...row.count {
            guard i == row.count || row[i] == 0x09 || row[i] == 0x0A else { continue }
            if field == fields[next] {
                if i - start == 2, row[start] == 0x5C, row[start + 1] == 0x4E { return true }
                next += 1
                if next == fields.count { return false }
            }
            if i == row.count || row[i] == 0x0A { return false }
            field += 1
            start = i + 1
        }
        return false
    }
}

/// Orders the chunks: a chunk that repeats a key of an earlier chunk upserts only once every
/// earlier chunk committed (and learns the import's transaction ids so far); a chunk runs on its
/// connection only once that connection's previous chunk finished. A failed chunk fails every
/// waiter. Chunks may commit out of order (one with no repeated key does not wait), so the gate
/// keeps the set of committed chunks and the prefix they make.
final class ChunkGate: Sendable {
    enum Point: Sendable {
        /// Every chunk before this index committed.
        case before(Int)
        /// This chunk committed.
        case chunk(Int)
    }
    private struct Waiter {
        var point: Point
        var id: Int
        var continuation: CheckedContinuation<[UInt32], any Error>
    }
    private struct State {
        var prefix = 0
        var committed: Set<Int> = []
        var rows = 0
        var xids: [UInt32] = []
        var failure: (any Error)?
        var waiters: [Waiter] = []
        var nextID = 0
        var cancelled: Set<Int> = []

        func reached(_ point: Point) -> Bool {
            switch point {
            case .before(let index): prefix >= index
            case .chunk(let index): committed.contains(index)
            }
        }
    }
    private let state = Mutex(State())

    /// Rows of the chunks committed so far.
    var committedRows: Int { state.withLock { $0.rows } }

    /// Waits until `point` is reached; the transaction ids of the chunks committed by then.
    func wait(for point: Point) async throws -> [UInt32] {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt32], any Error>) in
                let now: Result<[UInt32], any Error>? = state.withLock { s in
                    if let f = s.failure { return .failure(f) }
                    if s.reached(point) { return .success(s.xids) }
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    s.waiters.append(Waiter(point: point, id: id, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> Waiter? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else {
                    s.cancelled.insert(id)
                    return nil
                }
                return s.waiters.remove(at: i)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    func committed(_ index: Int, xid: UInt32, rows: Int) {
        let (ready, xids) = state.withLock { s in
            s.committed.insert(index)
            while s.committed.contains(s.prefix) { s.prefix += 1 }
            s.rows += rows
            s.xids.append(xid)
            var ready: [Waiter] = []
            var waiting: [Waiter] = []
            for w in s.waiters {
                if s.reached(w.point) { ready.append(w) } else { waiting.append(w) }
            }
            s.waiters = waiting
            return (ready, s.xids)
        }
        for w in ready { w.continuation.resume(returning: xids) }
    }

    func fail(_ error: any Error) {
        let waiters = state.withLock { s in
            if s.failure == nil { s.failure = error }
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.continuation.resume(throwing: error) }
    }
}
