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
    return try await offPool { () throws -> (Int32, String) in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        var env = ProcessInfo.processInfo.environment
        env["SLUICE_API_URL"] = "http://127.0.0.1:\(port)"
        env["SLUICE_TEST_TOKEN"] = APIFixture.adminToken
        env["SLUICE_SCREENSHOT"] = screenshot
        env["SLUICE_SCENARIO"] = scenario
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
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
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let script = here.appendingPathComponent("Browser/dashboard_check.py").path
        let screenshot = here.appendingPathComponent("../../.build/dashboard-overview.png").standardized.path
        try? FileManager.default.removeItem(atPath: screenshot)
        try await withAPI { api in
            let port = api.client.port
            try await api.createContactsTable()
            let (status, output) = try await api.withWorker { try await api.withWorker(workloadClass: .import) {
                try await offPool { () throws -> (Int32, String) in
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    process.arguments = ["python3", script]
                    var env = ProcessInfo.processInfo.environment
                    env["SLUICE_API_URL"] = "http://127.0.0.1:\(port)"
                    env["SLUICE_TEST_TOKEN"] = APIFixture.adminToken
                    env["SLUICE_SCREENSHOT"] = screenshot
                    process.environment = env
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    process.standardError = pipe
                    try process.run()
                    let data = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                }
            } }
            #expect(status == 0, "dashboard_check.py failed:\n\(output)")
            #expect(output.contains("ok"))
            #expect(FileManager.default.fileExists(atPath: screenshot))
        }
    }
}
