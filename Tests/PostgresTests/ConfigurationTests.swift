// Configuration and URL parsing, session settings, identifier quoting, error descriptions.
// No server needed.

import ClientSupport
import Testing
@testable import Postgres

@Suite struct ConfigurationTests {
    @Test func parsesAFullURL() throws {
        let c = try PostgresConfiguration(
            url: "postgresql://app%40corp:p%40ss%3Aw%2Frd@db.example.com:6432/orders?sslmode=require&application_name=sluice%20worker&connect_timeout=2.5")
        #expect(c.user == "app@corp")
        #expect(c.password == "p@ss:w/rd")
        #expect(c.host == "db.example.com")
        #expect(c.port == 6432)
        #expect(c.database == "orders")
        #expect(c.sslMode == .require)
        #expect(c.applicationName == "sluice worker")
        #expect(c.connectTimeout == .milliseconds(2500))
        #expect(c.endpoint == "db.example.com:6432/orders")
        #expect(!c.description.contains("p@ss"))
        #expect(c.description.contains("***"))
    }

    @Test func defaultsAndPostgresScheme() throws {
        let c = try PostgresConfiguration(url: "postgres://bob@localhost")
        #expect(c.port == 5432)
        #expect(c.database == "bob")
        #expect(c.password == nil)
        #expect(c.connectTimeout == .seconds(5))
        #expect(c.sslMode == nil)
    }

    @Test func badURLsNameThePart() {
        func part(_ url: String) -> String? {
            do {
                _ = try PostgresConfiguration(url: url)
                return nil
            } catch {
                return error.part
            }
        }
        #expect(part("mysql://u@h/db") == "scheme")
        #expect(part("u@h/db") == "scheme")
        #expect(part("postgresql://u@h:99999/db") == "port")
        #expect(part("postgresql://u@h:abc/db") == "port")
        #expect(part("postgresql://u:p%zz@h/db") == "password")
        #expect(part("postgresql://u@h/db?sslmode=sometimes") == "query parameter 'sslmode'")
        #expect(part("postgresql://u@h/db?pool=3") == "query parameter 'pool'")
        #expect(part("postgresql://u@h/db?connect_timeout=-1") == "query parameter 'connect_timeout'")
        #expect(part("postgresql://u@h/db/extra") == "path")
    }

    @Test func aMalformedPasswordEscapeDoesNotShowThePassword() {
        do {
            _ = try PostgresConfiguration(url: "postgresql://u:secret%zz@h/db")
            Issue.record("expected an error")
        } catch {
            #expect(!"\(error)".contains("secret"))
        }
    }

    @Test func keywordsCarrySpecialCharactersVerbatim() {
        let c = PostgresConfiguration(host: "h", database: "d b", user: "u", password: "a b'c\\d=e")
        let keywords = Dictionary(uniqueKeysWithValues: c.connectionKeywords())
        #expect(keywords["password"] == "a b'c\\d=e")
        #expect(keywords["dbname"] == "d b")
        #expect(keywords["client_encoding"] == "UTF8")
    }

    @Test func sessionSettings() {
        var c = PostgresConfiguration(database: "d", user: "u")
        c.statementTimeout = .milliseconds(1500)
        c.lockTimeout = .microseconds(1)  // rounds up: never 0, which would mean "no limit"
        c.role = "reader"
        c.settings = ["search_path": "a, b"]
        let s = Dictionary(uniqueKeysWithValues: c.sessionSettings())
        #expect(s["statement_timeout"] == "1500ms")
        #expect(s["lock_timeout"] == "1ms")
        #expect(s["TimeZone"] == "UTC")
        #expect(s["search_path"] == "a, b")
        #expect(c.sessionSettings().last! == ("role", "reader"))
        c.settings["timezone"] = "Asia/Kolkata"
        #expect(Dictionary(uniqueKeysWithValues: c.sessionSettings())["TimeZone"] == nil)
    }

    @Test func identifierQuoting() {
        #expect(PostgresIdentifier.quote("jobs") == "\"jobs\"")
        #expect(PostgresIdentifier.quote("my \"table\"") == "\"my \"\"table\"\"\"")
        #expect(PostgresIdentifier.quote("Upper Case; DROP") == "\"Upper Case; DROP\"")
        #expect(PostgresIdentifier.quote(schema: "s", "t") == "\"s\".\"t\"")
    }

    @Test func errorDescriptionsKeepValuesOut() {
        var e = PostgresError(.server, message: "invalid input syntax for type integer: \"hunter2\"")
        e.sqlState = "22P02"
        #expect(!e.description.contains("hunter2"))
        #expect(e.debugDescription.contains("hunter2"))
        var u = PostgresError(.server, message: "duplicate key value violates unique constraint \"t_pkey\"")
        u.sqlState = PostgresError.uniqueViolation
        u.detail = "Key (id)=(secret-42) already exists."
        u.table = "t"
        u.constraint = "t_pkey"
        #expect(!u.description.contains("secret-42"))
        #expect(u.description.contains("23505"))
        #expect(u.description.contains("t_pkey"))
        #expect(PostgresValue.text("s3cr3t").description == "text(…)")
    }

    @Test func errorClassification() {
        var e = PostgresError(.server, message: "x")
        e.sqlState = PostgresError.serializationFailure
        #expect(e.isTransient && !e.isConnectionError)
        e.sqlState = PostgresError.uniqueViolation
        #expect(!e.isTransient)
        e.sqlState = PostgresError.adminShutdown
        #expect(e.isConnectionError && e.isTransient)
        var auth = PostgresError(.connectionFailed, message: "x")
        auth.connectFailure = .authenticationFailed
        #expect(auth.isConnectionError && !auth.isTransient)
        auth.connectFailure = .connectionRefused
        #expect(auth.isTransient)
    }

    @Test func severalHostsGoToLibpqAsLists() throws {
        let c = try PostgresConfiguration(url: "postgresql://u:p@127.0.0.1:5451,127.0.0.1:5452/sluice?target_session_attrs=read-write")
        let keywords = Dictionary(uniqueKeysWithValues: c.connectionKeywords())
        #expect(keywords["host"] == "127.0.0.1,127.0.0.1")
        #expect(keywords["port"] == "5451,5452")
        #expect(keywords["target_session_attrs"] == "read-write")
        #expect(c.endpoint == "127.0.0.1:5451,127.0.0.1:5452/sluice")
        let one = try PostgresConfiguration(url: "postgresql://u:p@db/sluice")
        #expect(Dictionary(uniqueKeysWithValues: one.connectionKeywords())["port"] == "5432")
    }

    @Test func failoverErrorsAreClassified() {
        var e = PostgresError(.server, message: "x")
        e.sqlState = PostgresError.readOnlySQLTransaction
        #expect(e.isReadOnlyTransaction && e.isTransient && !e.isConnectionError)
        e.sqlState = PostgresError.adminShutdown
        #expect(e.isConnectionError && e.isTransient && !e.isReadOnlyTransaction)
    }
}
