// JobPublisher: a confirm-mode publisher that replaces its connection when it breaks.
//
// `AMQPPublisher` never reconnects (its channel state would vanish silently); this wrapper
// connects lazily, and after a failure the next publish connects anew with backoff. A publish
// returns only once the broker confirmed it, or throws: never a silent loss. Topology is
// declared once per new connection, so a broker restarted without its definitions recovers.

import ClientSupport
import Logging
import RabbitMQ
import SluiceCore
import Synchronization

public final class JobPublisher: Sendable {
    private let configuration: AMQPConfiguration
    private let topology: TopologyConfiguration
    /// Signs every envelope published (nil: unsigned); workers verify with the same keys.
    public let signer: EnvelopeSigner?
    private let logger: Logger
    private let current = Mutex<AMQPPublisher?>(nil)
    private let connecting = ConnectGate()

    public init(configuration: AMQPConfiguration, topology: TopologyConfiguration, signer: EnvelopeSigner? = nil, logger: Logger) {
        self.configuration = configuration
        self.topology = topology
        self.signer = signer
        self.logger = logger
    }

    /// The live publisher, connecting (and declaring the topology) when there is none.
    func publisher(attempts: Int) async throws -> AMQPPublisher {
        if let p = current.withLock({ $0 }), !p.isBroken { return p }
        return try await connecting.serialize {
            if let p = current.withLock({ $0 }), !p.isBroken { return p }
            // Connect and declare are retried together: a cluster node that has just started
            // (or lost a peer) can refuse a quorum queue declare with 541 INTERNAL_ERROR for a moment.
            let retry = Backoff(base: .milliseconds(100), cap: .seconds(2), jitter: 0.5)
            var attempt = 1
            while true {
                do {
                    let p = try await AMQPPublisher.connect(configuration: configuration, retry: retry, attempts: attempts, logger: logger)
                    do {
                        let channel = try await p.openChannel()
                        do {
                            try await Topology.declare(on: channel, topology)
                            try? await channel.close()
                        } catch let e as AMQPError where e.replyCode == 403 {
                            // A least-privilege user (README "Production deployment") may not
                            // declare: the operator's `sluice migrate --topology` did. The
                            // refusal closed only that channel; publishing goes on.
                            logger.info("this broker user may not declare the topology; using what an operator declared",
                                        metadata: ["amqp.user": "\(configuration.user)"])
                        }
                    } catch {
                        await p.close()
                        throw error
                    }
                    current.withLock { $0 = p }
                    return p
                } catch let error as AMQPError where error.isTransient && attempt < attempts {
                    logger.warning("declaring the topology failed; retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                    try await Task.sleep(for: retry.delay(attempt: attempt))
                    attempt += 1
                }
            }
        }
    }

    /// Publishes the messages and waits for their confirms; one result per message.
    /// - Parameter attempts: connect attempts when there is no live connection.
    public func publish(_ batch: [AMQPOutgoingMessage], attempts: Int = 3) async -> [Result<Void, any Error>] {
        guard !batch.isEmpty else { return [] }
        let p: AMQPPublisher
        do {
            p = try await publisher(attempts: attempts)
        } catch {
            return Array(repeating: .failure(error), count: batch.count)
        }
        let results = await p.publish(batch: batch)
        return results.map { $0.mapError { $0 as any Error } }
    }

    /// Publishes one message, retrying on a new connection when the connection broke.
    public func publish(_ message: AMQPOutgoingMessage, tries: Int = 1) async throws {
        var attempt = 1
        while true {
            let r = await publish([message])[0]
            switch r {
            case .success: return
            case .failure(let error):
                if attempt >= tries { throw error }
                attempt += 1
                try await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    /// The message that carries `envelope` to class `workloadClass`, after `tier` seconds.
    public func message(for envelope: Envelope, workloadClass: String, tier: Int?, headers extra: AMQPTable = [:]) -> AMQPOutgoingMessage {
        let route = Topology.route(topology, workloadClass: workloadClass, tier: tier)
        var headers = route.headers
        headers.merge(extra) { _, new in new }
        let body = envelope.encoded()
        if let signer { headers.merge(signer.headers(for: body)) { _, new in new } }
        // user_id: RabbitMQ refuses a message whose user_id is not the connection's user, so a
        // worker can trust it as the publisher's broker identity.
        let properties = AMQPProperties(
            contentType: "application/json", headers: headers, deliveryMode: .persistent,
            priority: topology.queueType == .classic ? envelope.priority.map { UInt8($0) } : nil,
            messageId: envelope.id.description, type: envelope.kind.rawValue, userId: configuration.user)
        return AMQPOutgoingMessage(AMQPMessage(body: body, properties: properties),
                                   exchange: route.exchange, routingKey: route.routingKey, mandatory: true)
    }

    /// The messages carrying `envelopes` to class `workloadClass` now, several per message
    /// (JobPack): at most `maxJobs` jobs and `JobPack.maxBytes` bytes each, every line signed
    /// alone when this publisher signs; all with `priority`. Returns each message with the
    /// number of envelopes it carries, in order.
    public func packs(_ envelopes: [Envelope], workloadClass: String, priority: Int?, maxJobs: Int) -> [(message: AMQPOutgoingMessage, count: Int)] {
        var out: [(AMQPOutgoingMessage, Int)] = []
        var body: [UInt8] = []
        var count = 0
        var first: JobID?
        func close() {
            guard let id = first else { return }
            out.append((packMessage(body, count: count, firstID: id, workloadClass: workloadClass, priority: priority), count))
            body = []
            count = 0
            first = nil
        }
        for e in envelopes {
            let line = JobPack.line(e.encoded(), signer: signer)
            if count > 0, count >= maxJobs || body.count + line.count > JobPack.maxBytes { close() }
            if first == nil {
                first = e.id
                body.reserveCapacity(min(JobPack.maxBytes, line.count * min(maxJobs, envelopes.count)))
            }
            body.append(contentsOf: line)
            count += 1
        }
        close()
        return out
    }

    private func packMessage(_ body: [UInt8], count: Int, firstID: JobID, workloadClass: String, priority: Int?) -> AMQPOutgoingMessage {
        let route = Topology.route(topology, workloadClass: workloadClass, tier: nil)
        var headers = route.headers
        headers[JobPack.countHeader] = .int64(Int64(count))
        let properties = AMQPProperties(
            contentType: JobPack.contentType, headers: headers, deliveryMode: .persistent,
            priority: topology.queueType == .classic ? priority.map { UInt8($0) } : nil,
            messageId: "pack:\(firstID)", type: "sluice.pack", userId: configuration.user)
        return AMQPOutgoingMessage(AMQPMessage(body: body, properties: properties),
                                   exchange: route.exchange, routingKey: route.routingKey, mandatory: true)
    }

    /// A dead letter: the original body unchanged, the reason in headers.
    public func deadLetter(body: [UInt8], messageID: String?, headers: AMQPTable) -> AMQPOutgoingMessage {
        let properties = AMQPProperties(contentType: "application/json", headers: headers, deliveryMode: .persistent,
                                        messageId: messageID)
        return AMQPOutgoingMessage(AMQPMessage(body: body, properties: properties), exchange: topology.deadExchange,
                                   routingKey: "", mandatory: true)
    }

    public func close() async {
        let p = current.withLock { p -> AMQPPublisher? in
            defer { p = nil }
            return p
        }
        await p?.close()
    }
}

/// Lets one task at a time run a connect; the others wait for it and then re-check.
final class ConnectGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func serialize<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let go = state.withLock { s -> Bool in
                if s.busy { s.waiters.append(c); return false }
                s.busy = true
                return true
            }
            if go { c.resume() }
        }
        defer {
            let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiters.isEmpty { s.busy = false; return nil }
                return s.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
