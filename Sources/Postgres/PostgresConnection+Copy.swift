// PostgresConnection+Copy: bulk transfer with COPY … FROM STDIN and COPY … TO STDOUT.
//
// COPY IN reads the caller's rows in the caller's own isolation (the functions are
// `nonisolated(nonsending)`), so any sequence works, even one built from actor-isolated
// closures, and nothing is materialized: rows are encoded into 64 KiB chunks, and each chunk is
// sent on the connection's thread while the next one is being encoded. Text format.

import ClientSupport
import Synchronization

extension PostgresConnection {
    /// Bytes encoded before a chunk is handed to libpq.
    static let copyChunkSize = 64 * 1024

    /// Copies rows into a table: `sql` is `COPY t (a, b, c) FROM STDIN` (text format, the
    /// default). Returns the number of rows copied. The sequence may be lazy and long.
    ///
    /// A value with a NUL byte aborts the COPY (nothing is copied) and throws `.copyRejected`
    /// naming the 1-based row; the connection stays usable. Server-side failures (a duplicate
    /// key, a malformed value) throw `.server` with the SQLSTATE. Task cancellation and
    /// `cancel()` abort the COPY with `.cancelled`.
    public nonisolated(nonsending) func copyIn<Rows: Sequence<[PostgresValue]>>(
        into sql: String, rows: Rows
    ) async throws(PostgresError) -> Int {
        var iterator = rows.makeIterator()
        var rowNumber = 0
        do {
            return try await copyIn(sql) { writer in
                while writer.buffer.count < Self.copyChunkSize {
                    guard let row = iterator.next() else { return false }
                    rowNumber += 1
                    try writer.append(row: row, rowNumber: rowNumber)
                }
                return true
            }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.invalidUsage, message: "COPY failed: \(error)", endpoint: endpoint)
        }
    }

    /// Copies rows already encoded in COPY's text format (`PostgresCopyTextWriter.buffer`, whole
    /// rows) into a table: `sql` is `COPY t FROM STDIN`. Sent in 64 KiB slices. Returns the rows
    /// copied. A caller encodes the next rows while the server takes these.
    public nonisolated(nonsending) func copyIn(into sql: String, data: [UInt8]) async throws -> Int {
        var offset = 0
        return try await copyIn(sql) { writer in
            let end = min(data.count, offset + Self.copyChunkSize)
            writer.buffer.append(contentsOf: data[offset..<end])
            offset = end
            return offset < data.count
        }
    }

    /// Copies rows from an async sequence (a file being parsed, a network stream) into a
    /// table. An error thrown by the sequence aborts the COPY and is rethrown as is.
    public nonisolated(nonsending) func copyIn<Rows: AsyncSequence>(
        into sql: String, rows: Rows
    ) async throws -> Int where Rows.Element == [PostgresValue] {
        var iterator = rows.makeAsyncIterator()
        var rowNumber = 0
        return try await copyIn(sql) { writer in
            while writer.buffer.count < Self.copyChunkSize {
                guard let row = try await iterator.next(isolation: #isolation) else { return false }
                rowNumber += 1
                try writer.append(row: row, rowNumber: rowNumber)
            }
            return true
        }
    }

    /// The COPY IN protocol: start on the I/O thread, encode chunks here and send each there
    /// (one in flight while the next is encoded), then end — aborted if anything went wrong.
    private nonisolated(nonsending) func copyIn(
        _ sql: String, produce: nonisolated(nonsending) (inout PostgresCopyTextWriter) async throws -> Bool
    ) async throws -> Int {
        if isBroken {
            throw PostgresError(.connectionClosed, message: "the connection is closed or broken", endpoint: endpoint)
        }
        if Task.isCancelled {
            throw PostgresError(.cancelled, message: "the task was cancelled before the COPY started", endpoint: endpoint)
        }
        let id = control.makeID()
        try await onThread { handle throws(PostgresError) in
            guard self.control.begin(id) else {
                throw PostgresError(.cancelled, message: "the COPY was cancelled before it started", endpoint: self.endpoint)
            }
            do throws(PostgresError) {
                try handle.copyInStart(sql)
            } catch {
                _ = self.control.end(id)
                throw error
            }
        }

        var writer = PostgresCopyTextWriter(capacity: Self.copyChunkSize + 8192)
        var failure: (any Error)?
        var sendFailed = false
        var inFlight: CopyChunkSend?
        while true {
            var more = true
            do {
                more = try await produce(&writer)
            } catch {
                failure = error
            }
            if failure == nil, Task.isCancelled {
                failure = PostgresError(.cancelled, message: "the task was cancelled during COPY", endpoint: endpoint)
            }
            if let previous = inFlight {
                inFlight = nil
                if await !previous.result() { sendFailed = true }
            }
            if failure != nil || sendFailed { break }
            if !writer.buffer.isEmpty {
                inFlight = CopyChunkSend(writer.buffer, handle: handle, thread: thread)
                writer.buffer.removeAll(keepingCapacity: true)
            }
            if !more { break }
        }
        if let previous = inFlight, await !previous.result() { sendFailed = true }

        let abortReason: String? =
            switch failure {
            case nil: nil
            case let e as PostgresError where e.code == .copyRejected: "client rejected row \(e.row ?? 0)"
            case let e as PostgresError where e.code == .cancelled: "cancelled by the client"
            default: "the client's row source failed"
            }
        let copied: Int
        do {
            copied = try await onThread { handle throws(PostgresError) in
                defer { _ = self.control.end(id) }
                do throws(PostgresError) {
                    return try handle.copyInEnd(abortReason: abortReason)
                } catch {
                    var e = error
                    if e.sqlState == PostgresError.queryCanceled && e.code == .server && self.control.isCancelRequested(id) {
                        e.code = .cancelled
                    }
                    throw e
                }
            }
        } catch {
            // The server's verdict on an aborted COPY is only an echo of our reason.
            if var failure = failure as? PostgresError {
                if isBroken { failure.code = .connectionLost }
                throw failure
            }
            if let failure { throw failure }
            throw error
        }
        if let failure { throw failure }
        return copied
    }

    /// Runs `body` on the I/O thread and records the connection's state afterwards; no
    /// statement bookkeeping (the caller does it).
    private func onThread<T: Sendable>(_ body: @escaping @Sendable (PGConnectionHandle) throws(PostgresError) -> T) async throws(PostgresError) -> T {
        do {
            return try await thread.run { [self] () throws(PostgresError) -> T in
                defer { recordState() }
                return try body(handle)
            }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.connectionClosed, message: "the connection's I/O thread has stopped", endpoint: endpoint)
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

/// One chunk of COPY data being sent on the I/O thread while the caller encodes the next.
private final class CopyChunkSend: Sendable {
    private struct State {
        var outcome: Bool?
        var waiter: CheckedContinuation<Bool, Never>?
    }
    private let state = Mutex(State())

    init(_ chunk: [UInt8], handle: PGConnectionHandle, thread: IOThread) {
        let accepted = thread.execute { [self] in complete(handle.copyInSend(chunk)) }
        if !accepted { complete(false) }
    }

    private func complete(_ ok: Bool) {
        let waiter = state.withLock { s in
            s.outcome = ok
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: ok)
    }

    /// Whether libpq accepted the chunk; waits for the send to finish.
    func result() async -> Bool {
        await withCheckedContinuation { continuation in
            let done: Bool? = state.withLock { s in
                if let outcome = s.outcome { return outcome }
                s.waiter = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
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
