// PGConnectionHandle+Pipeline: several statements sent at once in libpq's pipeline mode and
// closed by one sync: one round trip, one hand-off to the I/O thread, and one implicit
// transaction. Postgres runs what precedes a sync as a single transaction (unless the session
// is already in one), so a failed statement aborts the statements after it
// (PGRES_PIPELINE_ABORTED) and rolls back those before it; every statement still takes its own
// snapshot under READ COMMITTED, so a later statement sees what committed while an earlier one
// ran, exactly as in an explicit BEGIN … COMMIT sent one statement at a time.
//
// The connection stays in blocking mode: every statement is written before any result is read,
// which is safe while the results that can pile up unread meanwhile fit the socket buffers
// (the callers send a few statements with small results, not bulk reads).

import CLibPQ

extension PGConnectionHandle {
    /// Runs `statements` as one transaction in one round trip; their rows, in order. The first
    /// failure is thrown (the whole pipeline then rolled back).
    func pipeline(_ statements: [(sql: String, binds: [PostgresValue])]) throws(PostgresError) -> [PostgresRows] {
        let conn = try requireConnection()
        var encoded: [EncodedBinds] = []
        encoded.reserveCapacity(statements.count)
        for statement in statements {
            try Self.checkSQL(statement.sql)
            encoded.append(try EncodedBinds(statement.binds))
        }
        notices.removeAll()
        // Named statements are prepared (when due) before the pipeline starts: PQprepare and
        // DEALLOCATE are synchronous calls, which pipeline mode refuses.
        var names: [String?] = []
        for (statement, binds) in zip(statements, encoded) { names.append(try preparedName(statement.sql, types: binds.types)) }
        do {
            return try runPipeline(conn, statements, encoded, names: names)
        } catch where error.isStalePlan && !isInTransaction {
            // A table a prepared statement reads changed shape: nothing was committed; forget
            // the named statements and send them all unnamed once more.
            for (statement, binds) in zip(statements, encoded) { forgetStatement(statement.sql, types: binds.types) }
            return try runPipeline(conn, statements, encoded, names: names.map { _ in nil })
        }
    }

    private func runPipeline(_ conn: OpaquePointer, _ statements: [(sql: String, binds: [PostgresValue])], _ encoded: [EncodedBinds],
                             names: [String?]) throws(PostgresError) -> [PostgresRows] {
        guard PQenterPipelineMode(conn) == 1 else { throw connectionError(fallback: "could not enter pipeline mode") }
        var sendFailure: PostgresError?
        for (n, statement) in statements.enumerated() {
            let binds = encoded[n]
            let sent = binds.withValues { values in
                if let name = names[n] { return PQsendQueryPrepared(conn, name, Int32(binds.types.count), values, nil, nil, 0) }
                return PQsendQueryParams(conn, statement.sql, Int32(binds.types.count), binds.types, values, nil, nil, 0)
            }
            if sent != 1 {
                sendFailure = connectionError(fallback: "could not send statement \(n + 1) of a pipeline")
                break
            }
        }
        if PQpipelineSync(conn) != 1, sendFailure == nil {
            sendFailure = connectionError(fallback: "could not send a pipeline's sync")
        }
        var out: [PostgresRows] = []
        var failure: PostgresError?
        // Each statement's results end with a NULL; the sync's own result ends the pipeline.
        // A broken connection yields NULLs and no sync: stop on it rather than loop.
        var synced = false
        var nulls = 0
        while !synced {
            guard let result = PQgetResult(conn) else {
                nulls += 1
                if isBad || nulls > statements.count { break }
                continue
            }
            switch PQresultStatus(result) {
            case PGRES_PIPELINE_SYNC:
                PQclear(result)
                synced = true
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                do { out.append(try rows(from: result)) } catch { if failure == nil { failure = error } }
            case PGRES_PIPELINE_ABORTED:
                PQclear(result)
            default:
                if failure == nil { failure = serverError(result) }
                PQclear(result)
            }
        }
        if synced { _ = PQexitPipelineMode(conn) }
        if let failure { throw failure }
        if let sendFailure { throw sendFailure }
        guard synced else { throw connectionError(fallback: "the pipeline ended without its sync") }
        guard out.count == statements.count else {
            throw PostgresError(.invalidUsage, message: "a pipeline of \(statements.count) statements returned \(out.count) results",
                                endpoint: endpoint)
        }
        return out
    }
}
