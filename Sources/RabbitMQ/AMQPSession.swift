// AMQPSession: one broker connection, its IOThread and the poll loop that runs on it.
//
// The loop is the connection's only user of rabbitmq-c. It waits in poll(2) on the socket and on
// an eventfd that other threads write to when they queue work, so a publish, an ack or a close is
// acted on at once instead of after a poll timeout. It calls into the library at least every half
// heartbeat, so heartbeats flow whatever the owning Swift code is doing, and it declares the
// connection lost after three heartbeat intervals of silence from the broker. Requests (declare,
// bind...) are IOThread work items that the loop runs between polls. The session never
// reconnects: once broken it stays broken, and its owner makes a new one.

import CRabbitMQ
import ClientSupport
import Foundation
import Logging
import Synchronization

/// What a publisher or consumer plugs into its session's loop. Called only on the IOThread.
protocol AMQPSessionDriver: AnyObject, Sendable {
    /// Sends what other threads queued (publishes, acks). Called once per loop turn.
    func flush(_ handle: AMQPConnectionHandle) throws(AMQPError)
    /// A frame on one of the driver's channels. Returns false when not the driver's business.
    func handle(frame: amqp_frame_t, handle: AMQPConnectionHandle) throws(AMQPError) -> Bool
    /// The broker closed channel `channel` (close-ok already sent). Returns false when not the
    /// driver's channel.
    func channelClosed(_ channel: UInt16, error: AMQPError, handle: AMQPConnectionHandle) throws(AMQPError) -> Bool
    /// True when an orderly close may proceed (nothing awaits the broker any more).
    var readyToClose: Bool { get }
    /// The loop has ended: `error` is nil after an orderly close. Called exactly once.
    func finished(error: AMQPError?)
}

final class AMQPSession: @unchecked Sendable {
    // @unchecked Sendable: `handle`, `driver`, `channels`, `nextChannelID` and the timestamps are
    // touched only on `thread` (by the loop and the work items it runs). Cross-thread state sits
    // in `shared` (a Mutex); `wakeArmed` is atomic and `wakeFD` is immutable.
    let configuration: AMQPConfiguration
    let endpoint: String
    let logger: Logger
    let thread: IOThread
    private let wakeFD: Int32
    private let wakeArmed = Atomic<Bool>(false)
    private let shared = Mutex(Shared())

    private struct Shared {
        var failure: AMQPError?
        var closeRequested = false
        var finished = false
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var serverProperties: AMQPTable = [:]
    }

    private struct TopologyChannel {
        var open = true
        var lastError: AMQPError?
    }

    private var handle: AMQPConnectionHandle?
    private var driver: (any AMQPSessionDriver)?
    private var channels: [UInt16: TopologyChannel] = [:]
    private var nextChannelID: UInt16 = 1
    private var lastReceive = ContinuousClock.now
    private var lastLibraryCall = ContinuousClock.now

    private init(configuration: AMQPConfiguration, role: String, logger: Logger) {
        self.configuration = configuration
        self.endpoint = configuration.endpoint
        var logger = logger
        logger[metadataKey: "amqp.endpoint"] = .string(configuration.endpoint)
        logger[metadataKey: "amqp.role"] = .string(role)
        self.logger = logger
        self.thread = IOThread(name: "amqp-\(role)")
        self.wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(wakeFD >= 0, "eventfd failed: \(String(cString: strerror(errno)))")
    }

    deinit {
        thread.shutdown()
        _ = Glibc.close(wakeFD)
    }

    /// Connects on a new IOThread. The loop is not running yet: the owner does its setup with
    /// `setUp` and then calls `startLoop`.
    /// With several nodes, tries each in turn (starting after the node this process reached
    /// last, so a dead node is tried last and connections spread over the cluster) and returns
    /// the first that accepts; only transient failures move on to the next node.
    static func connect(_ configuration: AMQPConfiguration, role: String, logger: Logger) async throws -> AMQPSession {
        let nodes = configuration.nodes
        if nodes.count == 1 { return try await connect(node: configuration, role: role, logger: logger) }
        let start = nextNode.add(1, ordering: .relaxed).oldValue
        var lastError: (any Error)?
        for offset in 0..<nodes.count {
            let node = nodes[(start + offset) % nodes.count]
            do {
                return try await connect(node: configuration.node(node), role: role, logger: logger)
            } catch let error as AMQPError where error.isTransient {
                logger.info("AMQP node unavailable; trying the next", metadata: [
                    "amqp.endpoint": "\(error.endpoint ?? "")", "error": "\(error)"])
                lastError = error
            }
        }
        throw lastError!
    }

