import Testing
@testable import ClientSupport

@Suite struct ConnectionURLTests {
    @Test func parsesAllParts() throws {
        let url = try ConnectionURL(parsing: "postgresql://us%40er:p%3Ass@db.local:6543/app?sslmode=disable&application_name=x",
                                    schemes: ["postgresql", "postgres"])
        #expect(url.user == "us@er")
        #expect(url.password == "p:ss")
        #expect(url.host == "db.local")
        #expect(url.port == 6543)
        #expect(url.path == "app")
        #expect(url.queryValue("sslmode") == "disable")
        #expect(url.queryValue("application_name") == "x")
        #expect(!url.description.contains("p:ss"))
        #expect(url.description.contains("***"))
    }

    @Test func ipv6AndDefaults() throws {
        let url = try ConnectionURL(parsing: "redis://[::1]:7000", schemes: ["redis"])
        #expect(url.host == "::1")
        #expect(url.port == 7000)
        #expect(url.endpoint(defaultPort: 6379) == "[::1]:7000")
        let bare = try ConnectionURL(parsing: "redis://", schemes: ["redis"])
        #expect(bare.host == "localhost")
        #expect(bare.port == nil)
    }

    @Test func errorsNameThePart() {
        #expect(throws: URLParseError.self) { try ConnectionURL(parsing: "localhost:5432", schemes: ["postgresql"]) }
        do {
            _ = try ConnectionURL(parsing: "amqp://h:99999/", schemes: ["amqp"])
            Issue.record("expected an error")
        } catch {
            #expect(error.part == "port")
        }
        do {
            _ = try ConnectionURL(parsing: "mysql://h/", schemes: ["postgresql"])
            Issue.record("expected an error")
        } catch {
            #expect(error.part == "scheme")
        }
        do {
            _ = try ConnectionURL(parsing: "redis://:secret%zz@h/", schemes: ["redis"])
            Issue.record("expected an error")
        } catch {
            #expect(error.part == "password")
            #expect(!error.description.contains("secret"))
        }
    }
}

@Suite struct BackoffTests {
    @Test func growsAndCaps() {
        let b = Backoff(base: .milliseconds(100), cap: .seconds(1), jitter: 0)
        #expect(b.delay(attempt: 1) == .milliseconds(100))
        #expect(b.delay(attempt: 2) == .milliseconds(200))
        #expect(b.delay(attempt: 4) == .milliseconds(800))
        #expect(b.delay(attempt: 5) == .seconds(1))
        #expect(b.delay(attempt: 50) == .seconds(1))
    }

    @Test func jitterStaysInRange() {
        let b = Backoff(base: .seconds(1), cap: .seconds(60), jitter: 0.5)
        for n in 1...8 {
            let d = b.delay(attempt: n)
            #expect(d <= b.ceiling(attempt: n))
            #expect(d >= b.ceiling(attempt: n) / 2)
        }
    }
}

@Suite struct IOThreadTests {
    @Test func runsInOrderAndReturns() async throws {
        let thread = IOThread(name: "test-io")
        defer { thread.shutdown() }
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<100 { group.addTask { try await thread.run { i * 2 } } }
            return try await group.reduce(0, +)
        }
        #expect(results == (0..<100).reduce(0) { $0 + $1 * 2 })
    }

    @Test func propagatesErrorsAndRefusesAfterShutdown() async throws {
        struct Boom: Error {}
        let thread = IOThread(name: "test-io-2")
        await #expect(throws: Boom.self) { try await thread.run { throw Boom() } }
        thread.shutdown(wait: true)
        await #expect(throws: IOThreadShutDownError.self) { try await thread.run { 1 } }
    }

    @Test func parsesAHostList() throws {
        let url = try ConnectionURL(parsing: "amqp://u:p@a:5691,b,[::1]:5693/v", schemes: ["amqp"])
        #expect(url.hosts == [.init(name: "a", port: 5691), .init(name: "b", port: nil), .init(name: "::1", port: 5693)])
        #expect(url.host == "a" && url.port == 5691)
        #expect(url.description == "amqp://u:***@a:5691,b,[::1]:5693/v")
        #expect(throws: URLParseError.self) { try ConnectionURL(parsing: "amqp://a:1,,b:2/v", schemes: ["amqp"]) }
        #expect(throws: URLParseError.self) { try ConnectionURL(parsing: "amqp://a:1,b:x/v", schemes: ["amqp"]) }
    }
}
