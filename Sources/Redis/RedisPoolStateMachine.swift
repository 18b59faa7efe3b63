// RedisPoolStateMachine: the bookkeeping of RedisPool, without I/O.
//
// Events come in (acquire, release, connect finished, waiter timed out, close) and decisions
// come out (use this connection, open a new one, fail, close these, resume those waiters); the
// pool performs them after leaving its lock. Generic over the connection type so tests can drive
// it with plain objects.
//
// Connections carry a generation. When one is released after losing its connection (the
// server went away), the generation moves on: idle connections are closed at once and leased
// ones when they come back, so the next caller after a restart gets a fresh connection instead
// of another dead one.

struct RedisPoolStateMachine<Connection> {
    struct Lease {
        let connection: Connection
        let generation: Int
    }

    enum Grant {
        case use(Lease)
        /// A slot is reserved: open a connection, then report `connectSucceeded` / `connectFailed`.
        case connect
        case fail(RedisError)
    }

    struct Actions {
        var close: [Connection] = []
        var resume: [(waiter: Int, grant: Grant)] = []
    }

    let size: Int
    private(set) var gate: ReconnectGate
    private(set) var idle: [Lease] = []
    /// Idle, leased and connecting connections.
    private(set) var open = 0
    private(set) var waiters: [Int] = []
    private(set) var closed = false
    private(set) var generation = 0
    private let endpoint: String

    init(size: Int, gate: ReconnectGate) {
        precondition(size > 0, "pool size must be positive")
        self.size = size
        self.gate = gate
        self.endpoint = gate.endpoint
    }

    /// A caller wants a connection; nil means every slot is busy and the caller must wait.
    mutating func acquire(now: ContinuousClock.Instant) -> Grant? {
        if closed { return .fail(poolClosed()) }
        if let lease = idle.popLast() { return .use(lease) }
        if open < size { return reserveSlot(now: now) }
        return nil
    }

    /// Like `acquire`, but queues `waiter` (FIFO) instead of returning nil.
    mutating func acquire(waiter: Int, now: ContinuousClock.Instant) -> Grant? {
        if let grant = acquire(now: now) { return grant }
        waiters.append(waiter)
        return nil
    }

    /// Removes a waiter that timed out or was cancelled; false if it was already served.
    mutating func removeWaiter(_ waiter: Int) -> Bool {
        guard let index = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: index)
        return true
    }

    /// A reserved slot now has a connection; nil when the pool closed meanwhile (close it).
    mutating func connectSucceeded(_ connection: Connection) -> Lease? {
        gate.succeeded()
        if closed {
            open -= 1
            return nil
        }
        return Lease(connection: connection, generation: generation)
    }

    mutating func connectFailed(_ error: RedisError, now: ContinuousClock.Instant) -> Actions {
        open -= 1
        gate.failed(error, now: now)
        var actions = Actions()
        serveWaitersWithFreeSlots(now: now, into: &actions)
        return actions
    }

    /// A lease comes back; `broken` is the error that broke its connection, if any.
    mutating func release(_ lease: Lease, broken: RedisError?, now: ContinuousClock.Instant) -> Actions {
        var actions = Actions()
        if closed {
            open -= 1
            actions.close.append(lease.connection)
            return actions
        }
        if let broken {
            open -= 1
            actions.close.append(lease.connection)
            if broken.code == .connectionLost {
                generation += 1
                open -= idle.count
                actions.close.append(contentsOf: idle.map(\.connection))
                idle.removeAll()
            }
            serveWaitersWithFreeSlots(now: now, into: &actions)
        } else if lease.generation < generation {
            open -= 1
            actions.close.append(lease.connection)
            serveWaitersWithFreeSlots(now: now, into: &actions)
        } else if !waiters.isEmpty {
            actions.resume.append((waiters.removeFirst(), .use(lease)))
        } else {
            idle.append(lease)
        }
        return actions
    }

    /// Closes the pool: idle connections close now, waiters fail, leased ones close on release.
    mutating func close() -> Actions {
        var actions = Actions()
        guard !closed else { return actions }
        closed = true
        open -= idle.count
        actions.close = idle.map(\.connection)
        idle.removeAll()
        actions.resume = waiters.map { ($0, .fail(poolClosed())) }
        waiters.removeAll()
        return actions
    }

    private mutating func reserveSlot(now: ContinuousClock.Instant) -> Grant {
        switch gate.request(now: now) {
        case .attempt:
            open += 1
            return .connect
        case .refuse(let error):
            return .fail(error)
        }
    }

    /// Hands freed slots to waiters; inside the reconnect backoff every waiter fails fast.
    private mutating func serveWaitersWithFreeSlots(now: ContinuousClock.Instant, into actions: inout Actions) {
        while !waiters.isEmpty && open < size {
            let waiter = waiters.removeFirst()
            actions.resume.append((waiter, reserveSlot(now: now)))
        }
    }

    private func poolClosed() -> RedisError {
        RedisError(.poolClosed, "the Redis pool is closed", endpoint: endpoint)
    }
}

extension RedisPoolStateMachine: Sendable where Connection: Sendable {}
extension RedisPoolStateMachine.Lease: Sendable where Connection: Sendable {}
extension RedisPoolStateMachine.Grant: Sendable where Connection: Sendable {}
extension RedisPoolStateMachine.Actions: Sendable where Connection: Sendable {}
