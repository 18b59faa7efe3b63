// offPool: runs blocking test code (waiting for a child process, sleeping in a retry loop,
// reading a pipe to its end) on a thread of its own.
//
// Tests run in parallel on Swift's cooperative pool, which has one thread per core (two
// here). One test blocking a pool thread for a second stalls every other test's async work,
// and their timeouts then fire for no fault of the code under test.

import ClientSupport

/// Runs `body` on a fresh dedicated thread and returns its result.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let thread = IOThread(name: "test-blocking")
    defer { thread.shutdown() }
    return try await thread.run(body)
}
