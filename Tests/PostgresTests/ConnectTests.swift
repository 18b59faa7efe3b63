// Connecting: success facts, and each failure cause (refused, blackhole timeout, wrong password,
// missing database) typed, naming the endpoint, never the password, within the timeout.

import Foundation
import Testing
@testable import Postgres

@Suite struct ConnectTests {
    @Test func connectsAndReportsTheSession() async throws {
        let conn = try await PG.connect { $0.applicationName = "sluice-connect-test" }
        let rows = try await conn.query("SELECT pg_backend_pid(), current_setting('TimeZone'), current_setting('application_name'), current_setting('server_version_num')::int")
        let row = try #require(rows.first)
        #expect(try row.decode(0, as: Int32.self) == conn.backendPID)
        #expect(try row.decode(1, as: String.self) == "UTC")
        #expect(try row.decode(2, as: String.self) == "sluice-connect-test")
        #expect(try row.decode(3, as: Int.self) == conn.serverVersionNumber)
        #expect(conn.serverVersion.split(separator: ".").count == 2)
        #expect(conn.serverVersion.hasPrefix("\(conn.serverVersionNumber / 10000)."))
        #expect(!conn.isBroken)
        await conn.close()
        #expect(conn.isBroken)
        let e = await expectPostgresError { _ = try await conn.query("SELECT 1") }
        #expect(e?.code == .connectionClosed)
        await conn.close()  // idempotent
    }

    @Test func refusedPortFailsFastNamingTheEndpoint() async throws {
        let unused = try LocalPort(listening: false)
        var config = try PG.configuration
        config.host = "127.0.0.1"
        config.port = unused.port
        config.connectTimeout = .seconds(3)
        let (error, took) = await elapsed { await expectPostgresError { _ = try await PostgresConnection.connect(config, logger: PG.logger) } }
        let e = try #require(error)
        #expect(e.code == .connectionFailed)
        #expect(e.connectFailure == .connectionRefused)
        #expect(e.endpoint == "127.0.0.1:\(unused.port)/\(config.database)")
        #expect(e.description.contains("127.0.0.1:\(unused.port)"))
        #expect(e.description.contains("connection refused"))
        #expect(took < .seconds(3))
    }

    @Test func silentServerTimesOutAtTheConnectTimeout() async throws {
        let blackhole = try LocalPort(listening: true)
        defer { blackhole.close() }
        var config = try PG.configuration
        config.host = "127.0.0.1"
        config.port = blackhole.port
        config.connectTimeout = .seconds(1)
        let (error, took) = await elapsed { await expectPostgresError { _ = try await PostgresConnection.connect(config, logger: PG.logger) } }
        let e = try #require(error)
        #expect(e.code == .timeout)
        #expect(e.connectFailure == .timeout)
        #expect(e.endpoint?.contains(":\(blackhole.port)/") == true)
        #expect(took >= .milliseconds(900))
        #expect(took < .seconds(4))
    }

    @Test func wrongPasswordIsAnAuthenticationFailureWithoutThePassword() async throws {
        var config = try PG.configuration
        let secret = "Wr0ng-pa$$ w0rd:@/'\\"
        config.password = secret
        let (error, took) = await elapsed { await expectPostgresError { _ = try await PostgresConnection.connect(config, logger: PG.logger) } }
        let e = try #require(error)
        #expect(e.code == .connectionFailed)
        #expect(e.connectFailure == .authenticationFailed)
        #expect(e.endpoint == config.endpoint)
        #expect(!e.description.contains(secret))
        #expect(!e.debugDescription.contains(secret))
        #expect(!e.message.contains(secret))
        #expect(took < config.connectTimeout)
    }

    @Test func missingDatabase() async throws {
        var config = try PG.configuration
        config.database = "sluice_no_such_db_\(UInt32.random(in: 0...UInt32.max))"
        let e = try #require(await expectPostgresError { _ = try await PostgresConnection.connect(config, logger: PG.logger) })
        #expect(e.code == .connectionFailed)
        #expect(e.connectFailure == .databaseDoesNotExist)
        #expect(e.description.contains(config.database))
        #expect(e.description.contains("database does not exist"))
    }

    @Test func unknownHostName() async throws {
        var config = try PG.configuration
        config.host = "no-such-host.invalid"
        config.connectTimeout = .seconds(3)
        let e = try #require(await expectPostgresError { _ = try await PostgresConnection.connect(config, logger: PG.logger) })
        #expect(e.code == .connectionFailed || e.code == .timeout)
        #expect(e.description.contains("no-such-host.invalid"))
    }

    @Test func badSessionSettingIsAConfigurationError() async throws {
        let e = try #require(await expectPostgresError { _ = try await PG.connect { $0.role = "sluice_no_such_role" } })
        #expect(e.code == .invalidConfiguration)
        #expect(e.sqlState != nil)
    }

    @Test func sessionSettingsAreApplied() async throws {
        let role = "sluice_role_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try await PG.connect()
        try await admin.simpleQuery("CREATE ROLE \(PostgresIdentifier.quote(role)) NOLOGIN; GRANT \(PostgresIdentifier.quote(role)) TO CURRENT_USER")
        do {
            let conn = try await PG.connect {
                $0.statementTimeout = .milliseconds(1234)
                $0.lockTimeout = .milliseconds(250)
                $0.role = role
                $0.settings = ["search_path": "pg_catalog, public", "work_mem": "8MB"]
            }
            let row = try #require(try await conn.query(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), current_user, current_setting('search_path'), current_setting('work_mem')").first)
            #expect(try row.decode(0, as: String.self) == "1234ms")
            #expect(try row.decode(1, as: String.self) == "250ms")
            #expect(try row.decode(2, as: String.self) == role)
            #expect(try row.decode(3, as: String.self) == "pg_catalog, public")
            #expect(try row.decode(4, as: String.self) == "8MB")
            await conn.close()
        } catch {
            _ = try? await admin.simpleQuery("DROP ROLE IF EXISTS \(PostgresIdentifier.quote(role))")
            throw error
        }
        try await admin.simpleQuery("DROP ROLE IF EXISTS \(PostgresIdentifier.quote(role))")
        await admin.close()
    }
}
