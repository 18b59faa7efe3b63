// Support: shared helpers for the Postgres integration tests: the server's configuration, a
// schema per test (created and dropped), a log handler that records what it is given, and
// TCP listeners for connection-failure tests.

import Foundation
import Logging
import Synchronization
import TestSupport
@testable import Postgres

#if canImport(Glibc)
import Glibc
#endif

enum PG {
    static var configuration: PostgresConfiguration {
        get throws { try PostgresConfiguration(url: TestEnvironment.postgresURL) }
    }

    static var logger: Logger {
        var logger = Logger(label: "postgres-tests")
        logger.logLevel = .error
        return logger
    }

    static func connect(_ configure: (inout PostgresConfiguration) -> Void = { _ in }) async throws -> PostgresConnection {
        var config = try configuration
        configure(&config)
        return try await PostgresConnection.connect(config, logger: logger)
    }

    /// Runs `body` with a fresh connection, closed afterwards.
    nonisolated(nonsending) static func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let conn = try await connect()
        do {
            let result = try await body(conn)
            await conn.close()
            return result
        } catch {
            await conn.close()
            throw error
        }
    }

    /// Runs `body` with a connection whose search_path is a fresh schema, dropped afterwards.
    nonisolated(nonsending) static func withSchema<T>(
        _ prefix: String = "pgt", _ body: (PostgresConnection, String) async throws -> T
    ) async throws -> T {
        let schema = TestEnvironment.uniqueName(prefix)
        let conn = try await connect { $0.settings["search_path"] = schema }
        try await conn.simpleQuery("CREATE SCHEMA \(PostgresIdentifier.quote(schema))")
        do {
            let result = try await body(conn, schema)
            try await cleanup(conn, schema)
            return result
        } catch {
            try? await cleanup(conn, schema)
            throw error
        }
    }

    private static func cleanup(_ conn: PostgresConnection, _ schema: String) async throws {
        if conn.isBroken {
            let other = try await connect()
            try await other.simpleQuery("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quote(schema)) CASCADE")
            await other.close()
        } else {
            if conn.isInTransaction { try await conn.simpleQuery("ROLLBACK") }
            try await conn.simpleQuery("DROP SCHEMA IF EXISTS \(PostgresIdentifier.quote(schema)) CASCADE")
            await conn.close()
        }
    }
}

/// Records log messages with their metadata.
struct CapturingLogHandler: LogHandler {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    final class Store: Sendable {
        let entries = Mutex<[Entry]>([])
        var all: [Entry] { entries.withLock { $0 } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(store: Store) { self.store = store }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged: [String: String] = [:]
        for (k, v) in metadata { merged[k] = "\(v)" }
        for (k, v) in event.metadata ?? [:] { merged[k] = "\(v)" }
        let entry = Entry(level: event.level, message: "\(event.message)", metadata: merged)
        store.entries.withLock { $0.append(entry) }
    }

    static func logger() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "capture") { _ in CapturingLogHandler(store: store) }, store)
    }
}

/// A TCP socket on 127.0.0.1 with an ephemeral port. `listening: true` accepts connections (the
/// kernel completes handshakes into the backlog) but never reads or writes: a "blackhole".
/// `listening: false` binds a port nobody listens on, then frees it: connecting is refused.
final class LocalPort: @unchecked Sendable {
    // @unchecked Sendable: `fd` is immutable after init; `isOpen` changes only in `close()`,
    // which a test calls from the one task that owns the port.
    let port: Int
    private let fd: Int32

    init(listening: Bool) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        if listening {
            guard listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        } else {
            Glibc.close(fd)
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        isOpen = listening
    }

    private var isOpen: Bool

    func close() {
        if isOpen { Glibc.close(fd) }
        isOpen = false
    }

    deinit { close() }
}

func elapsed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let start = ContinuousClock.now
    let value = try await body()
    return (value, ContinuousClock.now - start)
}

/// Runs `body`, expecting a PostgresError; returns it (nil if none or another error).
func expectPostgresError(_ body: () async throws -> Void) async -> PostgresError? {
    do {
        try await body()
        return nil
    } catch let e as PostgresError {
        return e
    } catch {
        return nil
    }
}
