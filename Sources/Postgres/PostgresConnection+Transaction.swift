// PostgresConnection+Transaction: run a closure inside BEGIN … COMMIT, rolling back on failure.

extension PostgresConnection {
    /// Runs `body` in a transaction: BEGIN, then COMMIT if `body` returns, ROLLBACK if it throws
    /// or if the task was cancelled meanwhile (then `.cancelled` is thrown). A COMMIT that the
    /// server turns into a rollback (an earlier statement failed and the error was swallowed)
    /// throws `.transactionRolledBack`. Not re-entrant: use SAVEPOINT inside for nesting.
    ///
    /// - Parameter begin: the statement that opens the transaction, e.g.
    ///   `"BEGIN ISOLATION LEVEL SERIALIZABLE"` or `"BEGIN READ ONLY"`.
    public nonisolated(nonsending) func withTransaction<T>(
        begin: String = "BEGIN",
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        if isInTransaction {
            throw PostgresError(.invalidUsage, message: "withTransaction called inside a transaction", endpoint: endpoint)
        }
        try await simpleQuery(begin)
        let value: T
        do {
            value = try await body(self)
        } catch {
            await rollback()
            throw error
        }
        if Task.isCancelled {
            await rollback()
            throw PostgresError(.cancelled, message: "the task was cancelled; the transaction was rolled back", endpoint: endpoint)
        }
        let commit = try await perform(honourCancellation: false) { handle throws(PostgresError) in try handle.simple("COMMIT") }
        if commit.commandTag == "ROLLBACK" {
            throw PostgresError(
                .transactionRolledBack,
                message: "COMMIT rolled back: a statement in the transaction had failed", endpoint: endpoint)
        }
        return value
    }

    /// Rolls back the current transaction, ignoring failure (a lost connection has none left).
    func rollback() async {
        guard !isBroken else { return }
        do {
            _ = try await perform(honourCancellation: false) { handle throws(PostgresError) in try handle.simple("ROLLBACK") }
        } catch {
            logger.warning("postgres ROLLBACK failed: \(error)")
        }
    }
}
