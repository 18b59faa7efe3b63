// StatementRunner: the work of `import.statement`: a catalog statement run batch after batch,
// each batch its own transaction, until the statement says it is done or the time budget is
// spent. A run cut short (budget, cancel, crash) loses nothing: the statement is idempotent and
// a re-run schedules only what is missing.

import Foundation
import Logging
import Postgres
import SluiceCatalog
import SluiceCore
import SluiceRuntime

public struct StatementRunner: Sendable {
    public struct Arguments: Codable, Sendable, Equatable {
        public var name: String
        public var params: [String: JSONValue]
        public init(name: String, params: [String: JSONValue] = [:]) {
            self.name = name
            self.params = params
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var statement: String
        public var batches: Int
        /// Rows the statement wrote (for schedule_campaign_sends: sends scheduled).
        public var affected: Int
        /// False when the time budget ran out first; a re-run continues.
        public var complete: Bool
        public var seconds: Double
    }

    public let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    /// Checks the statement's name and every parameter (declared, present, of its type).
    public static func validate(_ a: Arguments, against catalog: Catalog) throws(JobError) {
        guard let s = catalog.statement(named: a.name) else { throw JobError.undeclared("statement", a.name) }
        _ = try binds(a, s)
    }

    static func binds(_ a: Arguments, _ s: CatalogStatement) throws(JobError) -> [PostgresValue] {
        let declared = Set(s.parameters.map(\.name.rawValue))
        if let unknown = a.params.keys.sorted().first(where: { !declared.contains($0) }) {
            throw JobError(.invalidArguments, "statement \(s.name) has no parameter \(ImportRowReader<MemoryByteSource>.shown(unknown)); "
                + "its parameters are \(s.parameters.map(\.name.rawValue).joined(separator: ", "))")
        }
        var out: [PostgresValue] = []
        for p in s.parameters {
            let name = p.name.rawValue
            guard let value = a.params[name], value != .null else {
                throw JobError(.invalidArguments, "statement \(s.name) needs the parameter \(name) (\(p.type.rawValue))")
            }
            let bad = JobError(.invalidArguments, "statement \(s.name) parameter \(name) must be \(p.type.rawValue)")
            switch p.type {
            case .uuid:
                guard let t = value.stringValue, let u = UUID(uuidString: t) else { throw bad }
                out.append(.uuid(u))
            case .text:
                guard let t = value.stringValue, !t.utf8.contains(0) else { throw bad }
                out.append(.text(t))
            case .integer:
                guard let i = value.intValue else { throw bad }
                out.append(.int(Int(i)))
            case .boolean:
                guard case .bool(let b) = value else { throw bad }
                out.append(.bool(b))
            case .timestamp:
                guard let t = value.stringValue, let d = Timestamp.parse(t) else { throw bad }
                out.append(.timestamp(d))
            }
        }
        return out
    }

    /// Times a batch is run again after it collided with a concurrent run before the error stands.
    static let collisionRetries = 3

    /// One batch, its own transaction (autocommit). A batch that collides with another run's
    /// commit is run again: a unique violation (the other run wrote a row this batch's snapshot
    /// did not see; the demo's statement has no `ON CONFLICT` clause, which cost it 1.1–1.3× its
    /// insert in psql A/Bs) or a deadlock between the two. The statement is idempotent, and the next run of the
    /// batch takes a new snapshot that sees the other run's rows, so it leaves them out.
    static func batch(_ sql: String, _ binds: [PostgresValue], on c: PostgresConnection, statement: String,
                      logger: Logger) async throws -> PostgresRow {
        var collisions = 0
        while true {
            do {
                return try await c.query(sql, binds)[0]
            } catch {
                let collided = error.sqlState == PostgresError.uniqueViolation || error.sqlState == PostgresError.deadlockDetected
                guard collided, collisions < collisionRetries else { throw error }
                collisions += 1
                logger.info("batch collided with a concurrent run; running it again", metadata: [
                    "statement": "\(statement)", "sqlstate": "\(error.sqlState ?? "")", "attempt": "\(collisions + 1)"])
            }
        }
    }

    public func run(_ a: Arguments, pool: PostgresPool, progress: @escaping ProgressReporter, logger: Logger) async throws -> Report {
        guard let s = catalog.statement(named: a.name) else { throw JobError.undeclared("statement", a.name) }
        let params = try Self.binds(a, s)
        let (sql, _, unknown) = s.positionalSQL()
        if let unknown { throw JobError(.invalidArguments, "statement \(s.name) uses :\(unknown), which is not declared") }
        let started = ContinuousClock.now
        var after: String?
        var batches = 0
        var affected = 0
        var complete = false
        let guardrails = JobGuardrails(catalog: catalog, workloadClass: .import)
        do {
            try await guardrails.withSession(pool, logger: logger) { c in
                while true {
                    try Task.checkCancellation()
                    let row = try await Self.batch(sql, params + [after.map { .text($0) } ?? .null, .int(s.batchSize)], on: c,
                                                   statement: s.name.rawValue, logger: logger)
                    batches += 1
                    affected += try row.decode(0, as: Int.self)
                    after = try row.decode(1, as: String?.self)
                    await progress(["statement": s.name.rawValue, "batches": String(batches), "affected": String(affected),
                                    "last_key": after ?? ""])
                    if after == nil {
                        complete = true
                        break
                    }
                    if let budget = s.timeBudget, ContinuousClock.now - started > budget { break }
                }
            }
        } catch {
            throw JobError.wrap(error, object: s.name.rawValue)
        }
        return Report(statement: s.name.rawValue, batches: batches, affected: affected, complete: complete,
                      seconds: FileImporter.seconds(ContinuousClock.now - started))
    }
}
