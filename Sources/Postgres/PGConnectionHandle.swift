// PGConnectionHandle: owns one libpq PGconn; the only place that calls libpq on a connection.
//
// Every method blocks and must run on the owning connection's IOThread. This is the choke point
// that turns libpq results and messages into `PostgresError` (STYLE rule 2). Connecting uses the
// non-blocking PQconnectStartParams/PQconnectPoll so that the whole attempt is bounded by the
// configured timeout with sub-second precision (libpq's own connect_timeout rounds up to 2 s).

import CLibPQ
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class PGConnectionHandle: @unchecked Sendable {
    // @unchecked Sendable: `conn` and `notices` are read and written only on the owning
    // connection's IOThread (every caller goes through `IOThread.run`); the notice receiver is
    // called by libpq from inside those same calls. `endpoint`, `password` and `logger` are
    // immutable.
    private(set) var conn: OpaquePointer?
    let endpoint: String
    private let password: String?
    private var logger: Logger
    var notices: [PostgresNotice] = []
    /// Named server-side statements for SQL run more than once (PGConnectionHandle+Statements).
    var statements: StatementCache

    private init(conn: OpaquePointer, endpoint: String, password: String?, statementCacheSize: Int, logger: Logger) {
        self.conn = conn
        self.endpoint = endpoint
        self.password = password
        self.statements = StatementCache(capacity: statementCacheSize)
        self.logger = logger
    }

    deinit {
        if let conn { PQfinish(conn) }
    }

    var isBad: Bool { conn.map { PQstatus($0) == CONNECTION_BAD } ?? true }
    var isInTransaction: Bool {
        guard let conn else { return false }
        let s = PQtransactionStatus(conn)
        return s == PQTRANS_INTRANS || s == PQTRANS_INERROR
    }
    var backendPID: Int32 { conn.map { PQbackendPID($0) } ?? 0 }
    var serverVersionNumber: Int { conn.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Closes the connection (sends Terminate). Idempotent.
    func finish() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// A cancel object for this connection, usable from any thread.
    func makeCancelHandle() -> PGCancelHandle? {
        guard let conn, let cancel = PQgetCancel(conn) else { return nil }
        return PGCancelHandle(cancel)
    }

    // MARK: Connect

    /// Opens a connection, bounded by `configuration.connectTimeout`, and applies the session
    /// settings. Throws `.connectionFailed`, `.timeout` or `.invalidConfiguration`.
    static func connect(_ configuration: PostgresConfiguration, logger: Logger) throws(PostgresError) -> PGConnectionHandle {
        let endpoint = configuration.endpoint
        let deadline = ContinuousClock.now + configuration.connectTimeout
        let pairs = configuration.connectionKeywords()
        for (key, value) in pairs where value.utf8.contains(0) {
            var e = PostgresError(.invalidConfiguration, message: "connection parameter '\(key)' contains a NUL character", endpoint: endpoint)
            e.connectFailure = .other
            throw e
        }
        let keys = pairs.map { strdup($0.0) }
        let values = pairs.map { strdup($0.1) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keyPointers: [UnsafePointer<CChar>?] = keys.map { UnsafePointer($0) } + [nil]
        let valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        guard let conn = PQconnectStartParams(keyPointers, valuePointers, 0) else {
            throw PostgresError(.connectionFailed, message: "libpq could not allocate a connection", endpoint: endpoint)
        }
        let handle = PGConnectionHandle(conn: conn, endpoint: endpoint, password: configuration.password,
                                        statementCacheSize: configuration.statementCacheSize, logger: logger)
        handle.logger[metadataKey: "db.endpoint"] = "\(endpoint)"

        var state = PQstatus(conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            switch state {
            case PGRES_POLLING_READING, PGRES_POLLING_WRITING:
                let events = Int16(state == PGRES_POLLING_READING ? POLLIN : POLLOUT)
                if !wait(socket: PQsocket(conn), events: events, until: deadline) {
                    handle.finish()
                    var e = PostgresError(
                        .timeout,
                        message: "could not connect within \(configuration.connectTimeout) (no answer from the server)",
                        endpoint: endpoint)
                    e.connectFailure = .timeout
                    throw e
                }
                state = PQconnectPoll(conn)
            default:
                let message = handle.scrub(String(cString: PQerrorMessage(conn)))
                handle.finish()
                var e = PostgresError(.connectionFailed, message: trimmed(message), endpoint: endpoint)
                e.connectFailure = classify(message)
                throw e
            }
        }

        let receiver: PQnoticeReceiver = { arg, result in
            guard let arg, let result else { return }
            Unmanaged<PGConnectionHandle>.fromOpaque(arg).takeUnretainedValue().receive(notice: result)
        }
        PQsetNoticeReceiver(conn, receiver, Unmanaged.passUnretained(handle).toOpaque())
        handle.logger[metadataKey: "db.backend_pid"] = "\(PQbackendPID(conn))"

        // Session settings, bound as values: SELECT set_config($1,$2,false), set_config($3,$4,false)…
        let settings = configuration.sessionSettings()
        var sql = "SELECT "
        var binds: [PostgresValue] = []
        for (i, (name, value)) in settings.enumerated() {
            sql += (i > 0 ? ", " : "") + "set_config($\(2 * i + 1), $\(2 * i + 2), false)"
            binds.append(.text(name))
            binds.append(.text(value))
        }
        do {
            _ = try handle.exec(sql, binds)
        } catch {
            handle.finish()
            var e = error
            if e.code == .server { e.code = .invalidConfiguration }
            e.endpoint = endpoint
            e.message = "applying session settings failed: " + e.message
            throw e
        }
        handle.logger.debug("postgres connected")
        return handle
    }

    /// Waits until `socket` is ready for `events` or the deadline passes (false).
    private static func wait(socket: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero { return false }
            var fd = pollfd(fd: socket, events: events, revents: 0)
            let ms = Int32(clamping: max(1, remaining.wholeMilliseconds))
            let n = poll(&fd, 1, ms)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return true }  // let PQconnectPoll report the failure
        }
    }

    static func classify(_ message: String) -> PostgresError.ConnectFailure {
        let m = message.lowercased()
        if m.contains("password authentication failed") || m.contains("no password supplied")
            || m.contains("authentication failed") || m.contains("no pg_hba.conf entry")
            || m.contains("password is required")
        {
            return .authenticationFailed
        }
        if m.contains("database") && m.contains("does not exist") { return .databaseDoesNotExist }
        if m.contains("connection refused") { return .connectionRefused }
        if m.contains("could not translate host name") || m.contains("name or service not known")
            || m.contains("temporary failure in name resolution") || m.contains("nodename nor servname")
        {
            return .hostNotFound
        }
        if m.contains("no route to host") || m.contains("network is unreachable") || m.contains("host is unreachable") {
            return .unreachable
        }
        if m.contains("too many clients") || m.contains("remaining connection slots") { return .tooManyConnections }
        if m.contains("timeout expired") || m.contains("timed out") { return .timeout }
        return .other
    }

    private static func trimmed(_ message: String) -> String {
        message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    /// Removes the password from a libpq message, should one ever echo it.
    private func scrub(_ message: String) -> String {
        guard let password, !password.isEmpty, message.contains(password) else { return message }
        return message.replacingOccurrences(of: password, with: "***")
    }

    // MARK: Notices

    private func receive(notice result: OpaquePointer) {
        func field(_ code: Int32) -> String? { PQresultErrorField(result, code).map { String(cString: $0) } }
        let notice = PostgresNotice(
            severity: field(CLibPQ_DIAG_SEVERITY()) ?? "NOTICE",
            sqlState: field(CLibPQ_DIAG_SQLSTATE()),
            message: field(CLibPQ_DIAG_MESSAGE_PRIMARY()) ?? "",
            detail: field(CLibPQ_DIAG_MESSAGE_DETAIL()),
            hint: field(CLibPQ_DIAG_MESSAGE_HINT()))
        if notices.count < 10_000 { notices.append(notice) }
        var metadata: Logger.Metadata = ["db.severity": "\(notice.severity)"]
        if let s = notice.sqlState { metadata["db.sqlstate"] = "\(s)" }
        let level: Logger.Level =
            switch notice.severity {
            case "WARNING": .warning
            case "NOTICE": .info
            default: .debug
            }
        logger.log(level: level, "postgres \(notice.severity.lowercased()): \(notice.message)", metadata: metadata)
    }

    func takeNotices() -> [PostgresNotice] {
        defer { notices.removeAll() }
        return notices
    }

    // MARK: Statements

    func requireConnection() throws(PostgresError) -> OpaquePointer {
        guard let conn else { throw PostgresError(.connectionClosed, message: "the connection is closed", endpoint: endpoint) }
        return conn
    }

    /// Parameters in libpq's text format: one NUL-terminated value per bind in `arena` at
    /// `offsets` (-1: NULL), and their type OIDs.
    struct EncodedBinds {
        var arena: [UInt8] = []
        var offsets: [Int] = []
        var types: [Oid] = []

        init(_ binds: [PostgresValue]) throws(PostgresError) {
            guard binds.count <= 65535 else {
                throw PostgresError(.invalidValue, message: "\(binds.count) parameters; Postgres allows at most 65535")
            }
            offsets.reserveCapacity(binds.count)
            types.reserveCapacity(binds.count)
            for (i, value) in binds.enumerated() {
                types.append(Oid(value.typeOID))
                if value.isNull {
                    offsets.append(-1)
                    continue
                }
                let start = arena.count
                PostgresTextFormat.append(value, to: &arena)
                if arena[start...].contains(0) {
                    var e = PostgresError(.invalidValue, message: "parameter $\(i + 1) contains a NUL byte, which Postgres text cannot hold")
                    e.parameter = i + 1
                    throw e
                }
                arena.append(0)
                offsets.append(start)
            }
        }

        /// Calls `body` with the values as C strings (nil for NULL), valid only inside it.
        func withValues<R>(_ body: ([UnsafePointer<CChar>?]) -> R) -> R {
            arena.withUnsafeBufferPointer { buffer in
                body(offsets.map { offset in
                    offset < 0 ? nil : UnsafeRawPointer(buffer.baseAddress! + offset).assumingMemoryBound(to: CChar.self)
                })
            }
        }
    }

    /// One statement with parameters, extended protocol (PQexecParams), text format.
    func exec(_ sql: String, _ binds: [PostgresValue]) throws(PostgresError) -> PostgresRows {
        let conn = try requireConnection()
        try Self.checkSQL(sql)
        let encoded = try EncodedBinds(binds)
        notices.removeAll()
        let types = encoded.types
        let run = { (name: String?) -> OpaquePointer? in
            encoded.withValues { values in
                if let name { return PQexecPrepared(conn, name, Int32(types.count), values, nil, nil, 0) }
                return PQexecParams(conn, sql, Int32(types.count), types, values, nil, nil, 0)
            }
        }
        guard let name = try preparedName(sql, types: types) else { return try rows(from: run(nil)) }
        do {
            return try rows(from: run(name))
        } catch where error.isStalePlan {
            // A table the statement reads changed shape (a migration): forget the statement; run
            // it unnamed once more unless the failure aborted a transaction (the caller retries).
            forgetStatement(sql, types: types)
            if isInTransaction { throw error }
            return try rows(from: run(nil))
        }
    }

    /// A script of one or more statements (PQexec, simple protocol); returns the last result.
    /// Needed for VACUUM, REINDEX CONCURRENTLY and other statements that cannot run in a
    /// transaction block or in the extended protocol's implicit transaction with others.
    func simple(_ sql: String) throws(PostgresError) -> PostgresRows {
        let conn = try requireConnection()
        try Self.checkSQL(sql)
        notices.removeAll()
        return try rows(from: PQexec(conn, sql))
    }

    static func checkSQL(_ sql: String) throws(PostgresError) {
        if sql.utf8.contains(0) { throw PostgresError(.invalidUsage, message: "the SQL text contains a NUL character") }
    }

    /// Turns a result into rows, or into the error it carries. Takes ownership of `result`.
    func rows(from result: OpaquePointer?) throws(PostgresError) -> PostgresRows {
        guard let result else { throw connectionError() }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
            let tag = String(cString: PQcmdStatus(result))
            return PostgresRows(result: PGResultHandle(result), affectedRows: affected, commandTag: tag, notices: takeNotices())
        case PGRES_COPY_IN:
            PQclear(result)
            _ = PQputCopyEnd(conn, "COPY FROM STDIN must go through copyIn")
            drainResults()
            throw PostgresError(.invalidUsage, message: "COPY FROM STDIN must use copyIn(into:rows:)")
        case PGRES_COPY_OUT:
            PQclear(result)
            drainCopyOut()
            drainResults()
            throw PostgresError(.invalidUsage, message: "COPY TO STDOUT must use copyOut")
        default:
            let error = serverError(result)
            PQclear(result)
            drainResults()
            throw error
        }
    }

    /// The error a failed result carries; `.connectionLost` when the connection is now bad.
    func serverError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Int32) -> String? { PQresultErrorField(result, code).map { String(cString: $0) } }
        let sqlState = field(CLibPQ_DIAG_SQLSTATE())
        let primary = field(CLibPQ_DIAG_MESSAGE_PRIMARY())
        var e: PostgresError
        if sqlState == nil, primary == nil {
            e = connectionError(fallback: String(cString: PQresultErrorMessage(result)))
        } else {
            e = PostgresError(.server, message: primary ?? "", endpoint: endpoint)
            e.sqlState = sqlState
            e.severity = field(CLibPQ_DIAG_SEVERITY())
            e.detail = field(CLibPQ_DIAG_MESSAGE_DETAIL())
            e.hint = field(CLibPQ_DIAG_MESSAGE_HINT())
            e.schema = field(CLibPQ_DIAG_SCHEMA_NAME())
            e.table = field(CLibPQ_DIAG_TABLE_NAME())
            e.column = field(CLibPQ_DIAG_COLUMN_NAME())
            e.constraint = field(CLibPQ_DIAG_CONSTRAINT_NAME())
            if isBad { e.code = .connectionLost }
        }
        if e.code == .connectionLost {
            var metadata: Logger.Metadata = [:]
            if let s = e.sqlState { metadata["db.sqlstate"] = "\(s)" }
            logger.warning("postgres connection lost: \(e.message)", metadata: metadata)
        }
        return e
    }

    /// The connection-level error libpq reports (no result, or a result without fields).
    func connectionError(fallback: String = "") -> PostgresError {
        var message = conn.map { String(cString: PQerrorMessage($0)) } ?? ""
        if message.isEmpty { message = fallback }
        message = scrub(Self.trimmed(message))
        if message.isEmpty { message = "no result from the server" }
        return PostgresError(isBad ? .connectionLost : .server, message: message, endpoint: endpoint)
    }

    private func drainResults() {
        guard let conn else { return }
        while let r = PQgetResult(conn) {
            // A result in COPY state here would loop forever; end it.
            let status = PQresultStatus(r)
            PQclear(r)
            if status == PGRES_COPY_IN { _ = PQputCopyEnd(conn, "aborted") }
            if status == PGRES_COPY_OUT { drainCopyOut() }
            if isBad { break }
        }
    }

    private func drainCopyOut() {
        guard let conn else { return }
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 0)
            if let buffer { PQfreemem(buffer) }
            if n < 0 { return }
        }
    }

    // MARK: COPY

    /// Starts `COPY … FROM STDIN`: afterwards the connection is in COPY IN state until
    /// `copyInEnd`.
    func copyInStart(_ sql: String) throws(PostgresError) {
        let conn = try requireConnection()
        try Self.checkSQL(sql)
        notices.removeAll()
        guard let start = PQexec(conn, sql) else { throw connectionError() }
        let status = PQresultStatus(start)
        if status == PGRES_COPY_IN {
            PQclear(start)
            return
        }
        if status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR {
            let error = serverError(start)
            PQclear(start)
            drainResults()
            throw error
        }
        PQclear(start)
        drainResults()
        throw PostgresError(.invalidUsage, message: "copyIn needs a COPY … FROM STDIN statement")
    }

    /// Sends one chunk of COPY data. False when the COPY can no longer take data (the server
    /// failed it, or the connection broke); `copyInEnd` then reports why.
    func copyInSend(_ data: [UInt8]) -> Bool {
        guard let conn, !data.isEmpty else { return conn != nil }
        let sent = data.withUnsafeBytes { raw in
            PQputCopyData(conn, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(raw.count)) == 1
        }
        // Read what the server said so far, without blocking: an early error ends the COPY
        // state, and the next PQputCopyData fails instead of streaming into the void.
        if sent { _ = PQconsumeInput(conn) }
        return sent
    }

    /// Ends the COPY: normally, or aborted with `abortReason` (the server then fails it and
    /// nothing is copied). Returns the rows copied; throws the server's error if it failed.
    func copyInEnd(abortReason: String?) throws(PostgresError) -> Int {
        let conn = try requireConnection()
        _ = PQputCopyEnd(conn, abortReason)
        var copied = 0
        var failure: PostgresError?
        while let r = PQgetResult(conn) {
            let status = PQresultStatus(r)
            if status == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(r))) ?? 0
            } else if status == PGRES_COPY_IN {
                _ = PQputCopyEnd(conn, "aborted")
            } else if failure == nil {
                failure = serverError(r)
            }
            PQclear(r)
            if isBad { break }
        }
        if let failure { throw failure }
        if isBad { throw connectionError() }
        _ = takeNotices()
        return copied
    }

    /// Runs `COPY … TO STDOUT` and hands each data message (one row in text/CSV format) to
    /// `handler`. If the handler throws, the remaining data is read and dropped, then the error
    /// is rethrown. Returns the rows copied.
    func copyOut(_ sql: String, handler: ([UInt8]) throws -> Void) throws -> Int {
        let conn = try requireConnection()
        try Self.checkSQL(sql)
        notices.removeAll()
        guard let start = PQexec(conn, sql) else { throw connectionError() }
        let status = PQresultStatus(start)
        if status != PGRES_COPY_OUT {
            if status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR {
                let error = serverError(start)
                PQclear(start)
                drainResults()
                throw error
            }
            PQclear(start)
            drainResults()
            throw PostgresError(.invalidUsage, message: "copyOut needs a COPY … TO STDOUT statement")
        }
        PQclear(start)
        var handlerError: Error?
        var readFailed = false
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let buffer {
                if handlerError == nil {
                    let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                    do { try handler(bytes) } catch { handlerError = error }
                }
                PQfreemem(buffer)
            } else {
                if let buffer { PQfreemem(buffer) }
                readFailed = n == -2
                break
            }
        }
        var copied = 0
        var serverFailure: PostgresError?
        while let r = PQgetResult(conn) {
            let s = PQresultStatus(r)
            if s == PGRES_COMMAND_OK {
                copied = Int(String(cString: PQcmdTuples(r))) ?? 0
            } else if serverFailure == nil {
                serverFailure = serverError(r)
            }
            PQclear(r)
            if isBad { break }
        }
        if let serverFailure { throw serverFailure }
        if readFailed { throw connectionError() }
        if let handlerError { throw handlerError }
        _ = takeNotices()
        return copied
    }
}

/// Owns a PGcancel (PQgetCancel) and frees it in deinit.
final class PGCancelHandle: @unchecked Sendable {
    // @unchecked Sendable: PQcancel only reads the PGcancel object, and libpq documents it as
    // safe to call from any thread (even a signal handler) with a local error buffer; the object
    // is freed once, in deinit, when no thread can be using it.
    private let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { PQfreeCancel(pointer) }

    /// Sends a cancel request over a new connection to the server. Blocks briefly: never call
    /// it on the cooperative thread pool. Returns libpq's error text on failure.
    func send() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        if PQcancel(pointer, &buffer, Int32(buffer.count)) == 1 { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
