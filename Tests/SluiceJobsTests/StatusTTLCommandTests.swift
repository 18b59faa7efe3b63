// SLUICE_STATUS_TTL through the CLI: a job's status hash in Redis gets the configured lifetime
// (7 days unset), and a value that is not a duration of at least 1s is refused, naming the
// variable, before anything is enqueued.

import Foundation
import Redis
import Testing
import TestSupport

@Suite(.serialized) struct StatusTTLCommandTests {
    @Test("SLUICE_STATUS_TTL sets the status hash's lifetime; 0s and 'soon' are refused naming the variable")
    func statusTTL() async throws {
        try await ScratchDatabase.with("cli_status_ttl", seed: false) { db in
            let names = TestEnvironment.uniqueName("ttl")
            var env = cliEnvironment(database: db, names: names)
            let migrate = try await runSluice(["migrate"], environment: env)
            #expect(migrate.status == 0, "\(migrate.output)")
            let redis = RedisPool(connection: try RedisConfiguration(url: TestEnvironment.redisURL), size: 1)
            func ttl(of output: String) async throws -> Int {
                let id = output.split(separator: "\n").last.map(String.init) ?? ""
                return try await redis.send(["TTL", RedisArgument("\(names):job:\(id)")]).int ?? -3
            }
            let byDefault = try await runSluice(["enqueue", "sys.noop"], environment: env)
            #expect(byDefault.status == 0, "\(byDefault.output)")
            #expect(try await ttl(of: byDefault.output) > 6 * 86_400)

            env["SLUICE_STATUS_TTL"] = "90s"
            let short = try await runSluice(["enqueue", "sys.noop"], environment: env)
            #expect(short.status == 0, "\(short.output)")
            let seconds = try await ttl(of: short.output)
            #expect(seconds > 0 && seconds <= 90, "TTL \(seconds)")

            for bad in ["0s", "soon"] {
                env["SLUICE_STATUS_TTL"] = bad
                let refused = try await runSluice(["enqueue", "sys.noop"], environment: env)
                #expect(refused.status != 0)
                #expect(refused.output.contains("SLUICE_STATUS_TTL") && refused.output.contains(bad), "\(refused.output)")
            }
            let rows = try await db.value("SELECT count(*)::bigint FROM \(names).jobs", as: Int.self)
            #expect(rows == 2)  // the refused enqueues wrote nothing
            await redis.close()
        }
    }
}