    /// Rotates the first node tried by `connect` over the process's connections.
    private static let nextNode = Atomic<Int>(0)

    private static func connect(node configuration: AMQPConfiguration, role: String, logger: Logger) async throws -> AMQPSession {
        let session = AMQPSession(configuration: configuration, role: role, logger: logger)
        let defaultName = "sluice-\(role)@\(ProcessInfo.processInfo.hostName):\(getpid())"
        do {
            let properties = try await session.thread.run { () throws -> AMQPTable in
                let handle = try AMQPConnectionHandle.open(configuration, defaultName: defaultName)
                session.handle = handle
                session.lastReceive = .now
                session.lastLibraryCall = .now
                return handle.serverProperties
            }
            session.shared.withLock { $0.serverProperties = properties }
        } catch {
            session.thread.shutdown()
            throw error
        }
        session.logger.debug("connected", metadata: ["amqp.vhost": .string(configuration.virtualHost)])
        return session
    }

    /// Runs `body` on the IOThread before the loop starts (channel setup). On failure the
    /// session is torn down and the error rethrown.
    func setUp<T: Sendable>(_ body: @escaping @Sendable (AMQPConnectionHandle) throws -> T) async throws -> T {
        do {
            return try await thread.run { [self] in
                guard let handle else { throw closedError("set up") }
                return try body(handle)
            }
        } catch {
            thread.execute { [self] in teardown(error: (error as? AMQPError) ?? closedError("set up")) }
            throw error
        }
    }

    /// Starts the poll loop with `driver` (nil for a plain connection). The loop holds the session.
    func startLoop(driver: (any AMQPSessionDriver)?) {
        thread.execute { [self] in
            self.driver = driver
            runLoop()
        }
    }

    // MARK: Cross-thread API

    var serverProperties: AMQPTable { shared.withLock { $0.serverProperties } }

    /// The error that broke the connection, if it broke (not after an orderly close).
    var failure: AMQPError? {
        shared.withLock { s in
            guard let f = s.failure, f.code != .closed else { return nil }
            return f
        }
    }

    var isFinished: Bool { shared.withLock { $0.finished } }

