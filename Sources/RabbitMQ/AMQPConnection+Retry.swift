// Connecting with retries: the pattern higher layers use to replace a broken connection.
//
// Only transient failures (refused, timeouts, lost or broker-forced connections) are retried;
// a wrong password or a missing vhost fails at once, since waiting will not fix it.

import ClientSupport
import Logging

/// Runs `connect` up to `attempts` times, sleeping `retry.delay(attempt:)` between transient
/// failures. Throws the last error, or CancellationError when the task is cancelled.
func withAMQPRetry<T>(
    retry: Backoff, attempts: Int, logger: Logger, what: String, _ connect: () async throws -> T
) async throws -> T {
    precondition(attempts >= 1)
    var attempt = 1
    while true {
        do {
            return try await connect()
        } catch let error as AMQPError where error.isTransient && attempt < attempts {
            let delay = retry.delay(attempt: attempt)
            logger.warning("\(what) failed; retrying", metadata: [
                "error": "\(error)", "attempt": "\(attempt)", "retry.delay_ms": "\(delay.milliseconds)",
            ])
            try await Task.sleep(for: delay)
            attempt += 1
        }
    }
}

extension AMQPConnection {
    /// `connect(configuration:logger:)`, retried with backoff on transient failures.
    public static func connect(
        configuration: AMQPConfiguration, retry: Backoff, attempts: Int, logger: Logger
    ) async throws -> AMQPConnection {
        try await withAMQPRetry(retry: retry, attempts: attempts, logger: logger, what: "AMQP connect") {
            try await connect(configuration: configuration, logger: logger)
        }
    }
}

extension AMQPPublisher {
    /// `connect(configuration:logger:)`, retried with backoff on transient failures.
    public static func connect(
        configuration: AMQPConfiguration, retry: Backoff, attempts: Int, logger: Logger
    ) async throws -> AMQPPublisher {
        try await withAMQPRetry(retry: retry, attempts: attempts, logger: logger, what: "AMQP publisher connect") {
            try await connect(configuration: configuration, logger: logger)
        }
    }
}

extension AMQPConsumer {
    /// `start(configuration:queue:prefetch:...)`, retried with backoff on transient failures.
    /// A missing queue (404) is not transient and fails at once.
    public static func start(
        configuration: AMQPConfiguration, queue: String, prefetch: UInt16, consumerTag: String = "",
        exclusive: Bool = false, arguments: AMQPTable = [:], retry: Backoff, attempts: Int, logger: Logger
    ) async throws -> AMQPConsumer {
        try await withAMQPRetry(retry: retry, attempts: attempts, logger: logger, what: "AMQP consumer start") {
            try await start(configuration: configuration, queue: queue, prefetch: prefetch, consumerTag: consumerTag,
                            exclusive: exclusive, arguments: arguments, logger: logger)
        }
    }
}
