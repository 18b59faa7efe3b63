// URL parsing and description of RedisConfiguration: no server needed.

import ClientSupport
import Redis
import Testing

@Suite struct RedisConfigurationTests {
    @Test func parsesPasswordOnlyURL() throws {
        let c = try RedisConfiguration(url: "redis://:s3cret@cache.internal:6380/3")
        #expect(c.host == "cache.internal")
        #expect(c.port == 6380)
        #expect(c.username == nil)
        #expect(c.password == "s3cret")
        #expect(c.database == 3)
        #expect(c.connectTimeout == .seconds(2))
        #expect(c.commandTimeout == .seconds(5))
        #expect(!c.description.contains("s3cret"))
        #expect(c.description == "redis://:***@cache.internal:6380/3")
    }

    @Test func parsesACLUserURL() throws {
        let c = try RedisConfiguration(url: "redis://alice:p%40ss@127.0.0.1/0")
        #expect(c.username == "alice")
        #expect(c.password == "p@ss")
        #expect(c.port == 6379)
        #expect(c.database == 0)
        #expect(c.description == "redis://alice:***@127.0.0.1:6379")
        #expect(c.endpoint == "127.0.0.1:6379")
    }

    @Test func defaults() throws {
        let c = try RedisConfiguration(url: "redis://localhost")
        #expect(c.host == "localhost" && c.port == 6379 && c.database == 0 && c.password == nil)
    }

    @Test(arguments: [
        ("http://localhost", "scheme"),
        ("rediss://localhost", "scheme"),
        ("localhost:6379", "scheme"),
        ("redis://localhost:99999", "port"),
        ("redis://localhost:abc", "port"),
        ("redis://localhost/zero", "database"),
        ("redis://localhost/-1", "database"),
        ("redis://:%zz@localhost", "password"),
        ("redis://alice@localhost", "password"),
    ])
    func rejectsBadURLs(url: String, part: String) {
        #expect {
            _ = try RedisConfiguration(url: url)
        } throws: { error in
            (error as? URLParseError)?.part == part
        }
    }

    @Test func malformedPasswordIsNotEchoed() {
        do {
            _ = try RedisConfiguration(url: "redis://:hunter%2@localhost")
            Issue.record("expected a parse error")
        } catch {
            #expect(!error.description.contains("hunter"))
        }
    }

    @Test func argumentsDescribeOnlyTheirShape() {
        let arg: RedisArgument = "top secret value"
        #expect(!arg.description.contains("secret"))
        #expect(RedisArgument([0, 1, 2]).description == "<bytes 3>")
    }

    @Test func serverErrorsDoNotEchoArguments() async throws {
        // Redis 7 quotes the first arguments of an unknown command: the client cuts them.
        let redis = try await Shared.connect()
        let error = await redisError { try await redis.send("NOSUCHCOMMAND", "secret-payload-value") }
        #expect(error?.code == .server)
        #expect(error?.serverCode == "ERR")
        #expect(error.map { !$0.description.contains("secret-payload-value") } == true)
        #expect(error?.message.contains("unknown command") == true)
        await redis.close()
    }

    @Test func parsesASentinelURL() throws {
        let c = try RedisConfiguration(url: "redis-sentinel://:secret@127.0.0.1:26401,127.0.0.1:26402,s3/mymaster/2")
        #expect(c.masterName == "mymaster")
        #expect(c.sentinels.map { "\($0.host):\($0.port)" } == ["127.0.0.1:26401", "127.0.0.1:26402", "s3:26379"])
        #expect(c.database == 2 && c.password == "secret")
        #expect(c.description == "redis-sentinel://:***@127.0.0.1:26401,127.0.0.1:26402,s3:26379/mymaster/2")
        #expect(throws: URLParseError.self) { try RedisConfiguration(url: "redis-sentinel://127.0.0.1:26401") }
        #expect(throws: URLParseError.self) { try RedisConfiguration(url: "redis://a:1,b:2/0") }
        #expect(try RedisConfiguration(url: "redis://a:1/0").masterName == nil)
    }
}