    /// Wakes the loop out of poll(2). Cheap when already woken.
    func wake() {
        if !wakeArmed.exchange(true, ordering: .sequentiallyConsistent) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Runs `body` on the IOThread between polls and returns its result.
    func perform<T: Sendable>(
        _ context: @autoclosure @escaping @Sendable () -> String,
        _ body: @escaping @Sendable (AMQPConnectionHandle) throws(AMQPError) -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = thread.execute { [self] in
                do {
                    continuation.resume(returning: try runOnThread(context(), body))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            if accepted {
                wake()
            } else {
                continuation.resume(throwing: finishedError(context()))
            }
        }
    }

    /// Asks for an orderly close and waits until the connection is closed.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s -> Bool in
                if s.finished { return true }
                s.closeRequested = true
                s.closeWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() } else { wake() }
        }
    }

    /// Asks for an orderly close without waiting (deinit of an owner).
    func requestClose() {
        let pending = shared.withLock { s -> Bool in
            if s.finished { return false }
            s.closeRequested = true
            return true
        }
        if pending { wake() }
    }

    var closeRequested: Bool { shared.withLock { $0.closeRequested } }

    func finishedError(_ context: String) -> AMQPError {
        if let f = shared.withLock({ $0.failure }) {
            var e = f
            if e.code != .closed { e.context = "\(context): connection broke earlier: \(f.context)" } else { e.context = context + ": connection closed" }
            return e
        }
        return closedError(context)
    }

    private func closedError(_ context: String) -> AMQPError {
        AMQPError(.closed, context: context + ": connection closed", endpoint: endpoint)
    }

    // MARK: Topology channels (IOThread)

    /// Opens a channel for topology requests; it is reopened transparently after the broker
    /// closes it (404 on a passive declare, 406 on an inequivalent redeclare...).
    func openTopologyChannel() async throws -> UInt16 {
        try await perform("open channel") { [self] (handle) throws(AMQPError) -> UInt16 in
            let id = try allocateChannelID()
            try handle.openChannel(id)
            channels[id] = TopologyChannel()
            return id
        }
    }

    /// Allocates the next channel number (IOThread only).
    func allocateChannelID() throws(AMQPError) -> UInt16 {
        guard nextChannelID < 2047 else {
            throw AMQPError(.invalidArgument, context: "open channel", endpoint: endpoint, detail: "channel numbers exhausted")
        }
        defer { nextChannelID += 1 }
        return nextChannelID
    }

    /// Runs a request on topology channel `id`, reopening it first if the broker closed it.
    func onChannel<T: Sendable>(
        _ id: UInt16, _ context: @autoclosure @escaping @Sendable () -> String,
        _ body: @escaping @Sendable (AMQPConnectionHandle) throws(AMQPError) -> T
    ) async throws -> T {
        try await perform(context()) { [self] (handle) throws(AMQPError) -> T in
            guard var state = channels[id] else {
                throw AMQPError(.closed, context: context() + ": channel \(id) was closed", endpoint: endpoint)
            }
            if !state.open {
                try handle.openChannel(id)
                state.open = true
                channels[id] = state
            }
            do throws(AMQPError) {
                let result = try body(handle)
                handle.pool.recycle()
                return result
            } catch {
                handle.pool.recycle()
                if error.code == .channelClosed {
                    channels[id]?.open = false
                    channels[id]?.lastError = error
                    logger.debug("channel closed by broker", metadata: ["amqp.channel": "\(id)", "error": "\(error)"])
                }
                throw error
            }
        }
    }

    /// The last error the broker closed topology channel `id` with.
    func lastChannelError(_ id: UInt16) async -> AMQPError? {
        try? await perform("channel state") { [self] (_) throws(AMQPError) -> AMQPError? in channels[id]?.lastError }
    }

    func closeTopologyChannel(_ id: UInt16) async throws {
        try await perform("close channel \(id)") { [self] (handle) throws(AMQPError) in
            guard let state = channels.removeValue(forKey: id), state.open else { return }
            let reply = amqp_channel_close(handle.state, id, AMQP_REPLY_SUCCESS)
            try handle.check(reply, channel: id, context: "close channel \(id)")
        }
    }

    // MARK: The loop (IOThread)

    private func runOnThread<T>(_ context: String, _ body: (AMQPConnectionHandle) throws(AMQPError) -> T) throws(AMQPError) -> T {
        guard let handle else { throw finishedError(context) }
        try handle.ensureUsable()
        let result = try body(handle)
        lastLibraryCall = .now
        return result
    }

    private func runLoop() {
        while true {
            wakeArmed.store(false, ordering: .sequentiallyConsistent)
            thread.runPending()
            guard let handle else { return }
            if let broken = handle.brokenError {
                teardown(error: broken)
                return
            }
            do throws(AMQPError) {
                // Read before flushing: whatever was queued before close() was asked for (the
                // last acks) is flushed in this turn, before the connection closes.
                let closing = closeRequested
                try driver?.flush(handle)
                try drainBuffered(handle)
                if closing && (driver?.readyToClose ?? true) {
                    teardown(error: nil)
                    return
                }
                try waitForEvents(handle)
                try serviceHeartbeats(handle)
            } catch {
                teardown(error: handle.brokenError ?? error)
                return
            }
        }
    }

    /// Half the heartbeat interval, or 5 s without heartbeats.
    private var serviceInterval: Duration {
        guard let handle, handle.heartbeatSeconds > 0 else { return .seconds(5) }
        return .milliseconds(handle.heartbeatSeconds * 500)
    }

    private func waitForEvents(_ handle: AMQPConnectionHandle) throws(AMQPError) {
        let remaining = serviceInterval - (ContinuousClock.now - lastLibraryCall)
        let timeout = Int32(clamping: max(0, remaining.milliseconds))
        var fds = (
            pollfd(fd: handle.socketFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        )
        let n = withUnsafeMutableBytes(of: &fds) { raw in
            poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, timeout)
        }
        if n < 0 {
            if errno == EINTR { return }
            throw AMQPError(.library, context: "poll", endpoint: endpoint, detail: String(cString: strerror(errno)))
        }
        if fds.1.revents != 0 {
            var counter: UInt64 = 0
            _ = read(wakeFD, &counter, 8)
        }
        if fds.0.revents != 0 {
            lastReceive = .now
            try readFrames(handle, limit: 1024)
        }
    }

    /// Calls into the library often enough for heartbeats to be sent, and notices a silent broker.
    private func serviceHeartbeats(_ handle: AMQPConnectionHandle) throws(AMQPError) {
        guard handle.heartbeatSeconds > 0 else { return }
        let now = ContinuousClock.now
        if now - lastLibraryCall >= serviceInterval {
            try readFrames(handle, limit: 1024)
        }
        // The broker sends a heartbeat every half interval when idle: three intervals of
        // silence is six missed heartbeats, a dead peer or a silent partition.
        let limit = Duration.seconds(3 * handle.heartbeatSeconds)
        if now - lastReceive > limit {
            // This thread may itself have been descheduled: look at the socket before blaming
            // the broker.
            var pfd = pollfd(fd: handle.socketFD, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 0) > 0 {
                lastReceive = .now
                try readFrames(handle, limit: 1024)
                return
            }
            let e = AMQPError(.connectionLost, context: "connection", endpoint: endpoint,
                              detail: "no data or heartbeat from the broker for \(3 * handle.heartbeatSeconds) s")
            handle.markBroken(e)
            throw e
        }
    }

    private func drainBuffered(_ handle: AMQPConnectionHandle) throws(AMQPError) {
        if handle.hasBufferedInput { try readFrames(handle, limit: 1024) }
    }

    /// Reads and dispatches up to `limit` complete frames without blocking on the network.
    private func readFrames(_ handle: AMQPConnectionHandle, limit: Int) throws(AMQPError) {
        lastLibraryCall = .now
        var count = 0
        while count < limit, let frame = try handle.nextFrame() {
            lastReceive = .now
            try dispatch(frame, handle)
            count += 1
        }
        handle.releaseBuffers()
    }

    private func dispatch(_ frame: amqp_frame_t, _ handle: AMQPConnectionHandle) throws(AMQPError) {
        if frame.frame_type == UInt8(AMQP_FRAME_METHOD) {
            let method = frame.payload.method
            if frame.channel == 0 {
                switch method.id {
                case AMQPMethod.connectionClose:
                    throw handle.serverClose(method, channel: 0, context: "connection closed by the broker")
                case AMQPMethod.connectionBlocked:
                    let blocked = method.decoded!.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
                    logger.warning("broker blocked the connection", metadata: ["reason": .string(blocked.reason.string)])
                case AMQPMethod.connectionUnblocked:
                    logger.info("broker unblocked the connection")
                default:
                    logger.debug("ignored connection method", metadata: ["amqp.method": .string(String(cString: amqp_method_name(method.id)))])
                }
                return
            }
            if method.id == AMQPMethod.channelClose {
                let error = handle.serverClose(method, channel: frame.channel,
                                               context: "channel \(frame.channel) closed by the broker")
                if try driver?.channelClosed(frame.channel, error: error, handle: handle) == true { return }
                channels[frame.channel]?.open = false
                channels[frame.channel]?.lastError = error
                logger.debug("channel closed by broker", metadata: ["error": "\(error)"])
                return
            }
        }
        if try driver?.handle(frame: frame, handle: handle) == true { return }
        logger.debug("ignored frame", metadata: ["amqp.channel": "\(frame.channel)", "amqp.frame_type": "\(frame.frame_type)"])
    }

    /// Ends the session: the driver fails or settles what it holds, the connection is closed
    /// (politely when `error` is nil) and destroyed, waiters resume, the thread exits.
    private func teardown(error: AMQPError?) {
        guard let handle else { return }
        if let error {
            logger.warning("connection failed", metadata: ["error": "\(error)"])
        }
        // Record the outcome first: whoever the driver resumes sees `isBroken` already set.
        shared.withLock { s in
            s.failure = error ?? AMQPError(.closed, context: "connection closed", endpoint: endpoint)
        }
        driver?.finished(error: error)
        driver = nil
        // A channel-level failure leaves the connection itself sound: close it politely too.
        if handle.brokenError == nil { handle.close(timeout: .seconds(2)) }
        self.handle = nil  // amqp_destroy_connection closes the socket
        channels.removeAll()
        let waiters = shared.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.finished = true
            defer { s.closeWaiters.removeAll() }
            return s.closeWaiters
        }
        for w in waiters { w.resume() }
        thread.shutdown()
    }
}
