// `sluice doctor`: connects to the three servers, prints each one's version and round-trip
// time, and says plainly what is wrong when something is (unreachable, auth failed, a missing
// extension), then lists the catalog's targets (the databases jobs run against) and whether each
// is reachable from here. Exits 1 when any check fails.

import ArgumentParser
import SluiceCLI
import ClientSupport
import Foundation
import Logging
import Postgres
import RabbitMQ
import Redis
import SluiceCatalog
import SluiceCatalogLoader

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check Postgres, RabbitMQ and Redis: versions, round-trip times, problems.")

    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Connect timeout per server, in seconds.") var timeout: Int = 5

    struct Check {
        var server: String
        var endpoint: String
        var ok: Bool
        var version: String?
        var rttMillis: Double?
        var problems: [String] = []
        var notes: [String] = []

        var dictionary: [String: Any] {
            var d: [String: Any] = ["server": server, "endpoint": endpoint, "ok": ok, "problems": problems, "notes": notes]
            if let version { d["version"] = version }
            if let rttMillis { d["rtt_ms"] = (rttMillis * 1000).rounded() / 1000 }
            return d
        }
    }

    func run() async throws {
        SluiceLogging.bootstrap()
        let settings = Settings.fromEnvironment()
        let logger = Logger(label: "sluice.doctor")
        let connectTimeout = Duration.seconds(max(1, timeout))
        async let pg = checkPostgres(settings.postgresURL, connectTimeout, logger)
        async let mq = checkRabbitMQ(settings.amqpURL, connectTimeout, logger)
        async let rd = checkRedis(settings.redisURL, connectTimeout, logger)
        var checks = await [pg, mq, rd]
        checks += await checkTargets(settings, connectTimeout, logger)

        if json {
            Output.json(["ok": checks.allSatisfy(\.ok), "servers": checks.map(\.dictionary)])
        } else {
            for c in checks {
                let status = c.ok ? "ok  " : "FAIL"
                var line = "\(c.server.padding(toLength: 16, withPad: " ", startingAt: 0)) \(status)  \(c.endpoint)"
                if let v = c.version { line += "  version \(v)" }
                if let r = c.rttMillis { line += String(format: "  rtt %.3f ms", r) }
                print(line)
                for p in c.problems { print("          problem: \(p)") }
                for n in c.notes { print("          \(n)") }
            }
        }
        if !checks.allSatisfy(\.ok) { throw ExitCode(1) }
    }

    /// Median of `n` timed calls, in milliseconds.
    static func medianMillis(_ n: Int, _ body: () async throws -> Void) async throws -> Double {
        var samples: [Double] = []
        for _ in 0..<n {
            let start = ContinuousClock.now
            try await body()
            samples.append((ContinuousClock.now - start).seconds * 1000)
        }
        return samples.sorted()[samples.count / 2]
    }

    func checkPostgres(_ url: String, _ connectTimeout: Duration, _ logger: Logger) async -> Check {
        var config: PostgresConfiguration
        do {
            config = try PostgresConfiguration(url: url)
        } catch {
            return Check(server: "postgres", endpoint: "SLUICE_POSTGRES_URL", ok: false, problems: ["\(error)"])
        }
        config.connectTimeout = connectTimeout
        config.applicationName = "sluice doctor"
        var check = Check(server: "postgres", endpoint: config.endpoint, ok: false)
        do {
            let conn = try await PostgresConnection.connect(config, logger: logger)
            check.version = conn.serverVersion
            check.rttMillis = try await Self.medianMillis(5) { _ = try await conn.query("SELECT 1") }
            let preload = try await conn.query("SELECT current_setting('shared_preload_libraries')")
            let installed = try await conn.query("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
            let preloaded = (try preload[0].decode(0, as: String.self)).contains("pg_stat_statements")
            if !preloaded {
                check.problems.append("pg_stat_statements is not in shared_preload_libraries: add it to postgresql.conf and restart (health reports need it)")
            } else if try installed[0].decode(0, as: Int.self) == 0 {
                check.problems.append("extension pg_stat_statements is missing: run CREATE EXTENSION pg_stat_statements (as a superuser)")
            } else {
                check.notes.append("pg_stat_statements: installed")
            }
            let ledger = try await conn.query("SELECT to_regclass('sluice.jobs') IS NOT NULL")
            check.notes.append(try ledger[0].decode(0, as: Bool.self) ? "ledger: migrated" : "ledger: not migrated yet (run `sluice migrate`)")
            await conn.close()
            check.ok = check.problems.isEmpty
        } catch {
            check.problems.append("\(error)")
        }
        return check
    }

    /// One check per catalog target (`target main`, `target tenant_b`): resolved from its
    /// `url_env` / `url`, connected, version and round trip.
    func checkTargets(_ settings: Settings, _ connectTimeout: Duration, _ logger: Logger) async -> [Check] {
        let loaded = CatalogLoader.check(directory: settings.catalogPath)
        guard loaded.isValid else {
            return [Check(server: "catalog", endpoint: settings.catalogPath, ok: false,
                          problems: ["the catalog is invalid (\(loaded.problems.count) problems): run `sluice catalog check`"])]
        }
        var checks: [Check] = []
        for target in loaded.catalog.targets {
            let name = "target \(target.name)"
            var config: PostgresConfiguration
            switch TargetResolution.resolve(target, settings: settings) {
            case .success(let c): config = c
            case .failure(let reason):
                checks.append(Check(server: name, endpoint: "-", ok: false, problems: [reason.description]))
                continue
            }
            config.connectTimeout = connectTimeout
            config.applicationName = "sluice doctor"
            var check = Check(server: name, endpoint: config.endpoint, ok: false)
            do {
                let conn = try await PostgresConnection.connect(config, logger: logger)
                check.version = conn.serverVersion
                check.rttMillis = try await Self.medianMillis(3) { _ = try await conn.query("SELECT 1") }
                await conn.close()
                check.ok = true
            } catch {
                check.problems.append("\(error)")
            }
            checks.append(check)
        }
        return checks
    }

    func checkRabbitMQ(_ url: String, _ connectTimeout: Duration, _ logger: Logger) async -> Check {
        var config: AMQPConfiguration
        do {
            config = try AMQPConfiguration(url: url)
        } catch {
            return Check(server: "rabbitmq", endpoint: "SLUICE_AMQP_URL", ok: false, problems: ["\(error)"])
        }
        config.connectTimeout = connectTimeout
        config.connectionName = "sluice doctor"
        var check = Check(server: "rabbitmq", endpoint: config.endpoint, ok: false)
        do {
            let conn = try await AMQPConnection.connect(configuration: config, logger: logger)
            check.version = conn.serverVersion
            let channel = try await conn.openChannel()
            check.rttMillis = try await Self.medianMillis(5) { try await channel.declareExchangePassive("amq.direct") }
            await conn.close()
            check.ok = true
        } catch {
            check.problems.append("\(error)")
        }
        return check
    }

    func checkRedis(_ url: String, _ connectTimeout: Duration, _ logger: Logger) async -> Check {
        var config: RedisConfiguration
        do {
            config = try RedisConfiguration(url: url)
        } catch {
            return Check(server: "redis", endpoint: "SLUICE_REDIS_URL", ok: false, problems: ["\(error)"])
        }
        config.connectTimeout = connectTimeout
        var check = Check(server: "redis", endpoint: config.endpoint, ok: false)
        do {
            let conn = try await RedisConnection.connect(configuration: config, logger: logger)
            check.version = try await conn.serverVersion()
            var samples: [Double] = []
            for _ in 0..<5 { samples.append(try await conn.ping().seconds * 1000) }
            check.rttMillis = samples.sorted()[2]
            await conn.close()
            check.ok = true
        } catch {
            check.problems.append("\(error)")
        }
        return check
    }
}
