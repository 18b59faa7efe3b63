// Signed envelopes end to end, as a deployment runs them: a `sluice worker` process with
// SLUICE_REQUIRE_SIGNED=1 and two live keys (rotation) plus a reporting key the catalog's
// `producers:` limits to analytics. `sluice enqueue` signs with either rotation key and its
// jobs run; the reporting key is refused at enqueue. Envelopes published straight to the
// broker (unsigned, wrongly signed, signed then edited, unknown key, reporting key asking for
// maintenance) are dead-lettered with their reason and nothing runs: checked in the target
// database's own statistics and in the ledger. The Python example of the canonical form
// (docs/examples/sign_envelope.py) signs an envelope the worker runs.

import Foundation
import Glibc
import RabbitMQ
import SluiceCore
import SluiceRuntime
import TestSupport
import Testing

@Suite(.serialized) struct SignedEnvelopeTests {
    static func hexKey() -> String { (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }

    /// The repository's catalog plus a `producers:` file, in a temporary folder.
    static func catalogWithProducers() throws -> String {
        let dir = NSTemporaryDirectory() + TestEnvironment.uniqueName("catalog")
        try FileManager.default.copyItem(at: ScratchDatabase.repositoryRoot.appendingPathComponent("jobs"), to: URL(fileURLWithPath: dir))
        try """
            producers:
              reporting:
                kinds: [analytics.*]
                classes: [analytics]
            """.write(toFile: dir + "/producers.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test("a worker requiring signatures runs what rotation keys sign, dead-letters forged and unsigned envelopes, runs nothing of them")
    func requireSigned() async throws {
        try await ScratchDatabase.with("signed", seed: false) { db in
            let names = TestEnvironment.uniqueName("sig")
            let catalog = try Self.catalogWithProducers()
            defer { try? FileManager.default.removeItem(atPath: catalog) }
            let (oldKey, newKey, reportingKey) = (Self.hexKey(), Self.hexKey(), Self.hexKey())
            var env = cliEnvironment(database: db, names: names)
            env["SLUICE_CATALOG"] = catalog
            env["SLUICE_SIGNING_KEYS"] = "new:\(newKey),old:\(oldKey),reporting:\(reportingKey)"
            env["SLUICE_REQUIRE_SIGNED"] = "1"
            #expect(try await runSluice(["migrate"], environment: env).status == 0)

            // Without keys a worker cannot require signatures.
            var keyless = env
            keyless["SLUICE_SIGNING_KEYS"] = nil
            let refused = try await runSluice(["worker", "--classes", "maintenance"], environment: keyless)
            #expect(refused.status != 0)
            #expect(refused.output.contains("SLUICE_SIGNING_KEYS"), "\(refused.output)")

            let worker = Process()
            worker.executableURL = URL(fileURLWithPath: sluiceExecutable)
            worker.arguments = ["worker", "--classes", "maintenance,analytics", "--grace", "5s"]
            worker.environment = env
            let logPath = NSTemporaryDirectory() + names + ".log"
            FileManager.default.createFile(atPath: logPath, contents: nil)
            worker.standardOutput = FileHandle(forWritingAtPath: logPath)
            worker.standardError = FileHandle(forWritingAtPath: logPath)
            try worker.run()
            defer {
                if worker.isRunning { Glibc.kill(worker.processIdentifier, SIGKILL) }
                try? FileManager.default.removeItem(atPath: logPath)
            }
            func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
            func vacuums(_ table: String) async throws -> Int {
                try await db.value("SELECT coalesce(vacuum_count, 0)::int FROM pg_stat_user_tables WHERE relid = '\(table)'::regclass")
            }

            // Rotation: producers signing with the old key and with the new one both run.
            for producerKeys in ["old:\(oldKey)", "new:\(newKey),old:\(oldKey)"] {
                var producer = env
                producer["SLUICE_SIGNING_KEYS"] = producerKeys
                producer["SLUICE_REQUIRE_SIGNED"] = nil
                let r = try await runSluice(["enqueue", "maintenance.vacuum", "--args", #"{"table":"demo.leads"}"#,
                                             "--wait", "--wait-timeout", "60s", "--json"], environment: producer)
                #expect(r.status == 0, "\(r.output)\nworker log:\n\(log())")
                #expect(r.output.contains("completed"), "\(r.output)")
            }
            #expect(try await vacuums("demo.leads") == 2)
            // Both record who enqueued them: the CLI's OS user.
            let user = "cli:" + String(cString: getpwuid(geteuid())!.pointee.pw_name)
            #expect(try await db.value("SELECT count(*)::int FROM \(names).jobs WHERE enqueued_by = $1", [.text(user)], as: Int.self) == 2)

            // The reporting key may enqueue analytics only: refused at enqueue, nothing written.
            var reporting = env
            reporting["SLUICE_SIGNING_KEYS"] = "reporting:\(reportingKey)"
            let denied = try await runSluice(["enqueue", "maintenance.vacuum", "--args", #"{"table":"demo.campaigns"}"#], environment: reporting)
            #expect(denied.status == 1)
            #expect(denied.output.contains("not_allowed") && denied.output.contains("maintenance.vacuum"), "\(denied.output)")
            let rows = try await db.value("SELECT count(*)::int FROM \(names).jobs", as: Int.self)
            #expect(rows == 2)

            // Published straight to the broker: each must be dead-lettered with its reason.
            let topology = TopologyConfiguration(prefix: names)
            let publisher = JobPublisher(configuration: try AMQPConfiguration(url: TestEnvironment.amqpURL), topology: topology,
                                         logger: .init(label: "test"))
            defer { Task { await publisher.close() } }
            let signers = try (
                new: EnvelopeSigner(parsing: "new:\(newKey)"), forged: EnvelopeSigner(parsing: "new:\(Self.hexKey())"),
                ghost: EnvelopeSigner(parsing: "ghost:\(Self.hexKey())"), reporting: EnvelopeSigner(parsing: "reporting:\(reportingKey)"))
            func vacuum(_ table: String) -> Envelope {
                Envelope(kind: "maintenance.vacuum", args: ["table": .string(table)], enqueuedBy: "api:admin")
            }
            func publish(_ envelope: Envelope, body: [UInt8]? = nil, headers: AMQPTable) async throws {
                var m = publisher.message(for: envelope, workloadClass: "maintenance", tier: nil)
                if let body { m.message.body = body }
                m.message.properties.headers = headers
                try await publisher.publish(m)
            }
            var expected: [String: String] = [:]  // job id -> reason
            let unsigned = vacuum("demo.campaigns")
            try await publish(unsigned, headers: [:])
            expected[unsigned.id.description] = "unsigned"
            let forged = vacuum("demo.campaigns")
            try await publish(forged, headers: signers.forged.headers(for: forged.encoded()))
            expected[forged.id.description] = "bad_signature"
            // A valid message captured and replayed with other arguments.
            let original = vacuum("demo.leads")
            let edited = vacuum("demo.campaigns")
            var replayed = edited
            replayed.id = original.id
            try await publish(replayed, body: replayed.encoded(), headers: signers.new.headers(for: original.encoded()))
            expected[original.id.description] = "bad_signature"
            let ghost = vacuum("demo.campaigns")
            try await publish(ghost, headers: signers.ghost.headers(for: ghost.encoded()))
            expected[ghost.id.description] = "bad_signature"
            let byReporting = vacuum("demo.campaigns")
            try await publish(byReporting, headers: signers.reporting.headers(for: byReporting.encoded()))
            expected[byReporting.id.description] = "not_allowed"

            var reasons: [String: String] = [:]
            let deadline = Date().addingTimeInterval(30)
            while reasons.count < expected.count && Date() < deadline {
                let list = try await runSluice(["dead", "list", "--json"], environment: env)
                if case .array(let letters)? = (try? JSONValue.parse(Array(list.output.utf8)))?.objectValue?["dead_letters"] {
                    for l in letters {
                        if let id = l.objectValue?["id"]?.stringValue, let reason = l.objectValue?["reason"]?.stringValue { reasons[id] = reason }
                    }
                }
                if reasons.count < expected.count { try await Task.sleep(for: .milliseconds(300)) }
            }
            #expect(reasons == expected, "worker log:\n\(log())")
            // Nothing ran: no VACUUM reached demo.campaigns, and the ledger holds none of them.
            #expect(try await vacuums("demo.campaigns") == 0)
            #expect(try await vacuums("demo.leads") == 2)
            let ledgered = try await db.value("SELECT count(*)::int FROM \(names).jobs WHERE id = ANY($1::uuid[])",
                                              [.textArray(Array(expected.keys))], as: Int.self)
            #expect(ledgered == 0)

            // The Python example of the canonical form signs an envelope this worker runs.
            let python = try await runProcess("python3", [
                ScratchDatabase.repositoryRoot.appendingPathComponent("docs/examples/sign_envelope.py").path,
                "--key-id", "old", "--key-hex", oldKey, "--kind", "maintenance.vacuum", "--args", #"{"table":"demo.workspaces"}"#,
                "--prefix", names,
            ])
            #expect(python.status == 0, "\(python.output)")
            let out = try #require(try JSONValue.parse(Array(python.output.utf8)).objectValue)
            let body = Array(try #require(out["body"]?.stringValue).utf8)
            let id = try #require(out["message_id"]?.stringValue)
            var headers: AMQPTable = [:]
            for (k, v) in out["headers"]?.objectValue ?? [:] { headers[k] = .string(v.stringValue ?? "") }
            #expect(out["exchange"]?.stringValue == topology.jobsExchange)
            try await publisher.publish(AMQPOutgoingMessage(
                AMQPMessage(body: body, properties: AMQPProperties(contentType: "application/json", headers: headers, messageId: id)),
                exchange: try #require(out["exchange"]?.stringValue), routingKey: try #require(out["routing_key"]?.stringValue)))
            try await db.waitUntil("SELECT count(*) = 1 FROM \(names).jobs WHERE id = '\(id)' AND state = 'completed'",
                                   timeout: .seconds(60), "the Python-signed job completed\n\(log())")
            #expect(try await vacuums("demo.workspaces") == 1)
            // Published by hand without an identity: the ledger names the key that signed it.
            #expect(try await db.value("SELECT enqueued_by FROM \(names).jobs WHERE id = '\(id)'", as: String.self) == "key:old")

            Glibc.kill(worker.processIdentifier, SIGTERM)
            _ = try await offPool { () -> Bool in
                let deadline = Date().addingTimeInterval(20)
                while worker.isRunning && Date() < deadline { usleep(20_000) }
                return !worker.isRunning
            }
            // Neither the keys nor the signatures reach the log.
            let text = log()
            for secret in [oldKey, newKey, reportingKey] { #expect(!text.contains(secret)) }
        }
    }
}
