// AMQPPublisher: publishes with publisher confirms on a connection and channel of its own.
//
// `publish` returns only once the broker has confirmed the message (stored it, for a persistent
// message to a durable queue) and throws on a nack, on a return of a mandatory message, and on
// any connection or channel failure before the confirm: a caller never sees a silent loss (but
// may see a failure for a message that was in fact stored: retry and deduplicate). Many
// publishes are in flight at once: the IOThread encodes all queued messages into one buffer and
// sends it, then reads confirms (the broker batches them as `multiple` acks) until new publishes
// arrive, so one round trip is shared by everything in flight. Limits: no automatic reconnect
// (see `AMQPPublisher.connect(configuration:retry:attempts:logger:)`); cancelling a publishing
// task does not withdraw its message; a broker that stops reading the socket (a long resource
// alarm) fails the publishes after `requestTimeout` rather than hanging them.

import CRabbitMQ
import ClientSupport
import Foundation
import Logging
import Synchronization

/// A confirm-mode publisher with its own connection.
public final class AMQPPublisher: Sendable {
    let session: AMQPSession
    private let core: PublisherCore

    private init(session: AMQPSession, core: PublisherCore) {
        self.session = session
        self.core = core
    }

    deinit {
        core.stopAccepting()
        session.requestClose()
    }

    /// Connects, opens a channel and puts it in confirm mode.
    public static func connect(configuration: AMQPConfiguration, logger: Logger) async throws -> AMQPPublisher {
        let session = try await AMQPSession.connect(configuration, role: "publisher", logger: logger)
        let channel = try await session.setUp { handle in
            let id = try session.allocateChannelID()
            try PublisherCore.openConfirmChannel(id, handle: handle)
            return id
        }
        let core = PublisherCore(channel: channel, endpoint: configuration.endpoint,
                                 stallLimit: max(configuration.requestTimeout, configuration.heartbeat * 2), logger: session.logger)
        session.startLoop(driver: core)
        return AMQPPublisher(session: session, core: core)
    }

    /// Publishes `message` and returns once the broker confirms it.
    ///
    /// - Parameter mandatory: when true (the default), a message that matches no queue fails
    ///   with `.unroutable` (reply code 312) instead of being dropped by the broker.
    /// - Throws: `AMQPError`: `.unroutable`, `.publishNacked`, `.channelClosed` (e.g. 404 when
    ///   the exchange does not exist; the publisher reopens its channel and stays usable),
    ///   `.connectionLost` / `.connectionClosed` (the publisher is then broken), `.closed`.
    public func publish(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = true) async throws {
        let outgoing = AMQPOutgoingMessage(message, exchange: exchange, routingKey: routingKey, mandatory: mandatory)
        try PublisherCore.validate(outgoing)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let waiter = PublisherCore.Waiter(target: .single(continuation), exchange: exchange, routingKey: routingKey)
            if core.enqueue([PublisherCore.Pending(outgoing: outgoing, waiter: waiter)]) { session.wake() }
        }
    }

    /// Publishes several messages at once; returns each one's outcome, in order, once all are
    /// settled. Cheaper than separate `publish` calls: one queue operation, one wake-up.
    public func publish(batch: [AMQPOutgoingMessage]) async -> [Result<Void, AMQPError>] {
        if batch.isEmpty { return [] }
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
            let collector = BatchCollector(count: batch.count, continuation: continuation)
            var pending: [PublisherCore.Pending] = []
            pending.reserveCapacity(batch.count)
            for (i, outgoing) in batch.enumerated() {
                let waiter = PublisherCore.Waiter(target: .batch(collector, i), exchange: outgoing.exchange, routingKey: outgoing.routingKey)
                do {
                    try PublisherCore.validate(outgoing)
                    pending.append(PublisherCore.Pending(outgoing: outgoing, waiter: waiter))
                } catch {
                    waiter.resume(.failure(error as! AMQPError))
                }
            }
            if !pending.isEmpty && core.enqueue(pending) { session.wake() }
        }
    }

    /// Opens a channel on this publisher's connection for topology requests (declaring the
    /// exchange it publishes to, say). Requests on it pause confirm reading for one round trip.
    public func openChannel() async throws -> AMQPChannel {
        let id = try await session.openTopologyChannel()
        return AMQPChannel(session: session, id: id, owner: self)
    }

    /// Publishes not yet confirmed, plus those queued but not written yet.
    public var outstanding: Int { core.outstandingCount }

    /// True once the connection failed; make a new publisher.
    public var isBroken: Bool { session.failure != nil }

    /// What broke the connection, if it broke.
    public var failure: AMQPError? { session.failure }

    public var serverProperties: AMQPTable { session.serverProperties }
    public var serverVersion: String? { session.serverProperties["version"]?.stringValue }
    public var serverProduct: String? { session.serverProperties["product"]?.stringValue }

    /// Stops accepting publishes, waits for the confirms of those in flight, then closes the
    /// connection.
    public func close() async {
        core.stopAccepting()
        await session.close()
    }
}
