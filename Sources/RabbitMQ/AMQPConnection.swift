// AMQPConnection: a plain broker connection for topology requests and for `sluice doctor`.
//
// Owns one IOThread whose poll loop keeps heartbeats flowing while the connection sits idle.
// Publishing and consuming have their own types with their own connections (`AMQPPublisher`,
// `AMQPConsumer`): rabbitmq-c cannot mix confirms and deliveries on one channel. A connection
// never reconnects by itself (its channels' state would silently vanish): once `isBroken`, make
// a new one, e.g. with `connect(_:retry:attempts:logger:)`.

import ClientSupport
import Logging

/// A connection to RabbitMQ for topology requests.
public final class AMQPConnection: Sendable {
    let session: AMQPSession

    private init(session: AMQPSession) {
        self.session = session
    }

    deinit {
        session.requestClose()
    }

    /// Connects and logs in, within `configuration.connectTimeout`.
    ///
    /// - Throws: `AMQPError` naming the endpoint and the cause: `.connectionRefused`,
    ///   `.connectTimeout`, `.hostNotFound`, `.authenticationFailed` (403),
    ///   `.virtualHostNotFound` / `.virtualHostAccessRefused` (530), `.protocolError`,
    ///   `.tlsFailed` (amqps: certificate not verified, host not named, client certificate refused).
    public static func connect(configuration: AMQPConfiguration, logger: Logger) async throws -> AMQPConnection {
        let session = try await AMQPSession.connect(configuration, role: "connection", logger: logger)
        session.startLoop(driver: nil)
        return AMQPConnection(session: session)
    }

    /// Opens a channel for topology requests.
    public func openChannel() async throws -> AMQPChannel {
        let id = try await session.openTopologyChannel()
        return AMQPChannel(session: session, id: id, owner: self)
    }

    /// True once the connection failed (socket closed, heartbeats missed, broker closed it).
    public var isBroken: Bool { session.failure != nil }

    /// What broke the connection, if it broke.
    public var failure: AMQPError? { session.failure }

    /// The broker's server-properties table (product, version, platform, cluster_name...).
    public var serverProperties: AMQPTable { session.serverProperties }
    /// e.g. "3.10.8".
    public var serverVersion: String? { session.serverProperties["version"]?.stringValue }
    /// e.g. "RabbitMQ".
    public var serverProduct: String? { session.serverProperties["product"]?.stringValue }

    /// Closes the connection politely and waits for it.
    public func close() async {
        await session.close()
    }
}
