// ReconnectGate: decides whether a new connection attempt may start now.
//
// After a failed connect, further attempts wait for a `Backoff` delay; during that window callers
// fail fast with `.unavailable` instead of each paying a connect timeout against a dead or
// black-holed Redis. Once an attempt has failed, only one probe runs at a time. A pure state
// machine: the caller passes the time and performs the attempt.

import ClientSupport

struct ReconnectGate: Sendable {
    enum Decision: Equatable {
        case attempt
        case refuse(RedisError)
    }

    let backoff: Backoff
    let endpoint: String
    private(set) var failures = 0
    private(set) var retryAt: ContinuousClock.Instant?
    private(set) var lastError: RedisError?
    private(set) var attemptsInFlight = 0

    init(backoff: Backoff, endpoint: String) {
        self.backoff = backoff
        self.endpoint = endpoint
    }

    /// Asks to start a connection attempt at `now`; on `.attempt` the caller must report back
    /// with `succeeded()` or `failed(_:now:)`.
    mutating func request(now: ContinuousClock.Instant) -> Decision {
        if let retryAt, now < retryAt {
            let wait = (retryAt - now).milliseconds
            return .refuse(unavailable("next reconnect attempt in \(wait) ms"))
        }
        if failures > 0 && attemptsInFlight > 0 {
            return .refuse(unavailable("a reconnect attempt is in progress"))
        }
        attemptsInFlight += 1
        return .attempt
    }

    mutating func succeeded() {
        attemptsInFlight = max(0, attemptsInFlight - 1)
        failures = 0
        retryAt = nil
        lastError = nil
    }

    mutating func failed(_ error: RedisError, now: ContinuousClock.Instant) {
        attemptsInFlight = max(0, attemptsInFlight - 1)
        failures += 1
        lastError = error
        retryAt = now + backoff.delay(attempt: failures)
    }

    private func unavailable(_ what: String) -> RedisError {
        var message = "Redis is unavailable (\(failures) failed connect attempt\(failures == 1 ? "" : "s")); \(what)"
        if let lastError { message += "; last error: \(lastError.code): \(lastError.message)" }
        return RedisError(.unavailable, message, endpoint: endpoint)
    }
}
