// WorkerConfiguration: what a worker process serves and how (classes, slots, lease, shutdown).

import ClientSupport
import Foundation
import Postgres
import RabbitMQ
import SluiceCatalog
import SluiceCore

public struct WorkerConfiguration: Sendable {
    /// The classes served, each with its pool, timeouts, concurrency and prefetch.
    public var classes: [ClassSettings]
    /// Connection settings for the class pools (each class adds its role and timeouts).
    public var postgres: PostgresConfiguration
    public var amqp: AMQPConfiguration
    /// This worker's name in the ledger (`worker` column) and in leases.
    public var name: String
    /// How long a claim holds a job without a heartbeat. Default 30 s; heartbeats every third.
    public var lease: Duration
    /// How long SIGTERM waits for running jobs before cancelling and requeueing them. Default 30 s.
    public var shutdownGrace: Duration
    /// How often the leader looks for expired leases. Default 5 s.
    public var rescueInterval: Duration
    /// Whether this worker takes part in the rescue election. Default true.
    public var rescue: Bool
    public var retryPolicy: RetryPolicy

    public init(
        classes: [ClassSettings], postgres: PostgresConfiguration, amqp: AMQPConfiguration, name: String = WorkerConfiguration.defaultName(),
        lease: Duration = .seconds(30), shutdownGrace: Duration = .seconds(30), rescueInterval: Duration = .seconds(5),
        rescue: Bool = true, retryPolicy: RetryPolicy = RetryPolicy()
    ) {
        self.classes = classes
        self.postgres = postgres
        self.amqp = amqp
        self.name = name
        self.lease = lease
        self.shutdownGrace = shutdownGrace
        self.rescueInterval = rescueInterval
        self.rescue = rescue
        self.retryPolicy = retryPolicy
    }

    /// `host:pid:random`.
    public static func defaultName() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// The pool configuration of one class.
    func poolConfiguration(_ c: ClassSettings) -> PostgresPool.Configuration {
        var connection = postgres
        connection.statementTimeout = c.statementTimeout
        connection.lockTimeout = c.lockTimeout
        connection.role = c.role?.rawValue
        if c.readOnly { connection.settings["default_transaction_read_only"] = "on" }
        connection.applicationName = "sluice-worker-\(c.workloadClass.rawValue)"
        return PostgresPool.Configuration(connection: connection, minConnections: 0, maxConnections: max(1, c.poolSize))
    }
}
