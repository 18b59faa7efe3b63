// PostgresConnection+Copy: bulk transfer with COPY … FROM STDIN and COPY … TO STDOUT.
//
// COPY IN streams rows from a sequence (consumed on the connection's thread, so it is handed
// over with `sending`) in 64 KiB messages, in text format. Nothing is materialized: a lazy
// sequence or a row source closure can produce millions of rows.

extension PostgresConnection {
    /// Copies rows into a table: `sql` is `COPY t (a, b, c) FROM STDIN` (text format, the
    /// default). Returns the number of rows copied.
    ///
    /// A value with a NUL byte aborts the COPY (nothing is copied) and throws `.copyRejected`
    /// naming the 1-based row; the connection stays usable. Server-side failures (a duplicate
    /// key, a malformed value) throw `.server` with the SQLSTATE. Task cancellation or
    /// `cancel()` aborts the COPY with `.cancelled`.
    public func copyIn<Rows: Sequence<[PostgresValue]>>(into sql: String, rows: sending Rows) async throws(PostgresError) -> Int {
        var iterator = rows.makeIterator()
        let box = SendingBox<() -> [PostgresValue]?>({ iterator.next() })
        return try await perform { handle, cancelRequested throws(PostgresError) in
            try handle.copyIn(sql, next: box.take(), shouldAbort: cancelRequested)
        }
    }

    /// Copies rows produced by `nextRow` (called on the connection's thread until it returns
    /// nil) into a table.
    public func copyIn(into sql: String, rowSource nextRow: @escaping @Sendable () -> [PostgresValue]?) async throws(PostgresError) -> Int {
        try await perform { handle, cancelRequested throws(PostgresError) in
            try handle.copyIn(sql, next: nextRow, shouldAbort: cancelRequested)
        }
    }

    /// Runs `COPY … TO STDOUT` and calls `handler` on the connection's thread with each data
    /// message (one row; text or CSV as the statement says). Returns the rows copied.
    /// If `handler` throws, the rest of the output is drained and the error is rethrown.
    @discardableResult
    public func copyOut(_ sql: String, _ handler: @escaping @Sendable ([UInt8]) throws -> Void) async throws -> Int {
        let box = ErrorBox()
        do {
            return try await perform { handle throws(PostgresError) in
                do {
                    return try handle.copyOut(sql, handler: handler)
                } catch let error as PostgresError {
                    throw error
                } catch {
                    box.error = error
                    throw PostgresError(.invalidUsage, message: "copyOut handler failed")
                }
            }
        } catch {
            if let handlerError = box.error { throw handlerError }
            throw error
        }
    }

    /// Runs `COPY … TO STDOUT` and returns all of its output.
    public func copyOut(_ sql: String) async throws(PostgresError) -> [UInt8] {
        let collector = ByteCollector()
        do {
            try await copyOut(sql) { collector.bytes.append(contentsOf: $0) }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.invalidUsage, message: "\(error)")
        }
        return collector.bytes
    }
}

/// Carries a `sending` value to the connection's thread.
private final class SendingBox<Value>: @unchecked Sendable {
    // @unchecked Sendable: the value arrives through a `sending` parameter, so no one else holds
    // it, and only the one work item on the I/O thread takes it out.
    private var value: Value?
    init(_ value: consuming Value) { self.value = value }
    func take() -> Value {
        defer { value = nil }
        return value!
    }
}

/// Holds a handler's error across the I/O thread boundary.
private final class ErrorBox: @unchecked Sendable {
    // @unchecked Sendable: written on the I/O thread inside the work item, read by the awaiting
    // task only after that work item has completed (the continuation orders the two).
    var error: Error?
}

/// Accumulates COPY output on the I/O thread.
private final class ByteCollector: @unchecked Sendable {
    // @unchecked Sendable: appended to only on the I/O thread during one work item, read after
    // that work item has completed (the continuation orders the two).
    var bytes: [UInt8] = []
}
