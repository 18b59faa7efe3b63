// PostgresPoolStateMachine: the decisions of PostgresPool, without I/O (STYLE rule 4).
//
// Events (acquire, a connection opened or failed to open, release, a waiter timed out, close,
// warm-up, pruning) go in; decisions come out: lease this connection, open one, wait, close
// these, hand this connection to that waiter, let that waiter open its own. The pool performs
// them after releasing its lock. Generic over the connection type so tests run without a server.
//
// Invariants: idle + leased + opening <= maxConnections; waiters exist only while no connection
// is idle; waiters are served first come, first served.

struct PostgresPoolStateMachine<Connection> {
    struct Limits: Sendable {
        var minConnections: Int
        var maxConnections: Int
        /// An idle connection older than this is checked with `SELECT 1` before it is leased.
        var validateAfterIdle: Duration
        /// Idle connections above `minConnections` older than this are closed by `pruneIdle`.
        var idleTimeout: Duration?
    }

    enum AcquireDecision {
        /// Use this connection (after `SELECT 1` when `validate`).
        case lease(Connection, validate: Bool)
        /// Open a connection yourself; report `opened` or `openFailed`.
        case open
        /// Wait: the waiter is queued and will be resumed through `Actions`.
        case wait
        case fail(PostgresError)
    }

    /// What the pool must do after an event, outside its lock.
    struct Actions {
        var close: [Connection] = []
        /// Resume these waiters with a connection.
        var handOver: [(waiter: Int, connection: Connection)] = []
        /// Resume these waiters telling them to open a connection themselves.
        var nominate: [Int] = []
        /// Resume these waiters with an error.
        var fail: [(waiter: Int, error: PostgresError)] = []

        var isEmpty: Bool { close.isEmpty && handOver.isEmpty && nominate.isEmpty && fail.isEmpty }
    }

    struct Counts: Sendable, Equatable {
        var idle: Int
        var leased: Int
        var opening: Int
        var waiting: Int
        var total: Int { idle + leased + opening }
    }

    let limits: Limits
    private var idle: [(connection: Connection, since: ContinuousClock.Instant)] = []
    private var leased = 0
    private var opening = 0
    private var waiters: [Int] = []
    private(set) var isClosed = false

    init(limits: Limits) {
        precondition(limits.maxConnections >= 1 && limits.minConnections >= 0
            && limits.minConnections <= limits.maxConnections)
        self.limits = limits
    }

    var counts: Counts { Counts(idle: idle.count, leased: leased, opening: opening, waiting: waiters.count) }
    private var total: Int { idle.count + leased + opening }

    // MARK: Events

    /// A caller wants a connection. `.wait` queues `waiter`.
    mutating func acquire(waiter: Int, now: ContinuousClock.Instant) -> AcquireDecision {
        if isClosed { return .fail(PostgresError(.poolClosed, message: "the pool is closed")) }
        if waiters.isEmpty, let last = idle.popLast() {
            leased += 1
            return .lease(last.connection, validate: now - last.since > limits.validateAfterIdle)
        }
        if waiters.isEmpty, total < limits.maxConnections {
            opening += 1
            return .open
        }
        waiters.append(waiter)
        return .wait
    }

    /// The caller that got `.open` (or was nominated) now holds a new connection.
    /// Returns false when the pool was closed meanwhile: the caller must close it.
    mutating func opened() -> Bool {
        opening -= 1
        if isClosed { return false }
        leased += 1
        return true
    }

    /// An open attempt (for a caller or for warm-up) failed: the next waiter may try.
    mutating func openFailed() -> Actions {
        opening -= 1
        return nominateWaiters()
    }

    /// A warm-up connection is ready: give it to a waiter or keep it idle.
    mutating func warmOpened(_ connection: Connection, now: ContinuousClock.Instant) -> Actions {
        opening -= 1
        leased += 1
        return release(connection, reusable: true, now: now)
    }

    /// A leased connection comes back; `reusable` is false when it is broken.
    mutating func release(_ connection: Connection, reusable: Bool, now: ContinuousClock.Instant) -> Actions {
        leased -= 1
        var actions = Actions()
        if !reusable || isClosed {
            actions.close.append(connection)
            if !isClosed {
                let more = nominateWaiters()
                actions.nominate = more.nominate
            }
            return actions
        }
        if !waiters.isEmpty {
            leased += 1
            actions.handOver.append((waiters.removeFirst(), connection))
            return actions
        }
        idle.append((connection, now))
        return actions
    }

    /// A waiter gave up (timeout or cancellation). Returns true when it was still waiting,
    /// in which case the caller resumes it with its error.
    mutating func removeWaiter(_ waiter: Int) -> Bool {
        guard let i = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: i)
        return true
    }

    /// How many connections to open now to reach `minConnections` (counted as opening).
    mutating func warmUp() -> Int {
        guard !isClosed else { return 0 }
        let n = max(0, limits.minConnections - total)
        opening += n
        return n
    }

    /// Idle connections beyond `minConnections` idle longer than `idleTimeout`: close them.
    mutating func pruneIdle(now: ContinuousClock.Instant) -> [Connection] {
        guard let timeout = limits.idleTimeout else { return [] }
        var closing: [Connection] = []
        // Oldest first (the front of the LIFO stack).
        while total > limits.minConnections, let first = idle.first, now - first.since > timeout {
            closing.append(idle.removeFirst().connection)
        }
        return closing
    }

    /// Closes the pool: idle connections close, waiters fail, later acquires fail.
    /// Leased connections close when released.
    mutating func close() -> Actions {
        var actions = Actions()
        guard !isClosed else { return actions }
        isClosed = true
        actions.close = idle.map(\.connection)
        idle.removeAll()
        let error = PostgresError(.poolClosed, message: "the pool was closed while waiting for a connection")
        actions.fail = waiters.map { ($0, error) }
        waiters.removeAll()
        return actions
    }

    /// Lets waiters open connections while there is room for them.
    private mutating func nominateWaiters() -> Actions {
        var actions = Actions()
        while !isClosed, !waiters.isEmpty, total < limits.maxConnections {
            opening += 1
            actions.nominate.append(waiters.removeFirst())
        }
        return actions
    }
}
