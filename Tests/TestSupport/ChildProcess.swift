// runProcess: a child process run to its end with stdout and stderr together, off the
// cooperative pool (waiting for it blocks a thread).

import Foundation

/// Runs `executable arguments…` (a path, or a name looked up through /usr/bin/env) and returns
/// its exit status and everything it printed.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil)
    async throws -> (status: Int32, output: String) {
    try await offPool { try runProcessBlocking(executable, arguments, environment: environment) }
}

/// The same on the calling thread (for code already off the pool).
public func runProcessBlocking(_ executable: String, _ arguments: [String], environment: [String: String]? = nil)
    throws -> (status: Int32, output: String) {
    let process = Process()
    if executable.hasPrefix("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
