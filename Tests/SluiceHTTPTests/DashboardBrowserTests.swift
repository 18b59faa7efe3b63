// The dashboard in a real browser: Debian's headless Chromium driven by selenium
// (Browser/dashboard_check.py) against a live `sluice api` with a worker. Logs in, sees a job
// enqueued through the API complete without a reload, replays a dead letter, saves a screenshot
// of the overview (.build/dashboard-overview.png), and fails on any JavaScript error.
// scripts/test installs chromium, chromium-driver and selenium.

import Foundation
import TestSupport
import Testing

/// Runs dashboard_check.py against the API on `port`; returns its exit status and output.
func runBrowserScript(port: Int, scenario: String, screenshot: String) async throws -> (Int32, String) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/dashboard_check.py").path
    var env = ProcessInfo.processInfo.environment
    env["SLUICE_API_URL"] = "http://127.0.0.1:\(port)"
    env["SLUICE_TEST_TOKEN"] = APIFixture.adminToken
    env["SLUICE_SCREENSHOT"] = screenshot
    env["SLUICE_SCENARIO"] = scenario
    return try await runProcess("python3", [script], environment: env)
}

@Suite(.serialized) struct DashboardBrowserTests {
    @Test func dashboardSaysRedisIsDown() async throws {
        let closed = try freeLoopbackPort()
        let screenshot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/dashboard-redis-down.png").standardized.path
        try await withAPI(redisURL: "redis://127.0.0.1:\(closed)/0") { api in
            let (status, output) = try await runBrowserScript(port: api.client.port, scenario: "redis-down", screenshot: screenshot)
            #expect(status == 0, "dashboard_check.py (redis-down) failed:\n\(output)")
        }
    }

    @Test func dashboardInHeadlessChromium() async throws {
        let screenshot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/dashboard-overview.png").standardized.path
        try? FileManager.default.removeItem(atPath: screenshot)
        try await withAPI { api in
            try await api.createContactsTable()
            let (status, output) = try await api.withWorker { try await api.withWorker(workloadClass: .import) {
                try await runBrowserScript(port: api.client.port, scenario: "full", screenshot: screenshot)
            } }
            #expect(status == 0, "dashboard_check.py failed:\n\(output)")
            #expect(output.contains("ok"))
            #expect(FileManager.default.fileExists(atPath: screenshot))
        }
    }
}
