// ImportStraightCopy: the chunked load's fast path for keys the table lacks. While every chunk
// so far held only such keys, a chunk of keys new to the import is COPYed straight into the
// table in key order, in its own transaction (no staging table, no speculative insertion); the
// key's unique index refuses it when a key is stored, and then it and every later chunk take
// the upsert (ImportChunkedLoad). Also the key-order sort both paths stage their rows in.

import Foundation
import Postgres
import SluiceCatalog
import Synchronization

extension ImportLoader {
    /// Whether chunks may COPY straight into the table, and which fields' `\N` forbids it.
    final class StraightCopy: Sendable {
        /// COPY fields (the line number is field 0) of the columns whose empty cell an insert
        /// fills with more than NULL.
        let nullChecked: [Int]
        private let enabled = Mutex(true)

        init(nullChecked: [Int]) { self.nullChecked = nullChecked }

        var isEnabled: Bool { enabled.withLock { $0 } }
        func disable() { enabled.withLock { $0 = false } }
    }

    /// A chunk whose keys are new to the import, with no key twice and no empty cell that an
    /// insert would fill (`Chunk.emptyDefaulted`), inserts exactly what the upsert would insert
    /// if none of its keys is in the table yet, and a plain COPY into the table does that in
    /// about half the server's time (no staging table, no speculative insertion, no join). The
    /// table's unique index on the key refuses the COPY otherwise, and then the chunk, and every
    /// chunk after it, takes the upsert. Offered only when that index exists (exactly the key's
    /// columns, valid, not partial, not deferred), so a table without one still gets the upsert's
    /// error instead of a second copy of its rows.
    func straightCopy(on c: PostgresConnection, target: [String: TargetColumn]) async throws -> StraightCopy? {
        let row = try await c.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND i.indimmediate
                  AND i.indpred IS NULL AND i.indexprs IS NULL
                  AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                       FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                       WHERE k.n <= i.indnkeyatts) = (SELECT array_agg(x ORDER BY x) FROM unnest($2::text[]) x)
            )
            """, [.text(spec.table.quoted), .text("{" + spec.key.map { "\"\($0.rawValue)\"" }.joined(separator: ",") + "}")])
        guard try row[0].decode(0, as: Bool.self) else { return nil }
        let table = spec.table.quoted
        var checked: [Int] = []
        for (i, column) in columns.enumerated() {
            let plan = Self.emptyCellPlan(column, target: target[column.column.rawValue]!, table: table, key: spec.key)
            if plan.inserted != "s.\(column.column.quoted)" { checked.append(i + 1) }
        }
        return StraightCopy(nullChecked: checked)
    }

    /// The chunk copied straight into the table in its own transaction; nil when it cannot be
    /// (then the upsert runs it): its keys repeat, an insert would fill an empty cell, or the
    /// server refused the COPY (a key already stored, or anything else the upsert will report).
    func runStraight(_ chunk: Chunk, on c: PostgresConnection, straight: StraightCopy, gate: ChunkGate,
                             keyFields: [Int]) async throws -> ChunkCounts? {
        guard straight.isEnabled, chunk.repeatLines.isEmpty, !chunk.hasDuplicates, !chunk.emptyDefaulted else { return nil }
        let data = Self.sortedRows(chunk.data, keyFields: keyFields, keepLineNumbers: false)
        let names = columns.map(\.column.quoted).joined(separator: ", ")
        do {
            let (copied, xid) = try await c.withTransaction { c in
                let copied = try await c.copyIn(into: "COPY \(spec.table.quoted) (\(names)) FROM STDIN", data: data)
                let xid = try await c.query("SELECT txid_current()")[0].decode(0, as: Int.self)
                return (copied, UInt32(truncatingIfNeeded: xid))
            }
            gate.committed(chunk.index, xid: xid, rows: chunk.rows)
            return ChunkCounts(rows: copied, distinct: copied, inserted: copied)
        } catch let e as PostgresError where e.code == .server || e.code == .transactionRolledBack {
            // Rolled back: the chunk, and the ones after it, take the upsert.
            straight.disable()
            return nil
        } catch {
            gate.fail(error)
            throw error
        }
    }

    /// The chunk's rows in key order (by each key field's COPY text, byte by byte, in the key's
    /// order: `keyFields` are the key columns' fields), with or without their first field (the
    /// line number the staging table keeps). In key order, the rows go
    /// into the key's index at neighbouring places and sit in the heap as the upsert would have
    /// left them (it inserts in key order), so a later import of the same keys, which updates in
    /// key order, reads the heap in order too (the update pass was 10 % slower after a COPY in
    /// file order). For a uuid or a "C"-collated text key, byte order is the index's order; for
    /// another collation it still keeps one workspace's (one first key's) rows together.
    static func sortedRows(_ data: [UInt8], keyFields key: [Int], keepLineNumbers: Bool) -> [UInt8] {
        if data.isEmpty { return [] }
        let keyFields = key.sorted()
        let compared = key.map { keyFields.firstIndex(of: $0)! }
        var rows: [(start: Int, end: Int)] = []
        var keys: [(start: Int, end: Int)] = []
        rows.reserveCapacity(data.count / 64)
        keys.reserveCapacity(data.count / 64 * keyFields.count)
        data.withUnsafeBufferPointer { d in
            var i = 0
            while i < d.count {
                let rowStart = i
                var field = 0
                var fieldStart = i
                var next = 0
                while true {
                    let atEnd = i == d.count || d[i] == 0x0A
                    if atEnd || d[i] == 0x09 {
                        if next < keyFields.count, field == keyFields[next] {
                            keys.append((fieldStart, i))
                            next += 1
                        }
                        if atEnd { break }
                        field += 1
                        fieldStart = i + 1
                    }
                    i += 1
                }
                while next < keyFields.count {
                    keys.append((i, i))
                    next += 1
                }
                rows.append((rowStart, i))
                i += 1
            }
        }
        let k = keyFields.count
        var order = Array(0..<rows.count)
        var out = [UInt8]()
        out.reserveCapacity(data.count)
        data.withUnsafeBufferPointer { d in
            let base = d.baseAddress!
            keys.withUnsafeBufferPointer { keys in
                order.sort { a, b in
                    for f in compared {
                        let x = keys[a * k + f], y = keys[b * k + f]
                        let lx = x.end - x.start, ly = y.end - y.start
                        let c = memcmp(base + x.start, base + y.start, min(lx, ly))
                        if c != 0 { return c < 0 }
                        if lx != ly { return lx < ly }
                    }
                    return false
                }
            }
            for r in order {
                let row = rows[r]
                var start = row.start
                if !keepLineNumbers {
                    while start < row.end, d[start] != 0x09 { start += 1 }
                    start += 1
                }
                if start < row.end { out.append(contentsOf: UnsafeBufferPointer(rebasing: d[start..<row.end])) }
                out.append(0x0A)
            }
        }
        return out
    }
}
