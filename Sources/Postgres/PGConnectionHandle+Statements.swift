// PGConnectionHandle+Statements: SQL a connection runs more than once is prepared on the server
// under a name and then executed by name (PQprepare, PQexecPrepared), so the server parses and
// plans it once rather than per call. On the partitioned ledger, planning a claim or a finish
// cost ~0.25 ms a statement (warm, five leaves) against ~0.07 ms to execute it; the plan cache
// keeps generic plans where they are as good, and the server re-plans a statement itself when
// a table it reads changes (new partitions included).
//
// Only what benefits is prepared: data statements (SELECT, INSERT, UPDATE, DELETE, WITH,
// VALUES), on their second use (a one-off statement, such as generated analytics SQL with
// literals, costs no extra round trip), keyed by text and parameter types. The least recently
// used statement is deallocated past `PostgresConfiguration.statementCacheSize` (0: off, for a
// pooler in transaction mode). A table whose columns changed under `SELECT *` makes the server
// refuse the old plan ("cached plan must not change result type"): the statement is forgotten
// and run unnamed once more.

import CLibPQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct StatementKey: Hashable {
    var sql: String
    var types: [Oid]
}

struct StatementCache {
    let capacity: Int
    /// Prepared statements: key → (name, last use).
    private(set) var prepared: [StatementKey: (name: String, used: UInt64)] = [:]
    /// Keys seen once (hashes), so a second use prepares; cleared when it grows large.
    private var seen: Set<Int> = []
    private var clock: UInt64 = 0
    private var nextName = 0

    init(capacity: Int) { self.capacity = max(0, capacity) }

    enum Decision {
        case unnamed
        case use(String)
        /// Prepare under `name`, first deallocating `evict` if given.
        case prepare(name: String, evict: String?)
    }

    mutating func decide(_ key: StatementKey) -> Decision {
        guard capacity > 0 else { return .unnamed }
        clock &+= 1
        if let entry = prepared[key] {
            prepared[key] = (entry.name, clock)
            return .use(entry.name)
        }
        let hash = key.hashValue
        guard seen.contains(hash) else {
            if seen.count >= 4 * capacity + 64 { seen.removeAll(keepingCapacity: true) }
            seen.insert(hash)
            return .unnamed
        }
        seen.remove(hash)
        var evict: String?
        if prepared.count >= capacity, let oldest = prepared.min(by: { $0.value.used < $1.value.used }) {
            evict = oldest.value.name
            prepared[oldest.key] = nil
        }
        nextName += 1
        return .prepare(name: "sluice_\(nextName)", evict: evict)
    }

    mutating func added(_ key: StatementKey, name: String) {
        prepared[key] = (name, clock)
    }

    mutating func remove(_ key: StatementKey) -> String? {
        prepared.removeValue(forKey: key)?.name
    }
}

extension PGConnectionHandle {
    /// The name to execute `sql` by, preparing it now if this is its second use; nil: run it
    /// unnamed.
    func preparedName(_ sql: String, types: [Oid]) throws(PostgresError) -> String? {
        guard statements.capacity > 0, Self.isPreparable(sql), let conn else { return nil }
        // In a failed transaction every statement fails anyway; leave the cache alone.
        guard PQtransactionStatus(conn) != PQTRANS_INERROR else { return nil }
        let key = StatementKey(sql: sql, types: types)
        switch statements.decide(key) {
        case .unnamed:
            return nil
        case .use(let name):
            return name
        case .prepare(let name, let evict):
            if let evict { deallocate(evict) }
            _ = try rows(from: PQprepare(conn, name, sql, Int32(types.count), types))
            statements.added(key, name: name)
            return name
        }
    }

    /// Drops a statement the server no longer accepts (its plan's result type changed).
    func forgetStatement(_ sql: String, types: [Oid]) {
        if let name = statements.remove(StatementKey(sql: sql, types: types)) { deallocate(name) }
    }

    /// Deallocates a named statement; best effort (it is gone with the session anyway).
    private func deallocate(_ name: String) {
        guard let conn, PQtransactionStatus(conn) != PQTRANS_INERROR else { return }
        if let result = PQexec(conn, "DEALLOCATE \(name)") { PQclear(result) }
    }

    /// Data statements only: utility statements (DDL, SET, VACUUM…) gain nothing from a plan.
    static func isPreparable(_ sql: String) -> Bool {
        var word = ""
        for c in sql.utf8 {
            if word.isEmpty && (c == 32 || c == 9 || c == 10 || c == 13) { continue }
            guard (c >= 65 && c <= 90) || (c >= 97 && c <= 122) else { break }
            word.append(Character(UnicodeScalar(c & ~0x20)))
            if word.count > 6 { return false }
        }
        return ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"].contains(word)
    }
}

extension PostgresError {
    /// The server refused a prepared statement whose plan no longer fits its tables
    /// ("cached plan must not change result type", SQLSTATE 0A000).
    var isStalePlan: Bool {
        sqlState == "0A000" && message.contains("cached plan must not change result type")
    }
}
