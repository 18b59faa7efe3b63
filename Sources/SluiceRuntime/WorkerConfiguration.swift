// WorkerConfiguration: what a worker process serves and how (classes, slots, lease, shutdown).

import ClientSupport
import Foundation
import Postgres
import RabbitMQ
import SluiceCatalog
import SluiceCore
import SluiceMetrics

public struct WorkerConfiguration: Sendable {
    /// The classes served, each with its pool, timeouts, concurrency and prefetch.
    public var classes: [ClassSettings]
    /// Connection settings of the `main` target when `targets` does not say otherwise.
    public var postgres: PostgresConfiguration
    /// How to reach each target a job may name; pools per (target, class) open on first use.
    /// Default: `main` on `postgres`.
    public var targets: [String: TargetPools.Connection]
    /// A (target, class) pool unused this long is closed. Default 5 min.
    public var targetIdleTimeout: Duration
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
    /// Where the worker records job counters and histograms (`sluice worker --metrics-port`).
    /// Nil records nothing.
    public var metrics: JobMetrics?
    /// Dead-letter every envelope not signed by one of the publisher's keys (`unsigned`,
    /// `bad_signature`) and run nothing of it (`SLUICE_REQUIRE_SIGNED=1`). Default false.
    public var requireSigned = false

    public init(
        classes: [ClassSettings], postgres: PostgresConfiguration, amqp: AMQPConfiguration, name: String = WorkerConfiguration.defaultName(),
        lease: Duration = .seconds(30), shutdownGrace: Duration = .seconds(30), rescueInterval: Duration = .seconds(5),
        rescue: Bool = true, retryPolicy: RetryPolicy = RetryPolicy(), targets: [String: TargetPools.Connection]? = nil,
        targetIdleTimeout: Duration = .seconds(300)
    ) {
        self.classes = classes
        self.postgres = postgres
        self.targets = targets ?? [CatalogTarget.defaultName: .configured(postgres)]
        self.targetIdleTimeout = targetIdleTimeout
        self.amqp = amqp
        self.name = name
        self.lease = lease
        self.shutdownGrace = shutdownGrace
        self.rescueInterval = rescueInterval
        self.rescue = rescue
        self.retryPolicy = retryPolicy
    }

    /// A job that completes within this long is recorded once, with no claim (Worker+Short),
    /// unless its class says otherwise (`short_job_threshold`; zero claims every job first).
    /// Longer jobs are claimed at this age and from then on show as running in the ledger,
    /// renew a lease and see a cancel: a quarter second keeps that for every job an operator
    /// could watch, while a job that short saves its claim commit. At most a tenth of the lease.
    public static let defaultShortJobThreshold = Duration.milliseconds(250)

    /// `host:pid:random`.
    public static func defaultName() -> String {
        "\(ProcessInfo.processInfo.hostName):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }
}
