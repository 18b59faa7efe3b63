// docker-compose.yml stays valid (Debian's docker-compose parses it without an engine) and its
// sluice services keep their contract: a health check on /readyz, a worker whose stop grace
// period covers its --grace.

import Foundation
import Testing

@Suite struct ComposeTests {
    @Test func composeFileIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-compose", "-f", root.appendingPathComponent("docker-compose.yml").path, "config"]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "docker-compose config failed (is Debian's docker-compose installed? scripts/test installs it): \(errors)")
        for service in ["api:", "worker:", "scheduler:", "migrate:", "postgres:", "rabbitmq:", "redis:"] {
            #expect(text.contains("  \(service)"), "service \(service) missing")
        }
        #expect(text.contains("http://127.0.0.1:8080/readyz"))
        // The worker drains for --grace 30s; compose must wait longer before SIGKILL.
        #expect(text.contains("--grace") && text.contains("30s"))
        #expect(text.contains("stop_grace_period: 35s"))
    }
}
